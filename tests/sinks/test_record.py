"""The record of an output: its metadata document read back typed, checked once, given back
as it was."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dagen.errors import ResumeError
from dagen.generators import CellFailure
from dagen.sinks.metadata import RunMetadata
from dagen.sinks.parquet import MemorySink
from dagen.sinks.record import DroppedRow, OutputRecord, RowGroupRecord, read_record


@pytest.fixture
def document(result) -> dict:
    """A two-row-group run's document as written: a drop, usage, fingerprints, a schema."""
    sets = {"columns": {"bio": "1"}, "assembly": "x"}
    meta = RunMetadata(config={"columns": [{"name": "bio"}]}, fingerprint="f00d", seed=7,
                       num_records=8, row_group_size=4, fingerprints=sets)  # fmt: skip
    failure = CellFailure("bio", 0, 3, "KeyError", "gone")
    meta.add_row_group(result(0, pd.DataFrame({"bio": list("abc")}), {3: failure}),
                       {"file": "part-000000.parquet", "bytes": 10, "sha256": "ab"}, 0)  # fmt: skip
    meta.add_row_group(result(1, pd.DataFrame({"bio": list("defg")})), None, 4)
    meta.add_usage({"judge": {"successes": 2}})
    return json.loads(json.dumps(meta.to_dict()))


def test_a_document_round_trips_unchanged(document):
    record = OutputRecord.from_dict(document, "out")
    assert record.to_dict() == document
    assert OutputRecord.from_dict(record.to_dict(), "out") == record


def test_the_fields_a_resume_reads_are_typed(document):
    record = OutputRecord.from_dict(document, "out")
    assert (record.seed, record.row_group_size, record.num_records, record.exact) == (
        7,
        4,
        8,
        False,
    )
    first, second = record.row_groups
    assert isinstance(first, RowGroupRecord)
    assert (first.index, first.start, first.size, first.rows, first.dropped) == (0, 0, 4, 3, 1)
    assert (first.file, first.bytes, first.sha256) == ("part-000000.parquet", 10, "ab")
    assert first.fingerprint == second.fingerprint and first.fingerprint in record.fingerprints
    assert second.file is None and record.rows_recorded == 7
    assert record.dropped_rows == (
        DroppedRow(row_group=0, row=3, global_row=3, column="bio", error_type="KeyError",
                   message="gone"),
    )  # fmt: skip


def test_unknown_keys_are_kept_and_written_back(document):
    document["written_by"] = "a newer dagen"
    document["row_groups"][0]["etag"] = "0x8d"
    document["dropped_rows"][0]["hint"] = "retry later"
    record = OutputRecord.from_dict(document, "out")
    assert record.extra == {"written_by": "a newer dagen"}
    assert record.row_groups[0].extra == {"etag": "0x8d"}
    assert record.to_dict() == document


def test_the_record_never_changes_with_the_document_it_came_from(document):
    record = OutputRecord.from_dict(document, "out")
    document["row_groups"][0]["usage"]["x"] = {}
    document["usage"]["judge"]["successes"] = 99
    assert "x" not in (record.row_groups[0].usage or {})
    assert record.usage["judge"]["successes"] == 2
    record.to_dict()["usage"]["judge"]["successes"] = 98
    assert record.usage["judge"]["successes"] == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seed": "7"}, "seed is not an integer"),
        ({"row_group_size": None}, "row_group_size is not an integer"),
        ({"row_groups": {"0": {}}}, "row_groups is not a list"),
        ({"row_groups": [{"index": 0, "start": 0, "size": 4}]}, r"row_groups\[0\]\.rows is missing"),
        ({"row_groups": [7]}, r"row_groups\[0\] is not an object"),
        ({"exact": "yes"}, "exact is not true or false"),
        ({"dropped_rows": [{"row_group": 0, "row": "3", "column": "bio", "error_type": "E"}]},
         r"dropped_rows\[0\]\.row is not an integer"),
        ({"fingerprints": []}, "fingerprints is not an object"),
    ],
)  # fmt: skip
def test_a_damaged_document_is_a_resume_error_naming_the_field_and_the_output(
    document, change, named
):
    with pytest.raises(ResumeError, match=named) as info:
        OutputRecord.from_dict({**document, **change}, "out/people")
    assert "out/people" in str(info.value) and "--overwrite" in str(info.value)


def test_a_missing_required_field_is_named():
    with pytest.raises(ResumeError, match="seed is missing; row_group_size is missing"):
        OutputRecord.from_dict({}, "out")


def test_a_sink_without_metadata_has_no_record_and_one_with_it_has(document):
    sink = MemorySink()
    assert read_record(sink) is None
    sink.write_metadata(document)
    record = read_record(sink)
    assert record is not None and record.source == str(sink) and record.seed == 7
