"""The Dask setups an asset materialises on, like prefect-dask's task runner fixtures.

``dagen-local``: a ``DagenResource()`` that lets dagen start (and close) a LocalCluster per
materialisation; ``scheduler``: a resource holding the address of a cluster started once
for the session.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="dagen-dagster-home-"))

import pytest
from distributed import LocalCluster

from dagen_dagster import DagenResource

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


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


@pytest.fixture
def on_cluster(session_cluster: LocalCluster) -> DagenResource:
    return DagenResource(scheduler=session_cluster.scheduler_address)


@pytest.fixture(params=["dagen-local", "scheduler"])
def resource(request: pytest.FixtureRequest) -> DagenResource:
    if request.param == "dagen-local":
        return DagenResource(n_workers=2, dashboard_address="127.0.0.1:0")
    return request.getfixturevalue("on_cluster")


@pytest.fixture
def people_config() -> Path:
    return EXAMPLES / "people.yaml"
