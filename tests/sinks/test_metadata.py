"""The run's metadata document: its keys, and counts that add up."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dagen.generators import CellFailure
from dagen.sinks.metadata import RunMetadata

DOCUMENTED_KEYS = {
    "dagen_version",
    "fingerprint",
    "seed",
    "config",
    "num_records",
    "rows_written",
    "rows_dropped",
    "row_group_size",
    "exact",
    "schema",
    "row_groups",
    "columns",
    "dropped_rows",
    "drop_summary",
    "usage",
    "timeline",
    "timings",
    "status",
    "stop_reason",
    "versions",
}


def failure(column: str, rg: int, row: int, error_type: str) -> CellFailure:
    return CellFailure(column, rg, row, error_type, "why")


@pytest.fixture
def metadata(result) -> RunMetadata:
    """10 rows in groups of 4, checkpointed out of order: groups 1, 0, then 2 (all dropped)."""
    meta = RunMetadata(
        config={"seed": 7, "columns": []},
        fingerprint="f00d",
        seed=7,
        num_records=10,
        row_group_size=4,
    )
    rg1 = result(1, pd.DataFrame({"bio": ["a", None, "c"]}), {2: failure("bio", 1, 2, "Timeout")})
    rg0 = result(
        0,
        pd.DataFrame({"bio": ["d", "e"]}),
        {1: failure("bio", 0, 1, "Timeout"), 3: failure("score", 0, 3, "KeyError")},
    )
    rg2 = result(
        2,
        pd.DataFrame({"bio": pd.Series([], dtype=object)}),
        {0: failure("bio", 2, 0, "Timeout"), 1: failure("score", 2, 1, "KeyError")},
    )
    meta.add_row_group(rg1, "part-000001.parquet", start_row=4)
    meta.add_row_group(rg0, "part-000000.parquet", start_row=0)
    meta.add_row_group(rg2, None, start_row=8)
    return meta


def test_the_document_has_the_documented_keys_and_is_json(metadata):
    doc = metadata.to_dict()
    assert doc.keys() == DOCUMENTED_KEYS
    assert json.loads(json.dumps(doc)) == doc
    assert (doc["fingerprint"], doc["seed"], doc["status"]) == ("f00d", 7, "running")
    assert {"started", "finished", "wall_seconds"} <= doc["timings"].keys()
    assert {"python", "dask", "pandas", "pyarrow"} <= doc["versions"].keys()


def test_written_and_dropped_rows_add_up_to_the_rows_asked_for(metadata):
    doc = metadata.to_dict()
    assert doc["rows_written"] == 3 + 2 + 0
    assert doc["rows_dropped"] == 1 + 2 + 2
    assert doc["rows_written"] + doc["rows_dropped"] == doc["num_records"]
    assert sum(g["rows"] + g["dropped"] for g in doc["row_groups"]) == doc["num_records"]
    assert sum(s["rows"] for s in doc["drop_summary"]) == doc["rows_dropped"]
    assert len(doc["dropped_rows"]) == doc["rows_dropped"]


def test_row_groups_are_listed_in_order_with_their_files(metadata):
    groups = metadata.to_dict()["row_groups"]
    assert [(g["index"], g["size"], g["rows"], g["dropped"], g["file"]) for g in groups] == [
        (0, 4, 2, 2, "part-000000.parquet"),
        (1, 4, 3, 1, "part-000001.parquet"),
        (2, 2, 0, 2, None),
    ]


def test_dropped_rows_have_global_positions_and_reasons(metadata):
    dropped = metadata.to_dict()["dropped_rows"]
    by_global = {
        d["global_row"]: (d["row_group"], d["row"], d["column"], d["error_type"]) for d in dropped
    }
    assert by_global == {
        6: (1, 2, "bio", "Timeout"),
        1: (0, 1, "bio", "Timeout"),
        3: (0, 3, "score", "KeyError"),
        8: (2, 0, "bio", "Timeout"),
        9: (2, 1, "score", "KeyError"),
    }


def test_the_drop_summary_counts_rows_per_column_and_error_most_common_first(metadata):
    assert metadata.to_dict()["drop_summary"] == [
        {"column": "bio", "error_type": "Timeout", "rows": 3},
        {"column": "score", "error_type": "KeyError", "rows": 2},
    ]


def test_column_counts_are_non_null_values_written(metadata):
    # bio: 2 of 3 non-null in group 1, 2 in group 0, none in group 2
    assert metadata.to_dict()["columns"] == {"bio": 4}


def test_a_resumed_run_continues_from_the_previous_document(metadata, result):
    previous = metadata.to_dict()
    resumed = RunMetadata(
        config=previous["config"],
        fingerprint="f00d",
        seed=7,
        num_records=14,
        row_group_size=4,
        previous=previous,
    )
    resumed.add_row_group(result(3, pd.DataFrame({"bio": ["x", "y", "z", "w"]})), "p3", 12)
    doc = resumed.to_dict()
    assert [g["index"] for g in doc["row_groups"]] == [0, 1, 2, 3]
    assert doc["rows_written"] == 5 + 4
    assert doc["rows_dropped"] == 5
    assert doc["columns"] == {"bio": 8}
