"""A LocalCluster dagen started closes quietly, however the run ended: a worker outlives
the scheduler by a moment, and what Dask logs in that moment is no news to the user. What
Dask logs during the run stays visible. Each case runs in its own process, whose stderr the
worker processes share, as a terminal would."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.cluster

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    from distributed import WorkerPlugin
    from dagen.cluster.clients import open_async_client, open_client
    from dagen.config.run import ClusterSettings

    class ComplainsWhileClosing(WorkerPlugin):
        def teardown(self, worker):
            logging.getLogger("distributed.worker").error("complaint while closing")

    def complain():
        logging.getLogger("distributed.worker").error("complaint during the run")

    async def run_async(settings):
        async with open_async_client(settings=settings) as client:
            await client.register_plugin(ComplainsWhileClosing())
            await client.run(complain)
            if sys.argv[1].startswith("fails"):
                raise ValueError("the run failed")

    if __name__ == "__main__":  # worker processes import this file too
        chosen = {"cluster_class": "local"} if "class" in sys.argv[1] else {}  # ClusterChoice
        settings = ClusterSettings(
            n_workers=1, threads_per_worker=1, dashboard_address=None, **chosen
        )
        if "async" in sys.argv[1]:
            try:
                asyncio.run(run_async(settings))
            except ValueError:
                print("failed as asked")
            sys.exit(0)
        try:
            with open_client(settings=settings) as client:
                client.register_plugin(ComplainsWhileClosing())
                client.run(complain)
                if sys.argv[1].startswith("fails"):
                    raise ValueError("the run failed")
        except ValueError:
            print("failed as asked")
    """
)


ENDINGS = ["done", "fails", "done-async", "fails-async", "done-class", "fails-class-async"]


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_worker_complaining_while_the_cluster_closes_is_not_shown(ending, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)

    result = subprocess.run([sys.executable, str(script), ending], capture_output=True,
                            text=True, timeout=120)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert ("failed as asked" in result.stdout) == ending.startswith("fails")
    assert "complaint during the run" in result.stderr
    assert "complaint while closing" not in result.stderr, result.stderr
