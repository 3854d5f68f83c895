"""The dataset on disk is never lost or damaged: overwrites, resumes, locks, one schema.

Every test asserts on the files on disk: the old dataset byte for byte where a failed run
must leave it, the rows of the new one where a run succeeds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
import pyarrow.dataset as ds
import pytest
import yaml

import dagen
from dagen.errors import EarlyShutdownError, OutputDirError

pytestmark = pytest.mark.cluster

SLOW = {
    "seed": 5,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "sq", "column_type": "custom", "function": "scenario_functions:slow_square"},
    ],
}  # fmt: skip


def config(**changes) -> dagen.DatasetConfig:
    data = json.loads(json.dumps(SLOW))
    for i, function in changes.items():
        data["columns"][int(i[1:])]["function"] = function
    return dagen.DatasetConfig.from_dict(data)


def write_config(folder: Path, data: dict) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagen.cli", "run", *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _ctrl_c_reaches_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_background(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagen.cli", "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_ctrl_c_reaches_it,
    )  # fmt: skip


def wait_for_files(folder: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("part-*.parquet"))) < count:
        assert time.monotonic() < deadline, f"fewer than {count} parts in {folder} in {timeout}s"
        time.sleep(0.05)


@pytest.fixture
def old(client, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A complete dataset of 400 rows in ``tmp_path/out``, and its files' bytes."""
    out = tmp_path / "out"
    dagen.generate(
        config(), 400, out, client=client, settings=dagen.RunSettings(row_group_size=100)
    )
    return out, snapshot(out)


# -- overwrite -----------------------------------------------------------------------------


def test_an_overwrite_that_cannot_reach_its_scheduler_leaves_the_old_dataset(old, tmp_path):
    out, before = old
    cfg = write_config(tmp_path, SLOW)

    ran = cli(str(cfg), "-n", "50", "-o", str(out), "--overwrite",
              "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip

    assert ran.returncode == 1 and "cannot reach the Dask scheduler" in ran.stderr
    assert snapshot(out) == before  # byte for byte, and no lock or staging left


def test_an_overwrite_stopped_mid_run_leaves_the_old_dataset(old, client):
    out, before = old
    with pytest.raises(EarlyShutdownError):
        dagen.generate(config(c1="scenario_functions:fail_from_300"), 2000, out, client=client,
                       overwrite=True, settings=dagen.RunSettings(row_group_size=100))  # fmt: skip
    assert snapshot(out) == before


def test_an_overwrite_where_every_row_is_dropped_leaves_the_old_dataset(old, client, caplog):
    out, before = old
    cfg = dagen.DatasetConfig.from_dict({"seed": 1, "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "bad", "column_type": "custom", "function": "scenario_functions:fail_on_multiples_of_seven"},
    ]})  # fmt: skip
    result = dagen.generate(cfg, 1, out, client=client, overwrite=True)  # row 0: 0 % 7 == 0
    assert result.num_records == 0
    assert snapshot(out) == before
    assert "the dataset already in" in caplog.text


def test_ctrl_c_during_an_overwrite_leaves_the_old_dataset(old, tmp_path):
    out, before = old
    cfg = write_config(tmp_path, SLOW)
    proc = cli_background(str(cfg), "-n", "3000", "-o", str(out), "--overwrite",
                          "--row-group-size", "100", "--dashboard-address", "127.0.0.1:0")  # fmt: skip
    wait_for_files(out / ".dagen-staging" / "data", 2)
    assert snapshot(out / "data") == {k[5:]: v for k, v in before.items() if k.startswith("data/")}
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert snapshot(out) == before
    assert "the new run is discarded" in str(stderr) and "--resume" not in str(stderr)


def test_a_complete_overwrite_replaces_the_dataset(old, client):
    out, _ = old
    dagen.generate(config(), 150, out, client=client, overwrite=True,
                   settings=dagen.RunSettings(row_group_size=100))  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["data", "metadata.json"]
    assert pd.read_parquet(out / "data")["n"].tolist() == list(range(150))
    assert json.loads((out / "metadata.json").read_text())["rows_written"] == 150


# -- resume --------------------------------------------------------------------------------


def test_resume_regenerates_a_damaged_part_and_the_dataset_reads_again(old, tmp_path):
    out, before = old
    (out / "data" / "part-000001.parquet").write_bytes(os.urandom(2000))
    with (out / "data" / "part-000003.parquet").open("r+b") as fh:
        fh.truncate(200)
    cfg = write_config(tmp_path, SLOW)

    ran = cli(str(cfg), "-n", "400", "-o", str(out), "--row-group-size", "100", "--resume",
              "--dashboard-address", "127.0.0.1:0")  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert "part-000001.parquet is damaged" in ran.stderr
    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(400)) and (df["sq"] == df["n"] ** 2).all()
    for kept in ("data/part-000000.parquet", "data/part-000002.parquet"):
        assert (out / kept).read_bytes() == before[kept]  # intact parts were not touched
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["rows_written"] == 400


@pytest.mark.parametrize("text", ['{"status": "running", "row_gro', "[]", '{"seed": "x"}'])
def test_resume_over_an_unreadable_metadata_file_is_a_clear_error(old, tmp_path, text):
    out, _ = old
    (out / "metadata.json").write_text(text)
    before = snapshot(out)
    cfg = write_config(tmp_path, SLOW)

    ran = cli(str(cfg), "-n", "400", "-o", str(out), "--row-group-size", "100", "--resume")

    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert "metadata" in ran.stderr and "--overwrite" in ran.stderr
    assert snapshot(out) == before


# -- one run at a time ---------------------------------------------------------------------


def test_a_folder_in_use_is_refused_and_a_killed_runs_lock_is_taken_over(client, tmp_path):
    out = tmp_path / "out"
    cfg = write_config(tmp_path, SLOW)
    first = cli_background(str(cfg), "-n", "3000", "-o", str(out), "--row-group-size", "100",
                           "--dashboard-address", "127.0.0.1:0")  # fmt: skip
    try:
        wait_for_files(out / "data", 1)
        with pytest.raises(OutputDirError, match=rf"in use by run r\w+ \(pid {first.pid} on"):
            dagen.generate(config(), 100, out, client=client, resume=True,
                           settings=dagen.RunSettings(row_group_size=100))  # fmt: skip
    finally:
        first.kill()  # SIGKILL: its lock stays behind, naming a dead process
        first.wait()
    assert (out / ".dagen.lock").exists()

    dagen.generate(config(), 3000, out, client=client, resume=True,
                   settings=dagen.RunSettings(row_group_size=100))  # fmt: skip

    assert pd.read_parquet(out / "data")["n"].tolist() == list(range(3000))
    assert sorted(p.name for p in out.iterdir()) == ["data", "metadata.json"]


def test_a_run_names_itself_in_its_metadata_before_its_first_row_group_is_recorded(
    client, tmp_path
):
    # a run killed between writing its first part and recording it must leave metadata,
    # or --resume could not tell that part from a stranger's data
    out = tmp_path / "out"
    seen: list[dict] = []

    def at_the_first(event: dagen.RowGroupEvent) -> None:  # written, not yet recorded
        if not seen:
            seen.append(json.loads((out / "metadata.json").read_text()))

    dagen.generate(config(), 200, out, client=client, on_row_group=at_the_first,
                   settings=dagen.RunSettings(row_group_size=100))  # fmt: skip

    assert seen[0]["status"] == "running" and seen[0]["row_groups"] == []


def test_a_run_that_never_reached_its_scheduler_leaves_no_folder(client, tmp_path):
    out = tmp_path / "new" / "out"
    ran = cli(str(write_config(tmp_path, SLOW)), "-n", "50", "-o", str(out),
              "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip
    assert ran.returncode == 1
    assert not (tmp_path / "new").exists()
    dagen.generate(config(), 50, out, client=client)  # not refused as "not empty"
    assert len(pd.read_parquet(out / "data")) == 50


# -- worker resources ----------------------------------------------------------------------


def test_a_runs_model_resources_are_removed_from_the_workers(client, server, tmp_path):
    cfg = dagen.DatasetConfig.from_dict({"seed": 1, "models": [
        {"alias": "writer", "model": "mock-writer", "endpoint": server.url,
         "max_parallel_requests": 4}],
        "columns": [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                     "prompt": "Say hi"}]})  # fmt: skip

    def on_workers(dask_worker):
        return {r for r in dask_worker.state.total_resources if r.startswith("dagen-")}

    def on_scheduler(dask_scheduler):
        per_worker = {r for ws in dask_scheduler.workers.values() for r in ws.resources}
        return {r for r in per_worker | set(dask_scheduler.resources) if r.startswith("dagen-")}

    def held() -> tuple[set[str], set[str]]:
        on_all = set().union(*client.run(on_workers).values())
        return on_all, client.run_on_scheduler(on_scheduler)

    before = held()  # other tests' runs may have left theirs on this shared cluster
    for _ in range(2):
        dagen.generate(cfg, 10, None, client=client)
    assert held() == before


# -- one schema ----------------------------------------------------------------------------


def test_a_column_null_in_the_first_row_group_reads_with_pandas_pyarrow_and_dask(client, tmp_path):
    out = tmp_path / "out"
    cfg = config(c1="scenario_functions:none_below_100")
    dagen.generate(cfg, 300, out, client=client, settings=dagen.RunSettings(row_group_size=100))
    dagen.generate(cfg, 400, out, client=client, resume=True,
                   settings=dagen.RunSettings(row_group_size=100))  # fmt: skip

    expected = [None] * 100 + [n * 2 for n in range(100, 400)]
    by_pandas = pd.read_parquet(out / "data")
    by_arrow = ds.dataset(out / "data").to_table().to_pandas()
    by_dask = dd.read_parquet(str(out / "data")).compute()
    for df in (by_pandas, by_arrow, by_dask):
        assert [None if pd.isna(v) else int(v) for v in df["sq"]] == expected
    assert {str(ds.dataset(p).schema.field("sq").type) for p in (out / "data").iterdir()} == {
        "int64"
    }
    assert json.loads((out / "metadata.json").read_text())["schema"]["columns"]["sq"] == "int64"
