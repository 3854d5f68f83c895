"""The run's metadata document: its keys, and counts that add up."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pyarrow as pa
import pytest

from dagen.config.models import Pricing
from dagen.generators import CellFailure
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.metadata import RunMetadata
from dagen.sinks.record import OutputRecord

DOCUMENTED_KEYS = {
    "dagen_version",
    "fingerprint",
    "fingerprints",
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
    "cost",
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
        previous=OutputRecord.from_dict(previous, "out"),
    )
    resumed.add_row_group(result(3, pd.DataFrame({"bio": ["x", "y", "z", "w"]})), "p3", 12)
    doc = resumed.to_dict()
    assert [g["index"] for g in doc["row_groups"]] == [0, 1, 2, 3]
    assert doc["rows_written"] == 5 + 4
    assert doc["rows_dropped"] == 5
    assert doc["columns"] == {"bio": 8}


def test_a_replaced_row_group_takes_its_old_counts_and_drops_out_and_names_its_fingerprints():
    sets = {"columns": {"a": "1"}, "assembly": "x"}
    old = RunMetadata(config={}, fingerprint="f", seed=1, num_records=4, row_group_size=4,
                      fingerprints=sets)  # fmt: skip
    failure = CellFailure("a", 0, 3, "KeyError", "gone")
    table = pa.table({"a": [1, 2, 3]})
    old.add_row_group(RowGroupResult(0, 4, 3, table, {3: failure}, {"a": 3}), "p0", 0)
    digest = old.row_groups[0]["fingerprint"]
    assert old.to_dict()["fingerprints"] == {digest: sets}
    new = RunMetadata(config={}, fingerprint="g", seed=1, num_records=4, row_group_size=4,
                      previous=OutputRecord.from_dict(old.to_dict(), "out"),
                      fingerprints={**sets, "assembly": "y"})  # fmt: skip
    assert new.to_dict()["fingerprints"].keys() == {digest, new.set_digest}

    new.forget_row_group(0, {"a": 3})
    new.add_row_group(RowGroupResult(0, 4, 4, pa.table({"a": [1, 2, 3, 4]}), {}, {"a": 4}), "p0", 0)

    doc = new.to_dict()
    assert doc["columns"] == {"a": 4} and doc["dropped_rows"] == [] and doc["rows_written"] == 4
    assert doc["fingerprints"] == {new.set_digest: {**sets, "assembly": "y"}}


def _usage(calls: int, prompt: int, completion: int) -> dict:
    return {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion}


def test_each_row_group_is_priced_when_recorded_and_the_totals_survive_a_resume(result):
    pricing = Pricing(input_per_million=2.0, output_per_million=10.0)
    meta = RunMetadata(config={}, fingerprint="f", seed=1, num_records=8, row_group_size=4,
                       prices={"judge": pricing, "free": None})  # fmt: skip
    rg0 = dataclasses.replace(
        result(0, pd.DataFrame({"bio": list("abcd")})),
        usage={"score": {"judge": _usage(4, 1_000, 200), "free": _usage(4, 50, 5)}},
    )
    meta.add_row_group(rg0, "p0", 0)
    # the run paid 1 more judge call than its checkpoints hold (an interrupted row group)
    meta.add_usage({"judge": {"successes": 5, "prompt_tokens": 1_300, "completion_tokens": 260}})
    doc = meta.to_dict()
    assert doc["row_groups"][0]["cost"] == {
        "total": pytest.approx(0.004), "by_model": {"judge": pytest.approx(0.004)},
        "by_column": {"score": pytest.approx(0.004)}, "unpriced": ["free"],
    }  # fmt: skip
    assert doc["cost"]["tokens"]["free"] == _usage(4, 50, 5)
    assert doc["cost"]["discarded"]["tokens"] == {"judge": _usage(1, 300, 60)}
    assert doc["cost"]["discarded"]["total"] == pytest.approx((300 * 2 + 60 * 10) / 1e6)
    assert doc["cost"]["spent"] == pytest.approx(0.004 + 0.0012)

    # prices change before the resume: the kept row group keeps what it cost then
    resumed = RunMetadata(config={}, fingerprint="f", seed=1, num_records=8, row_group_size=4,
                          previous=OutputRecord.from_dict(doc, "out"),
                          prices={"judge": Pricing(input_per_million=100.0)})  # fmt: skip
    rg1 = dataclasses.replace(
        result(1, pd.DataFrame({"bio": list("efgh")})),
        usage={"score": {"judge": _usage(4, 1_000, 0)}},
    )
    resumed.add_row_group(rg1, "p1", 4)
    again = resumed.to_dict()
    assert again["row_groups"][0]["cost"] == doc["row_groups"][0]["cost"]
    assert again["cost"]["total"] == pytest.approx(0.004 + 0.1)
    assert again["cost"]["discarded"] == doc["cost"]["discarded"]  # carried, not recounted


def test_the_dataset_cost_kept_between_writes_is_what_summing_every_record_gives(result):
    from dagen.sinks.ledger import add_usage, totals

    pricing = Pricing(input_per_million=0.7, output_per_million=3.3)  # floats that round
    meta = RunMetadata(config={}, fingerprint="f", seed=1, num_records=40, row_group_size=4,
                       prices={"judge": pricing, "free": None})  # fmt: skip

    def row_group(index: int, prompt: int) -> RowGroupResult:
        usage = {"score": {"judge": _usage(4, prompt, 7 * index + 1), "free": _usage(1, 3, 1)}}
        return dataclasses.replace(result(index, pd.DataFrame({"bio": list("abcd")})),
                                   usage=usage)  # fmt: skip

    def summed_afresh() -> tuple[dict, dict]:
        tokens: dict = {}
        for rg in meta.row_groups.values():
            add_usage(tokens, rg["usage"])
        return totals(rg["cost"] for rg in meta.row_groups.values()), tokens

    steps = [("add", i, 1_000 + 37 * i) for i in range(6)]
    steps += [("replace", 2, 5), ("forget", 4, 0), ("add", 4, 11), ("add", 6, 999)]
    for step, index, prompt in steps:
        if step == "forget":
            meta.forget_row_group(index, {"bio": 4})
        else:
            meta.add_row_group(row_group(index, prompt), f"p{index}", 4 * index)
        cost, tokens = summed_afresh()

        written = meta.to_dict()["cost"]

        assert {k: written[k] for k in cost} == cost  # the same floats, not approximately
        assert written["tokens"] == tokens
    written["tokens"]["judge"]["calls"] = -1  # what the caller got is its own
    assert meta.to_dict()["cost"]["tokens"] == tokens
