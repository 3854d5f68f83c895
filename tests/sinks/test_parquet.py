"""The parquet sink: an output folder of atomically written, row-ordered part files."""

from __future__ import annotations

import errno
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagen.errors import CheckpointError, OutputDirError, ResumeError
from dagen.generators import CellFailure
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import ReadableSink
from dagen.sinks.parquet import MemorySink, ParquetSink, part_name


def every_file(folder) -> list[str]:
    """Every file under ``folder``, hidden ones included, relative and sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def sink(tmp_path) -> ParquetSink:
    sink = ParquetSink(tmp_path / "out")
    sink.open()
    return sink


def cities(*names: str) -> pd.DataFrame:
    return pd.DataFrame({"city": list(names)})


def dropped(row_group: int, *rows: int) -> dict[int, CellFailure]:
    return {r: CellFailure("city", row_group, r, "ValueError", "no city") for r in rows}


def fail(*args, **kwargs):
    raise OSError(errno.EIO, "Input/output error")


# -- opening -------------------------------------------------------------------------------


def test_opening_a_new_folder_creates_it_with_an_empty_data_folder(tmp_path):
    sink = ParquetSink(tmp_path / "runs" / "people")
    sink.open()
    assert sink.data_dir == tmp_path / "runs" / "people" / "data"
    assert sink.data_dir.is_dir()
    assert every_file(sink.output_dir) == []


def test_a_folder_with_data_is_refused_without_overwrite(sink, result):
    sink.write(result(0, cities("Oslo")))
    sink.write_metadata({"status": "complete"})
    with pytest.raises(OutputDirError, match=r"not empty.*overwrite"):
        ParquetSink(sink.output_dir).open()
    assert every_file(sink.output_dir) == ["data/part-000000.parquet", "metadata.json"]


def snapshot(folder) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {name: (folder / name).read_bytes() for name in every_file(folder)}


@pytest.fixture
def old_dataset(sink, result):
    """A complete dataset of two parts (and a file of the user's) in ``sink``'s folder."""
    sink.write(result(0, cities("Oslo")))
    sink.write(result(1, cities("Lima")))
    sink.write_metadata({"status": "complete", "rows_written": 2})
    (sink.output_dir / "notes.txt").write_text("mine")
    return snapshot(sink.output_dir)


def test_an_overwrite_writes_beside_the_old_dataset_until_it_completes(sink, result, old_dataset):
    again = ParquetSink(sink.output_dir)
    again.open(overwrite=True)
    again.write(result(0, cities("Pune", "Rome", "Kyiv")))
    again.write_metadata({"status": "running", "rows_written": 3})
    assert {k: v for k, v in snapshot(sink.output_dir).items() if not k.startswith(".")} == (
        old_dataset
    )

    again.write_metadata({"status": "complete", "rows_written": 3})
    again.close()
    assert every_file(sink.output_dir) == ["data/part-000000.parquet", "metadata.json", "notes.txt"]
    assert pd.read_parquet(sink.output_dir / "data")["city"].tolist() == ["Pune", "Rome", "Kyiv"]
    assert again.read_metadata()["rows_written"] == 3


@pytest.mark.parametrize("ending", ["stopped", "no metadata", "complete without rows"])
def test_an_overwrite_that_does_not_complete_leaves_the_old_dataset_byte_for_byte(
    sink, result, old_dataset, ending
):
    again = ParquetSink(sink.output_dir)
    again.open(overwrite=True)
    if ending == "stopped":
        again.write(result(0, cities("Pune")))
        again.write_metadata({"status": "stopped", "rows_written": 1})
    elif ending == "complete without rows":
        again.write(result(0, cities(), dropped=dropped(0, 0)))
        again.write_metadata({"status": "complete", "rows_written": 0})
    again.close()
    assert snapshot(sink.output_dir) == old_dataset


def test_a_swap_cut_short_by_a_crash_is_undone_by_the_next_run(sink, result, old_dataset):
    out = sink.output_dir
    replaced = out / ".dagen-replaced"
    replaced.mkdir()  # the crash came after the old dataset moved aside, the new one half in
    os.replace(out / "metadata.json", replaced / "metadata.json")
    os.replace(out / "data", replaced / "data")
    (out / "data").mkdir()
    (out / "data" / "part-000000.parquet").write_bytes(b"new, half moved")
    ParquetSink(out).open(resume=True)
    assert snapshot(out) == old_dataset


def test_a_part_mended_after_it_was_recorded_is_listed_with_its_new_digest(sink, result):
    nulls = pd.DataFrame({"city": ["Oslo"], "age": pd.Series([None], dtype=object)})
    records = {0: {"index": 0, "rows": 1, **sink.write(result(0, nulls))}}
    sink.write_metadata({"row_groups": list(records.values())})
    ages = pd.DataFrame({"city": ["Lima"], "age": [31]})

    records[1] = {"index": 1, "rows": 1, **sink.write(result(1, ages))}  # age's type learned
    for _ in range(2):  # the run's stale record of part 0, written twice
        sink.write_metadata({"row_groups": list(records.values())})

    listed = sink.read_metadata()["row_groups"]
    assert pq.read_schema(sink.data_dir / part_name(0)).field("age").type == pa.int64()
    assert listed[0]["sha256"] != records[0]["sha256"] and listed[1] == records[1]
    assert ParquetSink(sink.output_dir).written_row_groups() == {0, 1}


def test_a_damaged_part_is_not_reported_written_and_left_for_the_plan_to_remove(sink, result):
    for rg in (0, 1, 2):
        record = sink.write(result(rg, cities("Oslo", "Lima")))
        assert record.keys() == {"file", "bytes", "sha256"}
    sink.write_metadata(
        {"row_groups": [{"index": rg, "rows": 2, "file": part_name(rg), **sink.write(
            result(rg, cities("Oslo", "Lima")))} for rg in (0, 1, 2)]}
    )  # fmt: skip
    (sink.data_dir / part_name(1)).write_bytes(os.urandom(300))
    with (sink.data_dir / part_name(2)).open("r+b") as fh:
        fh.truncate(100)
    assert ParquetSink(sink.output_dir).written_row_groups() == {0}
    assert every_file(sink.data_dir) == [part_name(rg) for rg in (0, 1, 2)]  # only read
    for rg in (1, 2):  # what a resume's plan lists (``ResumePlan.remove``)
        sink.remove(rg)
    assert every_file(sink.data_dir) == [part_name(0)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [('{"status": "comp', "JSONDecodeError"), ("[1, 2]", "a JSON list, not an object"),
     ("\udcff", "")],
)  # fmt: skip
def test_an_unreadable_metadata_file_is_a_resume_error_naming_it(sink, text, reason):
    (sink.output_dir / "metadata.json").write_text(text, errors="surrogateescape")
    with pytest.raises(ResumeError) as info:
        ParquetSink(sink.output_dir).read_metadata()
    message = str(info.value)
    assert str(sink.output_dir / "metadata.json") in message and reason in message
    assert "--overwrite" in message


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "out"
    path.write_text("not a folder")
    with pytest.raises(OutputDirError, match="not a folder"):
        ParquetSink(path).open(overwrite=True)


def test_resuming_keeps_parts_and_removes_leftover_temporary_files(sink, result):
    sink.write(result(0, cities("Oslo")))
    (sink.data_dir / ".part-000001.parquet.tmp-4242").write_bytes(b"half a file")
    resumed = ParquetSink(sink.output_dir)
    resumed.open(resume=True)
    assert every_file(sink.data_dir) == ["part-000000.parquet"]
    assert resumed.written_row_groups() == {0}


# -- writing -------------------------------------------------------------------------------


def test_a_row_group_is_written_as_its_part_file_and_reads_back(sink, result):
    record = sink.write(result(3, cities("Oslo", "Lima")))
    assert record["file"] == "part-000003.parquet"
    assert record["bytes"] == (sink.data_dir / "part-000003.parquet").stat().st_size
    assert every_file(sink.output_dir) == ["data/part-000003.parquet"]  # no temporary left
    assert sink.to_arrow().to_pandas()["city"].tolist() == ["Oslo", "Lima"]
    assert sink.written_row_groups() == {3}


def test_a_row_group_without_rows_writes_no_file(sink, result):
    empty = result(2, cities(), dropped=dropped(2, 0, 1))
    assert empty.rows == 0
    assert sink.write(empty) is None
    assert every_file(sink.output_dir) == []


def test_parts_read_back_in_row_order_whatever_order_they_were_written_in(sink, result):
    for rg in (10, 2, 0, 11, 1, 9):
        sink.write(result(rg, pd.DataFrame({"row_group": [rg, rg]})))
    assert sink.to_arrow().to_pandas()["row_group"].tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
        9,
        9,
        10,
        10,
        11,
        11,
    ]


def test_parts_are_parquet_compressed_with_zstd(sink, result):
    sink.write(result(0, cities("Oslo", "Lima")))
    column = pq.ParquetFile(sink.data_dir / part_name(0)).metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"


def test_values_parquet_cannot_store_are_a_checkpoint_error_naming_the_row_group(sink):
    interval = pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval())
    held = RowGroupResult(row_group=6, size=1, rows=1, table=pa.table({"wait": interval}))
    with pytest.raises(CheckpointError, match=r"row group 6: .*parquet"):
        sink.write(held)
    assert every_file(sink.output_dir) == []


def test_removing_a_row_group_deletes_its_part_only(sink, result):
    sink.write(result(0, cities("Oslo")))
    sink.write(result(1, cities("Lima")))
    sink.remove(1)
    sink.remove(7)  # holds none: nothing to do
    assert every_file(sink.output_dir) == ["data/part-000000.parquet"]
    assert sink.written_row_groups() == {0}


def test_part_names_sort_in_row_group_order():
    indices = [0, 1, 9, 10, 99, 100, 999, 1000, 12345, 999_999]
    assert sorted(part_name(i) for i in reversed(indices)) == [part_name(i) for i in indices]


def test_a_failed_rename_leaves_no_part_and_no_temporary_file(sink, result, monkeypatch):
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(CheckpointError) as info:
        sink.write(result(5, cities("Oslo")))
    assert "row group 5" in str(info.value)
    assert "part-000005.parquet" in str(info.value)
    assert every_file(sink.output_dir) == []


def test_a_full_disk_is_reported_as_such_and_leaves_nothing(sink, result, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(CheckpointError, match=r"row group 1: .*disk full"):
        sink.write(result(1, cities("Oslo")))
    assert every_file(sink.output_dir) == []


def test_a_failed_rewrite_keeps_the_previous_file_whole(sink, result, monkeypatch):
    sink.write(result(0, cities("Oslo")))
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(CheckpointError):
        sink.write(result(0, cities("Lima", "Pune")))
    monkeypatch.undo()
    assert every_file(sink.output_dir) == ["data/part-000000.parquet"]
    assert sink.to_arrow().to_pandas()["city"].tolist() == ["Oslo"]


def test_metadata_is_written_atomically_and_reads_back(sink, monkeypatch):
    sink.write_metadata({"status": "running", "rows_written": 10})
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(CheckpointError, match=r"metadata\.json"):
        sink.write_metadata({"status": "complete", "rows_written": 20})
    monkeypatch.undo()
    assert sink.read_metadata() == {"status": "running", "rows_written": 10}
    assert every_file(sink.output_dir) == ["metadata.json"]


# -- in memory -----------------------------------------------------------------------------


def test_both_sinks_are_readable_sinks(tmp_path):
    assert isinstance(ParquetSink(tmp_path), ReadableSink)
    assert isinstance(MemorySink(), ReadableSink)


def test_the_memory_sink_keeps_row_groups_in_row_order(result):
    sink = MemorySink()
    sink.open()
    assert sink.to_arrow().to_pandas().empty
    sink.write(result(1, cities("Lima")))
    sink.write(result(2, cities(), dropped=dropped(2, 0)))
    sink.write(result(0, cities("Oslo")))
    assert sink.to_arrow().to_pandas()["city"].tolist() == ["Oslo", "Lima"]
    assert sorted(sink.tables) == [0, 1]


def test_the_memory_sink_keeps_its_tables_and_metadata_for_a_resume_only(result):
    sink = MemorySink()
    sink.open()
    sink.write(result(0, cities("Oslo")))
    sink.write(result(1, cities("Lima")))
    sink.write_metadata({"status": "stopped"})
    sink.open(resume=True)
    assert sink.written_row_groups() == {0, 1}
    assert sink.read_metadata() == {"status": "stopped"}
    sink.remove(1)
    assert sink.to_arrow().to_pandas()["city"].tolist() == ["Oslo"]
    sink.open(overwrite=True)
    assert sink.written_row_groups() == set() and sink.read_metadata() is None


def test_side_datasets_are_written_beside_the_data_and_removed_with_it(tmp_path):
    sink = ParquetSink(tmp_path / "out")
    sink.open()
    for row_group in (0, 1):
        sink.write(RowGroupResult(
            row_group, 1, 1, pa.table({"city": ["Oslo"]}),
            side={"dropped-columns-parquet-files": pa.table({"note": [f"n{row_group}"]}),
                  "processors-files/chat": pa.table({"text": [f"t{row_group}"]})},
        ))  # fmt: skip
    assert sink.to_arrow("dropped-columns-parquet-files")["note"].to_pylist() == ["n0", "n1"]
    assert sink.to_arrow("processors-files/chat")["text"].to_pylist() == ["t0", "t1"]

    sink.remove(1)
    assert every_file(tmp_path / "out") == [
        "data/part-000000.parquet",
        "dropped-columns-parquet-files/part-000000.parquet",
        "processors-files/chat/part-000000.parquet",
    ]
    sink.write_metadata({"status": "complete", "rows_written": 1})
    kept = every_file(tmp_path / "out")

    def dataset() -> list[str]:  # what readers see: the staging folder is hidden
        return [f for f in every_file(tmp_path / "out") if not f.startswith(".")]

    # an overwrite stages its side parts with its data: the old ones go only when it completes
    again = ParquetSink(tmp_path / "out")
    again.open(overwrite=True)
    again.write(RowGroupResult(
        0, 1, 1, pa.table({"city": ["Lima"]}),
        side={"processors-files/chat": pa.table({"text": ["new"]})},
    ))  # fmt: skip
    assert dataset() == kept
    again.write_metadata({"status": "complete", "rows_written": 1})
    assert every_file(tmp_path / "out") == [
        "data/part-000000.parquet",
        "metadata.json",
        "processors-files/chat/part-000000.parquet",
    ]
    assert again.to_arrow("processors-files/chat")["text"].to_pylist() == ["new"]
