"""A real Prefect API for the session, and the Dask setups a task runs on.

``cluster`` is parametrised like prefect-dask's task runner fixtures: ``dagen-local`` lets
dagen start (and close) a LocalCluster per run; ``scheduler`` passes the address of a
cluster started once for the session, as a user with their own cluster would.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# before prefect is imported: keep its home, database and telemetry inside the test run
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="dagen-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest
from distributed import LocalCluster
from prefect.testing.utilities import prefect_test_harness

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """An ephemeral Prefect server (SQLite, loopback) that every flow in the session uses."""
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def session_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # the HTTP server Dask starts anyway: loopback
        scheduler_kwargs={"dashboard": False},
    ) as cluster:
        yield cluster


@pytest.fixture(params=["dagen-local", "scheduler"])
def scheduler(request: pytest.FixtureRequest) -> str | None:
    """The ``scheduler=`` argument of the task: None (dagen's own cluster) or an address."""
    if request.param == "dagen-local":
        return None
    return request.getfixturevalue("session_cluster").scheduler_address


@pytest.fixture
def people_config() -> Path:
    return EXAMPLES / "people.yaml"
