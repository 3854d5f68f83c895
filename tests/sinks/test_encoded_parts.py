"""A row group's parquet part is encoded where the row group was assembled: the checkpoint
task on a worker encodes the table for a sink that stores parquet parts, and the sink
writes those bytes as they are. The client never re-encodes a table it did not change;
a table it did change (a column's type learned since, image values stored as files) is
encoded again from what will be stored, never from the worker's stale bytes."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagen.config.dataset import DatasetConfig
from dagen.errors import CheckpointError
from dagen.generators.base import ColumnBlock
from dagen.sinks.assemble import (
    AssemblySpec,
    RowGroupResult,
    assemble_row_group,
    encoded,
    to_parquet,
)
from dagen.sinks.base import guarded, parts_of
from dagen.sinks.files import FolderSink
from dagen.sinks.jsonl import JsonlSink
from dagen.sinks.parquet import MemorySink, ParquetSink
from dagen.sinks.schema import ColumnTypes

SPEC = AssemblySpec(columns=("city", "age"), outputs={"city": ("city",), "age": ("age",)})


def _assembled(rows: int = 3, part_format: str | None = "parquet") -> RowGroupResult:
    blocks = {
        "city": ColumnBlock(pd.DataFrame({"city": ["Oslo", "Lima", "Pune"][:rows]})),
        "age": ColumnBlock(pd.DataFrame({"age": [31, 47, 52][:rows]})),
    }
    result = assemble_row_group(blocks, SPEC, row_group=4, size=rows)
    return encoded(result, part_format)


def test_the_checkpoint_encodes_the_table_as_the_part_a_parquet_sink_stores():
    result = _assembled()
    assert result.parquet == to_parquet(result.table, 4)
    assert pq.read_table(io.BytesIO(result.parquet)).equals(result.table)


def test_nothing_is_encoded_for_a_sink_that_encodes_itself_or_for_no_rows():
    assert _assembled(part_format=None).parquet is None
    assert _assembled(rows=0).parquet is None


def test_a_sink_says_which_parts_it_stores_guarded_or_not(tmp_path):
    assert parts_of(ParquetSink(tmp_path / "a")) == "parquet"
    assert parts_of(guarded(ParquetSink(tmp_path / "b"))) == "parquet"
    assert parts_of(FolderSink(str(tmp_path / "c"))) == "parquet"
    assert parts_of(MemorySink()) is None
    assert parts_of(JsonlSink(tmp_path / "d")) is None


def test_the_parquet_sink_writes_the_workers_bytes_as_they_are(tmp_path):
    result = _assembled()
    worker_bytes = b"PAR1" + b"not re-encoded" + b"PAR1"  # what the sink is handed, kept
    sink = ParquetSink(tmp_path / "out")
    sink.open()
    record = sink.write(RowGroupResult(**{**vars(result), "parquet": worker_bytes}))
    assert record is not None
    part = tmp_path / "out" / "data" / record["file"]
    assert part.read_bytes() == worker_bytes
    assert record["sha256"] == hashlib.sha256(worker_bytes).hexdigest()


def test_a_table_changed_on_the_client_loses_the_workers_bytes():
    result = _assembled()
    same = result.with_table(result.table)
    assert same.parquet == result.parquet
    changed = result.with_table(result.table.slice(0, 2))
    assert changed.parquet is None
    assert pq.read_table(io.BytesIO(changed.part())).num_rows == 2


def test_conforming_keeps_the_table_and_its_bytes_when_every_type_is_known():
    types = ColumnTypes({"city": pa.string(), "age": pa.int64()})
    table = pa.table({"city": ["Oslo"], "age": [31]})
    assert types.conform(table, row_group=0) is table
    nulls = pa.table({"city": pa.nulls(1, pa.string()), "age": [31]})
    assert types.conform(nulls, row_group=0) is nulls


def test_conforming_a_column_to_a_type_learned_earlier_makes_a_new_table():
    types = ColumnTypes({"score": pa.float64()})
    table = pa.table({"score": [1, 2]})  # ints in this row group: stored as the floats
    conformed = types.conform(table, row_group=1)
    assert conformed is not table
    assert conformed.schema.field("score").type == pa.float64()
    result = RowGroupResult(1, 2, 2, table, parquet=to_parquet(table, 1))
    stored = pq.read_table(io.BytesIO(result.with_table(conformed).part()))
    assert stored.schema.field("score").type == pa.float64()


def test_a_value_parquet_cannot_hold_is_left_to_the_sink_which_names_the_row_group():
    table = pa.table({"s": pa.array([{}], type=pa.struct([]))})  # a struct with no field
    result = encoded(RowGroupResult(7, 1, 1, table), "parquet")
    assert result.parquet is None
    with pytest.raises(CheckpointError, match="row group 7: values cannot be stored in parquet"):
        result.part()


class SeenParts(ParquetSink):
    """A parquet sink noting whether each row group came with the worker's bytes."""

    def __init__(self, output_dir):
        super().__init__(output_dir)
        self.encoded: dict[int, bool] = {}

    def write(self, result):
        self.encoded[result.row_group] = result.parquet is not None
        return super().write(result)


@pytest.mark.cluster
def test_a_run_into_a_folder_writes_the_parts_the_workers_encoded(tmp_path, client):
    import dagen

    config = DatasetConfig.from_dict(
        {
            "seed": 3,
            "columns": [
                {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
                 "params": {"low": 0, "high": 9}, "convert_to": "int"},
                {"name": "label", "column_type": "expression", "expr": "n={{ n }}"},
            ],
        }
    )  # fmt: skip
    settings = dagen.RunSettings(row_group_size=50)
    sink = SeenParts(tmp_path / "out")
    result = dagen.generate(config, 120, sink=sink, client=client, settings=settings)
    assert sink.encoded == {0: True, 1: True, 2: True}
    parts = sorted((tmp_path / "out" / "data").glob("part-*.parquet"))
    assert [pq.read_metadata(p).num_rows for p in parts] == [50, 50, 20]
    frame = result.to_pandas()
    assert (frame["label"] == "n=" + frame["n"].astype(str)).all()
    again = dagen.generate(
        config, 120, tmp_path / "again", client=client, settings=settings
    )  # the same seed: the same bytes, wherever they were encoded
    assert [p.read_bytes() for p in parts] == [
        p.read_bytes() for p in sorted((tmp_path / "again" / "data").glob("part-*.parquet"))
    ]
    assert again.to_pandas().equals(frame)
