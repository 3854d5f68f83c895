"""Runs on a cluster dagen starts from a class (``--cluster``, ``ClusterSettings``).

The class is ``recorded_cluster.RecordedCluster``, a LocalCluster named by dotted path as
any user class would be, which says when it started and closed. dagen makes it with the
options given, waits for its workers, and closes it however the run ends: complete,
failed, Ctrl-C, or workers that never come.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from recorded_cluster import STARTED

import dagen
from dagen.errors import CallbackError, ClusterError
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

RECORDED = "recorded_cluster.RecordedCluster"


def on_cluster(row_group_size: int = 100, **fields) -> dagen.RunSettings:
    return dagen.RunSettings(
        row_group_size=row_group_size,
        cluster=dagen.ClusterSettings(dashboard_address=None, **fields),
    )


@pytest.fixture
def started():
    STARTED.clear()
    yield STARTED
    for cluster in STARTED:  # a failing test must not leave processes behind
        cluster.close()


def test_a_cluster_class_by_path_is_made_with_its_options_used_and_closed(examples, started):
    cfg = dagen.load_config(examples / "people.yaml")
    settings = on_cluster(
        cluster_class=RECORDED, cluster_kwargs={"n_workers": 2, "threads_per_worker": 3}
    )

    seen = []  # threads of each worker, as a row group is written

    def on_row_group(event):
        seen.append(sorted(w["nthreads"] for w in started[0].scheduler_info["workers"].values()))

    result = dagen.generate(cfg, 300, None, settings=settings, on_row_group=on_row_group)

    assert len(result.to_pandas()) == 300
    [cluster] = started
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")  # dagen's local default
    assert seen == [[3, 3]] * 3
    assert cluster.status.name == "closed"


def test_a_run_that_fails_closes_the_cluster_it_started(examples, started):
    cfg = dagen.load_config(examples / "people.yaml")

    def broken(event):
        raise RuntimeError("the caller's callback broke")

    with pytest.raises(CallbackError, match="callback broke"):
        dagen.generate(
            cfg, 400, None, settings=on_cluster(cluster_class=RECORDED,
                                                cluster_kwargs={"n_workers": 1}),
            on_row_group=broken,
        )  # fmt: skip

    [cluster] = started
    assert cluster.status.name == "closed"


def test_workers_that_never_come_stop_the_run_in_time_saying_what_to_check(examples, started):
    cfg = dagen.load_config(examples / "people.yaml")
    began = time.monotonic()

    with pytest.raises(ClusterError) as caught:
        dagen.generate(
            cfg, 10, None,
            settings=on_cluster(cluster_class=RECORDED, cluster_kwargs={"n_workers": 0},
                                start_timeout=1.5),
        )  # fmt: skip

    message = str(caught.value)
    assert time.monotonic() - began < 20
    assert message.startswith(
        f"RecordedCluster ({RECORDED}) started its scheduler at tcp://127.0.0.1:"
    )
    assert "0 of 1 worker(s) connected in 2 s" in message
    assert "the queue" in message and "n_workers=0" in message and "--cluster-timeout" in message
    [cluster] = started
    assert cluster.status.name == "closed"


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [("slurm", "dask_jobqueue", "slurm"), ("pbs", "dask_jobqueue", "pbs"),
     ("gateway", "dask_gateway", "gateway"), ("kubernetes", "dask_kubernetes", "kubernetes")],
)  # fmt: skip
def test_a_short_name_whose_package_is_missing_names_the_extra_to_install(
    examples, monkeypatch, name, module, extra
):
    for loaded in [m for m in sys.modules if m.startswith(module + ".")] + [module]:
        monkeypatch.setitem(sys.modules, loaded, None)  # not installed, whatever is loaded
    cfg = dagen.load_config(examples / "people.yaml")

    with pytest.raises(ClusterError, match=rf"pip install 'dagen\[{extra}\]'") as caught:
        dagen.generate(cfg, 10, None, settings=on_cluster(cluster_class=name))
    assert f"cluster {name!r} needs the module '{module}" in str(caught.value)


@pytest.mark.parametrize(
    ("cluster_class", "kwargs", "message"),
    [
        (RECORDED, {"n_workers": 1, "no_such_option": 3},
         "RecordedCluster (recorded_cluster.RecordedCluster) refuses option 'no_such_option'"),
        ("os.path", {}, "cluster 'os.path': os.path is not a class"),
        ("no_such_package.Cluster", {}, "needs the module 'no_such_package'"),
        ("Cluster", {}, "neither a short name (local, slurm, pbs, gateway, kubernetes)"),
    ],
)  # fmt: skip
def test_a_cluster_that_cannot_be_made_is_a_cluster_error_naming_the_fault(
    examples, started, cluster_class, kwargs, message
):
    cfg = dagen.load_config(examples / "people.yaml")

    with pytest.raises(ClusterError) as caught:
        dagen.generate(
            cfg, 10, None, settings=on_cluster(cluster_class=cluster_class, cluster_kwargs=kwargs)
        )
    assert message in str(caught.value)
    assert all(cluster.status.name == "closed" for cluster in started)


def test_a_cluster_class_with_a_scheduler_address_is_refused(examples, dask_processes):
    cfg = dagen.load_config(examples / "people.yaml")

    with pytest.raises(ValueError, match="give a scheduler address or a cluster class"):
        dagen.generate(cfg, 10, None, scheduler=dask_processes.address,
                       settings=on_cluster(cluster_class="slurm"))  # fmt: skip


# -- the command line ------------------------------------------------------------------


def dagen_cli(*args: str, log: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "DAGEN_TEST_CLUSTER_LOG": str(log)}
    return subprocess.Popen(
        [sys.executable, "-m", "dagen.cli", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )  # fmt: skip


def test_cli_starts_the_cluster_of_a_cluster_file_with_options_and_adapt_and_closes_it(
    examples, tmp_path
):
    file = tmp_path / "cluster.yaml"
    file.write_text(
        f"cluster_class: {RECORDED}\ncluster_kwargs: {{threads_per_worker: 2}}\n"
        "adapt_kwargs: {minimum: 0, maximum: 1}\ntimeout: 60\n"
    )
    log, out = tmp_path / "cluster.log", tmp_path / "people"

    proc = dagen_cli(
        "run", str(examples / "people.yaml"), "-n", "600", "-o", str(out), "-v",
        "--row-group-size", "200", "--cluster-file", str(file), "--adapt", "1:2",
        "--cluster-option", "processes=true", "--dashboard-address", "127.0.0.1:0", log=log,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=180)

    assert proc.returncode == 0, stderr
    assert "wrote 600 of 600 rows" in stdout
    assert f"started RecordedCluster ({RECORDED})" in stderr
    assert "adapting 1 to 2 workers" in stderr  # --adapt replaced the file's bounds
    lines = log.read_text().splitlines()
    assert lines[0].startswith("started tcp://127.0.0.1:") and lines[-1] == "closed"


def test_cli_rejects_a_malformed_cluster_option_and_adapt_before_anything_starts(
    examples, tmp_path
):
    for args, message in (
        (
            ["--cluster-option", "cores"],
            "Invalid value for --cluster-option: cluster option 'cores'",
        ),
        (["--adapt", "5:2"], "Invalid value for --adapt"),
    ):
        proc = dagen_cli("run", str(examples / "people.yaml"), "-n", "5", "-o",
                         str(tmp_path / "o"), *args, log=tmp_path / "log")  # fmt: skip
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2 and message in stderr, stderr
        assert not (tmp_path / "log").exists()


def _ctrl_c_reaches_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in a terminal (not a background shell)


def test_ctrl_c_closes_the_cluster_dagen_started_and_leaves_no_process(tmp_path):
    log, out = tmp_path / "cluster.log", tmp_path / "slow"
    with MockServerProcess(MockServerSettings(port=0, latency=0.5)) as server:
        config = tmp_path / "slow.yaml"
        config.write_text(
            f"models: [{{alias: m, model: mock-writer, endpoint: '{server.url}', "
            "max_parallel_requests: 4}]\n"
            "columns:\n"
            "  - {name: n, column_type: sampler, sampler_type: uniform, params: {low: 0, high: 9}}\n"
            "  - {name: line, column_type: llm-text, model_alias: m, prompt: 'About {{ n }}'}\n"
        )
        proc = dagen_cli(
            "run", str(config), "-n", "2000", "-o", str(out), "-q", "--row-group-size", "50",
            "--cluster", RECORDED, "--cluster-option", "n_workers=2", log=log,
            start_new_session=True, preexec_fn=_ctrl_c_reaches_it,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while server.stats()["requests"] < 8:  # the run is calling the model
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        children = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 130, stderr
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    assert log.read_text().splitlines()[-1] == "closed", log.read_text()
