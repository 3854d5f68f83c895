"""Assembling a row group: surviving rows, drop reasons, column order, processors, counts."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pyarrow as pa
import pytest

from dagen.errors import CheckpointError
from dagen.generators import CellFailure, ColumnBlock, FailedBlock
from dagen.sinks.assemble import AssemblySpec, assemble_row_group, head
from dagen.sinks.processors import DropColumns, Filter

RG = 4


def failed(column: str, row: int, error_type: str) -> CellFailure:
    return CellFailure(column, RG, row, error_type, f"{column} row {row}")


SUMMARY_FAILED = failed("summary", 2, "ModelRequestError")
SCORE_FAILED_TOO = failed("score", 2, "KeyError")
SCORE_FAILED = failed("score", 3, "ValueError")


@pytest.fixture
def blocks() -> dict[str, ColumnBlock]:
    """A row group of 5 rows: name -> summary (+ summary__trace) -> score.

    Row 2 failed in summary and in score; row 3 failed in score only; the others survive.
    Blocks are given score first, to show that declaration order, not dict order, counts.
    """
    return {
        "score": FailedBlock(
            pd.DataFrame({"score": [0.5, 0.7, 0.9]}, index=[4, 0, 1]),
            {2: SCORE_FAILED_TOO, 3: SCORE_FAILED},
        ),
        "name": ColumnBlock(pd.DataFrame({"name": ["Ada", "Leo", "Mei", "Kai", "Zoe"]})),
        "summary": FailedBlock(
            pd.DataFrame(
                {
                    "summary": ["s0", "s1", "s3", "s4"],
                    "summary__trace": ["t0", None, "t3", "t4"],
                },
                index=[0, 1, 3, 4],
            ),
            {2: SUMMARY_FAILED},
        ),
    }


def spec(**changes) -> AssemblySpec:
    fields = {
        "columns": ("name", "summary", "score"),
        "outputs": {
            "name": ("name",),
            "summary": ("summary", "summary__trace"),
            "score": ("score",),
        },
    }
    return AssemblySpec(**{**fields, **changes})


def read(table: pa.Table) -> pd.DataFrame:
    """The row group's table as a frame, nulls as None."""
    frame = table.to_pandas().astype(object)
    return frame.where(frame.notna(), None)


def test_only_rows_with_a_value_in_every_column_survive_in_row_order(blocks):
    result = assemble_row_group(blocks, spec(), row_group=RG, size=5)
    assert (result.row_group, result.size, result.rows) == (RG, 5, 3)
    frame = read(result.table)
    assert frame.to_dict("list") == {
        "name": ["Ada", "Leo", "Zoe"],
        "summary": ["s0", "s1", "s4"],
        "summary__trace": ["t0", None, "t4"],
        "score": [0.7, 0.9, 0.5],
    }


def test_a_dropped_row_keeps_its_first_failure_in_column_order(blocks):
    result = assemble_row_group(blocks, spec(), row_group=RG, size=5)
    assert result.dropped == {2: SUMMARY_FAILED, 3: SCORE_FAILED}


def test_columns_follow_declaration_with_side_effects_after_their_producer(blocks):
    reordered = spec(
        columns=("score", "summary", "name"),
    )
    frame = read(assemble_row_group(blocks, reordered, row_group=RG, size=5).table)
    assert frame.columns.tolist() == ["score", "summary", "summary__trace", "name"]


def test_drop_columns_are_removed_after_the_rows_are_chosen(blocks):
    result = assemble_row_group(
        blocks, spec(dropped_columns=frozenset({"name"})), row_group=RG, size=5
    )
    frame = read(result.table)
    assert frame.columns.tolist() == ["summary", "summary__trace", "score"]
    assert result.rows == 3
    assert "name" not in result.counts


def test_processors_run_on_the_surviving_rows(blocks):
    result = assemble_row_group(
        blocks, spec(processors=(DropColumns(["summary__trace"]),)), row_group=RG, size=5
    )
    assert read(result.table).columns.tolist() == ["name", "summary", "score"]


def test_counts_are_non_null_values_per_written_column(blocks):
    result = assemble_row_group(blocks, spec(), row_group=RG, size=5)
    # summary__trace is None for row 1, which survives
    assert result.counts == {"name": 3, "summary": 3, "summary__trace": 2, "score": 3}


def test_a_row_group_where_every_row_failed_has_no_rows():
    blocks = {
        "name": ColumnBlock(pd.DataFrame({"name": ["Ada", "Leo"]})),
        "summary": FailedBlock(
            pd.DataFrame({"summary": pd.Series([], dtype=object)}, index=pd.Index([], dtype=int)),
            {0: failed("summary", 0, "X"), 1: failed("summary", 1, "X")},
        ),
    }
    only = spec(columns=("name", "summary"), outputs={"name": ("name",), "summary": ("summary",)})
    result = assemble_row_group(blocks, only, row_group=RG, size=2)
    assert result.rows == 0
    assert sorted(result.dropped) == [0, 1]
    assert read(result.table).empty


def test_values_arrow_cannot_store_are_a_checkpoint_error_naming_the_row_group():
    blocks = {"mixed": ColumnBlock(pd.DataFrame({"mixed": [1, "one", [1]]}, dtype=object))}
    with pytest.raises(CheckpointError, match="row group 4"):
        assemble_row_group(
            blocks,
            AssemblySpec(columns=("mixed",), outputs={"mixed": ("mixed",)}),
            row_group=RG,
            size=3,
        )


def test_rows_a_filter_drops_are_recorded_and_leave_the_side_datasets_too(blocks):
    processors = (DropColumns(["summary__trace"]), Filter("short", "{{ name != 'Leo' }}"))
    result = assemble_row_group(blocks, spec(processors=processors), row_group=RG, size=5)
    assert result.table["name"].to_pylist() == ["Ada", "Zoe"]
    assert result.dropped[1] == CellFailure(
        "short", RG, 1, "filtered", "keep_when was false: {{ name != 'Leo' }}"
    )
    assert result.rows + len(result.dropped) == 5
    assert result.side["dropped-columns-parquet-files"].num_rows == 2  # same rows as the table


def test_a_row_group_is_cut_after_its_nth_surviving_row(blocks):
    result = assemble_row_group(blocks, spec(), row_group=RG, size=5)  # rows 0, 1, 4 survive
    cut = head(result, 2)
    assert cut.table["name"].to_pylist() == ["Ada", "Leo"]
    assert (cut.size, cut.rows, cut.dropped) == (2, 2, {})  # rows 2 and 3 were never reached
    assert cut.counts == {"name": 2, "summary": 2, "summary__trace": 1, "score": 2}
    filtered = assemble_row_group(
        blocks, spec(processors=(Filter("f", "{{ name != 'Ada' }}"),)), row_group=RG, size=5
    )  # rows 1 and 4 survive: cut after row 1, the drop of row 0 kept, not those after
    cut = head(filtered, 1)
    assert (cut.size, sorted(cut.dropped), cut.table["name"].to_pylist()) == (2, [0], ["Leo"])
    assert head(result, 1).size == 1
    paid = dataclasses.replace(
        result, usage={"summary": {"m": {"calls": 5, "prompt_tokens": 50, "completion_tokens": 9}}}
    )  # the calls of its 5 rows: a cut after 2 rows keeps 2/5 of them, rounded down
    assert head(paid, 2).usage == {
        "summary": {"m": {"calls": 2, "prompt_tokens": 20, "completion_tokens": 3}}
    }
    with pytest.raises(ValueError, match="cannot cut 3 rows to 3"):
        head(result, 3)
