"""Runs through a user's sink on a real LocalCluster: the call order, a failing write, resume.

The sinks here are the test's own, written against the ``dagen.Sink`` protocol only: one
that counts rows per row group (write-only), and a JSON-lines sink (one file per row group
and a metadata file) that can be resumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dagen

pytestmark = pytest.mark.cluster

CONFIG = {
    "seed": 3,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "doubled", "column_type": "custom", "function": "scenario_functions:double"},
    ],
}  # fmt: skip


def config() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(CONFIG)


class RowCounter:
    """Only counts rows per row group, and notes every call it gets, in order."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.rows: dict[int, int] = {}  # row group -> rows written
        self.calls: list[tuple[Any, ...]] = []
        self.fail_at = fail_at

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        self.calls.append(("open", overwrite, resume))

    def read_metadata(self) -> dict[str, Any] | None:
        return None

    def written_row_groups(self) -> set[int]:
        return set(self.rows)

    def write(self, result: dagen.RowGroupResult) -> str | None:
        self.calls.append(("write", result.row_group))
        if result.row_group == self.fail_at:
            raise OSError("the queue is full")
        self.rows[result.row_group] = result.table.num_rows
        return None

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.calls.append(("metadata", metadata["status"], len(metadata["row_groups"])))

    def remove(self, row_group: int) -> None:
        self.calls.append(("remove", row_group))

    def close(self) -> None:
        self.calls.append(("close",))


class JsonLines:
    """``rg-NNNNNN.jsonl`` per row group and ``meta.json`` in a folder; resumable."""

    def __init__(self, folder: Path, fail_at: int | None = None) -> None:
        self.folder = folder
        self.fail_at = fail_at
        self.calls: list[tuple[str, int | None]] = []

    def _file(self, row_group: int) -> Path:
        return self.folder / f"rg-{row_group:06d}.jsonl"

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        self.calls.append(("open", None))
        self.folder.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for path in self.folder.iterdir():
                path.unlink()

    def read_metadata(self) -> dict[str, Any] | None:
        path = self.folder / "meta.json"
        return json.loads(path.read_text()) if path.exists() else None

    def written_row_groups(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.folder.glob("rg-*.jsonl")}

    def write(self, result: dagen.RowGroupResult) -> str | None:
        self.calls.append(("write", result.row_group))
        if result.row_group == self.fail_at:
            raise RuntimeError("the disk said no")
        lines = [json.dumps(row) for row in result.table.to_pylist()]
        self._file(result.row_group).write_text("".join(f"{line}\n" for line in lines))
        return self._file(result.row_group).name

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        (self.folder / "meta.json").write_text(json.dumps(metadata, default=str))

    def remove(self, row_group: int) -> None:
        self.calls.append(("remove", row_group))
        self._file(row_group).unlink()

    def close(self) -> None:
        self.calls.append(("close", None))

    def to_pandas(self) -> pd.DataFrame:
        files = sorted(self.folder.glob("rg-*.jsonl"))
        return pd.concat([pd.read_json(f, lines=True) for f in files], ignore_index=True)


def test_a_users_sink_gets_every_row_group_once_then_the_metadata_then_close(client):
    sink = RowCounter()
    settings = dagen.RunSettings(row_group_size=40, max_concurrent_row_groups=3)

    result = dagen.generate(config(), 130, sink=sink, client=client, settings=settings)

    assert sink.rows == {0: 40, 1: 40, 2: 40, 3: 10}
    writes = [call[1] for call in sink.calls if call[0] == "write"]
    assert sorted(writes) == [0, 1, 2, 3]  # each once, in whatever order they finished
    assert sink.calls[0] == ("open", False, False)
    after_each_write = [sink.calls[i + 1] for i, c in enumerate(sink.calls) if c[0] == "write"]
    assert after_each_write == [("metadata", "running", k) for k in (1, 2, 3, 4)]
    assert sink.calls[-2:] == [("metadata", "complete", 4), ("close",)]
    assert result.output_dir is None and result.num_records == 130
    with pytest.raises(TypeError, match="RowCounter is a write-only sink"):
        result.to_pandas()


def test_a_sink_whose_write_fails_stops_the_run_naming_the_row_group_and_keeps_the_rest(
    client,
):
    sink = RowCounter(fail_at=2)
    settings = dagen.RunSettings(row_group_size=20, max_concurrent_row_groups=1)

    with pytest.raises(
        dagen.CheckpointError, match=r"row group 2: sink RowCounter failed: OSError"
    ):
        dagen.generate(config(), 200, sink=sink, client=client, settings=settings)

    assert sink.rows == {0: 20, 1: 20}  # written before the failure: kept
    assert sink.calls[-2:] == [("metadata", "stopped", 2), ("close",)]


def test_a_run_through_a_non_parquet_sink_resumes_through_the_protocol(client, tmp_path):
    folder = tmp_path / "jsonl"
    settings = dagen.RunSettings(row_group_size=20, max_concurrent_row_groups=1)
    with pytest.raises(dagen.CheckpointError, match="row group 2"):
        dagen.generate(config(), 100, sink=JsonLines(folder, fail_at=2), client=client,
                       settings=settings)  # fmt: skip
    kept = {p.name: p.read_bytes() for p in folder.glob("rg-*.jsonl")}
    assert sorted(kept) == ["rg-000000.jsonl", "rg-000001.jsonl"]
    (folder / "rg-000003.jsonl").write_text('{"half": ')  # an interrupted write, never recorded

    sink = JsonLines(folder)
    result = dagen.generate(config(), 100, sink=sink, client=client, settings=settings,
                            resume=True)  # fmt: skip

    # the stray goes before the sink is opened; only the missing row groups are generated
    assert sink.calls[:2] == [("remove", 3), ("open", None)]
    assert [c[1] for c in sink.calls if c[0] == "write"] == [2, 3, 4]
    assert all((folder / name).read_bytes() == data for name, data in kept.items())
    assert result.metadata["status"] == "complete" and result.num_records == 100
    meta = json.loads((folder / "meta.json").read_text())
    assert [rg["file"] for rg in meta["row_groups"]] == [f"rg-{i:06d}.jsonl" for i in range(5)]
    df = sink.to_pandas()
    assert df["n"].tolist() == list(range(100))
    fresh = dagen.generate(config(), 100, client=client, settings=settings).to_pandas()
    pd.testing.assert_frame_equal(df, fresh, check_dtype=False)


def test_output_dir_and_sink_together_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="output_dir or sink, not both"):
        dagen.generate(config(), 10, tmp_path / "out", sink=RowCounter())
    assert not (tmp_path / "out").exists()
