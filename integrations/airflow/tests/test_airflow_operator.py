"""GenerateDatasetOperator in DAGs run by Airflow's ``dag.test()``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import dagen
import pandas as pd
import pytest

PEOPLE_COLUMNS = [
    "person", "city", "district", "age", "signup",
    "customer_id", "visits", "greeting", "score", "score_rank",
]  # fmt: skip

# the operator, and a downstream task that receives its summary through XCom
DAG_SOURCE = """
import datetime as dt, json, pathlib
from airflow.sdk import DAG, task
from dagen_airflow import GenerateDatasetOperator

with DAG("DAG_ID", schedule=None, start_date=dt.datetime(2025, 1, 1), params={params!r}) as dag:
    generate = GenerateDatasetOperator(task_id="generate", {operator_args})

    @task
    def record(summary):
        pathlib.Path({received!r}).write_text(json.dumps(summary))

    record(generate.output)
"""


def states(dag_run: Any) -> dict[str, tuple[str, int]]:
    """task id -> (state, try number)."""
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in dag_run.get_task_instances()}


def test_dag_writes_people_and_pushes_the_summary(
    tmp_path: Path, people_config: Path, scheduler: str | None, run_dag: Callable[[str], Any]
) -> None:
    received = tmp_path / "received.json"
    operator_args = (
        f"config={str(people_config)!r}, num_records=200, row_group_size=50, "
        # templated: rendered by Airflow from the DAG's params
        f"output_dir='{{{{ params.root }}}}/people', scheduler={scheduler!r}"
    )

    dag_run = run_dag(
        DAG_SOURCE.format(
            params={"root": str(tmp_path)}, operator_args=operator_args, received=str(received)
        )
    )

    assert states(dag_run) == {"generate": ("success", 1), "record": ("success", 1)}
    frame = pd.read_parquet(tmp_path / "people" / "data")
    assert len(frame) == 200
    assert list(frame.columns) == PEOPLE_COLUMNS
    summary = json.loads(received.read_text())
    assert summary["output_dir"] == str(tmp_path / "people")
    assert (summary["rows_written"], summary["rows_dropped"]) == (200, 0)
    assert summary["fingerprint"] == dagen.load_config(people_config).fingerprint()
    assert summary["wall_seconds"] > 0
    assert summary["usage"] == {}
    assert (summary["status"], summary["resumed"], summary["try_number"]) == ("complete", False, 1)


def test_a_folder_it_does_not_own_fails_without_retrying(
    tmp_path: Path, people_config: Path, run_dag: Callable[[str], Any]
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's")
    operator_args = (
        f"config={str(people_config)!r}, num_records=50, output_dir={str(out)!r}, "
        "retries=2, retry_delay=dt.timedelta(0)"
    )

    dag_run = run_dag(
        DAG_SOURCE.format(params={}, operator_args=operator_args, received=str(tmp_path / "x"))
    )

    assert states(dag_run)["generate"] == ("failed", 1)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


FLAKY_FUNCTIONS = '''
"""Row group 2 fails once, after row groups 0 and 1 are checkpointed."""
import json, time
from pathlib import Path

from dagen.errors import ModelAuthError

ARMED = Path({armed!r})
OUT = Path({out!r})
KEPT = Path({kept!r})


def flaky(df, context):
    if context.row_group == 2 and ARMED.exists():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (OUT / "metadata.json").exists():
                meta = json.loads((OUT / "metadata.json").read_text())
                if {{0, 1}} <= {{rg["index"] for rg in meta["row_groups"]}}:
                    break
            time.sleep(0.05)
        files = [OUT / "data" / f"part-{{i:06d}}.parquet" for i in (0, 1)]
        KEPT.write_text(json.dumps([[f.stat().st_ino, f.stat().st_mtime_ns] for f in files]))
        ARMED.unlink()
        raise ModelAuthError("credentials rejected (simulated)")
    return df["n"] * 2
'''


@pytest.mark.parametrize("scheduler", ["scheduler"], indirect=True)
def test_a_retry_resumes_from_the_written_row_groups(
    tmp_path: Path, scheduler: str | None, run_dag: Callable[[str], Any]
) -> None:
    out, armed, kept = tmp_path / "flaky-out", tmp_path / "armed", tmp_path / "kept.json"
    armed.touch()
    module = f"flaky_{uuid4().hex[:8]}"  # a fresh module per test: imports are cached
    (tmp_path / f"{module}.py").write_text(
        FLAKY_FUNCTIONS.format(armed=str(armed), out=str(out), kept=str(kept))
    )
    config = tmp_path / "flaky.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            seed: 3
            columns:
              - {name: n, column_type: sampler, sampler_type: uniform,
                 params: {low: 0, high: 100}, convert_to: int}
              - {name: twice, column_type: custom, function: "MODULE:flaky",
                 generation_strategy: full_column}
            """
        ).replace("MODULE", module)
    )
    received = tmp_path / "received.json"
    operator_args = (
        f"config={str(config)!r}, num_records=200, row_group_size=50, "
        f"output_dir={str(out)!r}, scheduler={scheduler!r}, "
        "retries=1, retry_delay=dt.timedelta(0)"
    )

    dag_run = run_dag(
        DAG_SOURCE.format(params={}, operator_args=operator_args, received=str(received))
    )

    assert not armed.exists(), "the first try did not fail"
    assert states(dag_run)["generate"] == ("success", 2)
    summary = json.loads(received.read_text())
    assert (summary["resumed"], summary["try_number"], summary["rows_written"]) == (True, 2, 200)
    frame = pd.read_parquet(out / "data")
    assert len(frame) == 200
    assert (frame["twice"] == frame["n"] * 2).all()
    files = [out / "data" / f"part-{i:06d}.parquet" for i in (0, 1)]
    assert json.loads(kept.read_text()) == [[f.stat().st_ino, f.stat().st_mtime_ns] for f in files]
