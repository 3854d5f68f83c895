"""generate_dataset in real flows against a real (ephemeral) Prefect API."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import dagen
import pandas as pd
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from dagen_prefect import generate_dataset

PEOPLE_COLUMNS = [
    "person", "city", "district", "age", "signup",
    "customer_id", "visits", "greeting", "score", "score_rank",
]  # fmt: skip


@flow(name="people")
def people_flow(config: str, output_dir: str, scheduler: str | None) -> dict[str, Any]:
    return generate_dataset(config, 200, output_dir, scheduler=scheduler, row_group_size=50)


@flow(name="generate-with-state")
def state_flow(kwargs: dict[str, Any], retries: int) -> dict[str, Any]:
    """Runs the task with ``retries`` and reports its outcome instead of failing the flow."""
    task = generate_dataset.with_options(retries=retries, retry_delay_seconds=0)
    state = task(**kwargs, return_state=True)
    outcome: dict[str, Any] = {"task_run_id": str(state.state_details.task_run_id)}
    if state.is_completed():
        outcome["summary"] = state.result()
    else:
        outcome["error"] = state.result(raise_on_failure=False)
    return outcome


def task_run_count(task_run_id: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_task_run(UUID(task_run_id)).run_count


def test_flow_writes_people_and_an_artifact(
    tmp_path: Path, people_config: Path, scheduler: str | None
) -> None:
    out = tmp_path / "people"

    summary = people_flow(str(people_config), str(out), scheduler)

    frame = pd.read_parquet(out / "data")
    assert len(frame) == 200
    assert list(frame.columns) == PEOPLE_COLUMNS
    assert frame["customer_id"].is_unique
    assert sorted(p.name for p in (out / "data").glob("*.parquet")) == [
        f"part-00000{i}.parquet" for i in range(4)
    ]
    assert summary["output_dir"] == str(out)
    assert summary["rows_written"] == 200
    assert summary["rows_dropped"] == 0
    assert summary["fingerprint"] == dagen.load_config(people_config).fingerprint()
    assert summary["wall_seconds"] > 0
    assert summary["usage"] == {}
    assert (summary["status"], summary["resumed"], summary["attempt"]) == ("complete", False, 1)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["dagen-people"]))
        )
    assert artifacts, "no markdown artifact"
    assert artifacts[-1].type == "markdown"
    assert "| rows written | 200 |" in artifacts[-1].data
    assert summary["fingerprint"] in artifacts[-1].data


def test_config_given_as_a_dict(tmp_path: Path, session_cluster: Any) -> None:
    config = {
        "seed": 7,
        "columns": [
            {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
             "params": {"low": 0, "high": 10}, "convert_to": "int"},
            {"name": "label", "column_type": "expression", "expr": "n={{ n }}"},
        ],
    }  # fmt: skip
    kwargs = {
        "config": config,
        "num_records": 120,
        "output_dir": str(tmp_path / "dict"),
        "row_group_size": 50,
        "scheduler": session_cluster.scheduler_address,
    }
    outcome = state_flow(kwargs, retries=0)

    frame = pd.read_parquet(tmp_path / "dict" / "data")
    assert outcome["summary"]["rows_written"] == 120 == len(frame)
    assert (frame["label"] == "n=" + frame["n"].astype(str)).all()


def test_a_folder_it_does_not_own_is_refused_without_retrying(
    tmp_path: Path, people_config: Path
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's")
    kwargs = {"config": str(people_config), "num_records": 50, "output_dir": str(out)}

    outcome = state_flow(kwargs, retries=2)

    assert type(outcome["error"]).__name__ == "OutputDirError"
    assert isinstance(outcome["error"], dagen.DagenError)
    assert task_run_count(outcome["task_run_id"]) == 1  # a retry would have resumed into it
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


FLAKY_FUNCTIONS = '''
"""Row group 2 fails once: after row groups 0 and 1 are checkpointed, like a run that
loses its model credentials mid-way (the key is rotated before the retry)."""
import json, os, time
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


def test_a_retry_resumes_from_the_written_row_groups(tmp_path: Path, scheduler: str | None) -> None:
    out = tmp_path / "flaky-out"
    armed = tmp_path / "armed"
    armed.touch()
    kept = tmp_path / "kept.json"  # (inode, mtime) of parts 0 and 1 when attempt 1 failed
    module = f"flaky_{uuid4().hex[:8]}"  # a fresh module per test: imports are cached
    (tmp_path / f"{module}.py").write_text(
        FLAKY_FUNCTIONS.format(armed=str(armed), out=str(out), kept=str(kept))
    )
    (tmp_path / "flaky.yaml").write_text(
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
    kwargs = {
        "config": str(tmp_path / "flaky.yaml"),
        "num_records": 200,
        "output_dir": str(out),
        "row_group_size": 50,
        "scheduler": scheduler,
    }

    outcome = state_flow(kwargs, retries=1)

    assert not armed.exists(), "the first attempt did not fail"
    assert task_run_count(outcome["task_run_id"]) == 2
    summary = outcome["summary"]
    assert (summary["resumed"], summary["attempt"], summary["status"]) == (True, 2, "complete")
    assert summary["rows_written"] == 200
    frame = pd.read_parquet(out / "data")
    assert len(frame) == 200
    assert (frame["twice"] == frame["n"] * 2).all()
    # row groups 0 and 1 were written by the first attempt and kept, not regenerated
    files = [out / "data" / f"part-{i:06d}.parquet" for i in (0, 1)]
    assert json.loads(kept.read_text()) == [[f.stat().st_ino, f.stat().st_mtime_ns] for f in files]
    assert len(list((out / "data").glob("part-*.parquet"))) == 4


def test_each_row_group_is_a_line_in_the_task_runs_log(tmp_path: Path, people_config: Path) -> None:
    import logging

    from prefect.client.schemas.filters import LogFilter, LogFilterTaskRunId
    from prefect.logging.handlers import APILogHandler

    run_logs = logging.getLogger("prefect.task_runs")
    level = run_logs.level
    run_logs.setLevel(logging.INFO)  # the suite runs Prefect at WARNING; a user's default is INFO
    try:
        outcome = state_flow(
            {"config": str(people_config), "num_records": 120, "output_dir": str(tmp_path / "p"),
             "row_group_size": 50}, retries=0,
        )  # fmt: skip
    finally:
        run_logs.setLevel(level)
    APILogHandler().flush()  # send the queued run logs before reading them back

    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(
                task_run_id=LogFilterTaskRunId(any_=[UUID(outcome["task_run_id"])])
            )
        )
    lines = [log.message for log in logs if log.message.startswith("row group ")]
    data = tmp_path / "p" / "data"
    assert lines == [
        f"row group 1/3 written: 50 rows (0 dropped) -> {data / 'part-000000.parquet'}",
        f"row group 2/3 written: 50 rows (0 dropped) -> {data / 'part-000001.parquet'}",
        f"row group 3/3 written: 20 rows (0 dropped) -> {data / 'part-000002.parquet'}",
    ]
