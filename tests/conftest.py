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
            threads_per_worker=16,  # model cells hold a slot while their calls wait
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


from clusters import DaskProcesses  # noqa: E402  (tests/ is on sys.path from here on)

# graph_shapes: chain, fan_out_fan_in, diamond; mock_servers: the mock model server process;
# browser: headless Chromium for pages; peer: Data Designer in its own venv;
# validator_service: a small HTTP validation service
pytest_plugins = ["browser", "graph_shapes", "mock_servers", "peer", "validator_service"]


@pytest.fixture
def examples() -> Path:
    return ROOT / "examples"


@pytest.fixture(scope="module")
def dask_processes():
    """Separately started ``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1."""
    procs = DaskProcesses()
    try:
        yield procs
    finally:
        procs.close()
