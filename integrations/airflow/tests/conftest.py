"""An Airflow home with a fresh SQLite metadata database, and DAG files run by ``dag.test()``.

``dag.test()`` (Airflow 3) runs a DAG in this process through Airflow's real task runner,
execution API and XCom backend, but only for DAGs it can sync from the DAGs folder: so each
test writes its DAG as a file there (``run_dag``) and tests the DAG loaded from that file.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

# before airflow is imported: its home, config and database live in a temporary folder
HOME = Path(tempfile.mkdtemp(prefix="dagen-airflow-home-"))
(HOME / "dags").mkdir()
os.environ["AIRFLOW_HOME"] = str(HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(HOME / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"

import pytest  # noqa: E402
from distributed import LocalCluster  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


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
    """The operator's ``scheduler=``: None (dagen's own cluster) or an address."""
    if request.param == "dagen-local":
        return None
    return request.getfixturevalue("session_cluster").scheduler_address


@pytest.fixture
def people_config() -> Path:
    return EXAMPLES / "people.yaml"


@pytest.fixture
def run_dag() -> Callable[[str], Any]:
    """Write a DAG file (``DAG_ID`` in it is replaced by a fresh id), ``dag.test()`` it."""

    def run(source: str) -> Any:
        dag_id = f"dagen_{uuid4().hex[:8]}"
        path = HOME / "dags" / f"{dag_id}.py"
        path.write_text(textwrap.dedent(source).replace("DAG_ID", dag_id))
        spec = importlib.util.spec_from_file_location(dag_id, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag.test()

    return run
