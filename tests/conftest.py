"""Shared fixtures: a real LocalCluster for the engine tests, and test functions on the path.

The cluster is started once per session (two worker processes on 127.0.0.1, no
dashboard) and shared by every test that asks for ``client``; tests that need their own
cluster (a dying worker, separate processes) start one themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DASK = str(Path(sys.executable).parent / "dask")  # the `dask` command of this environment
ROOT = TESTS.parent

# scenario_functions (custom columns used by tests) must import in worker processes too
sys.path.insert(0, str(TESTS))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture(scope="session")
def client():
    """A Dask client on a real two-worker LocalCluster (processes) on loopback."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=4,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.fixture
def examples() -> Path:
    return ROOT / "examples"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes started as separate commands."""

    def __init__(self, workers: int = 2, nthreads: int = 4) -> None:
        import subprocess
        import time

        from distributed import Client

        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.procs.append(
            subprocess.Popen(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        for _ in range(workers):
            self.add_worker(nthreads, env)
        deadline = time.monotonic() + 60
        with Client(self.address, timeout="30s") as c:
            while len(c.scheduler_info(n_workers=-1)["workers"]) < workers:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("dask workers did not register in 60 s")
                time.sleep(0.2)

    def add_worker(self, nthreads: int = 4, env: dict | None = None):
        import subprocess

        proc = subprocess.Popen(
            [DASK, "worker", self.address, "--host", "127.0.0.1", "--nthreads", str(nthreads),
             "--no-dashboard", "--nworkers", "1", "--no-nanny"],
            env=env or {**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.procs.append(proc)
        self.workers.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except Exception:
                proc.kill()


@pytest.fixture(scope="module")
def dask_processes():
    """Separately started ``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1."""
    procs = DaskProcesses()
    try:
        yield procs
    finally:
        procs.close()
