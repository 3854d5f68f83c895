"""Generator results: column blocks, failure values, and the failure marker type."""

from __future__ import annotations

import pickle

import pandas as pd

from dagen.errors import ModelAuthError, RateLimitError, TemplateRenderError
from dagen.generators import BatchContext, CellFailure, ColumnBlock, ColumnGenerator, FailedBlock
from dagen.generators.base import failure_from


def test_a_block_lists_its_surviving_rows_and_their_records():
    block = ColumnBlock(
        pd.DataFrame({"bio": ["a", "b"], "bio__trace": [[1], [2]]}, index=[0, 3]),
        {1: CellFailure("bio", 0, 1, "KeyError", "x")},
    )
    assert block.rows == [0, 3]
    assert block.records == {
        0: {"bio": "a", "bio__trace": [1]},
        3: {"bio": "b", "bio__trace": [2]},
    }


def test_a_failure_records_the_error_and_whether_it_was_retryable_or_fatal():
    limited = failure_from(RateLimitError("429 too many"), "bio", 2, 5)
    assert (limited.column, limited.row_group, limited.row) == ("bio", 2, 5)
    assert limited.error_type == "RateLimitError"
    assert limited.message == "429 too many"
    assert limited.retryable and not limited.fatal
    denied = failure_from(ModelAuthError("401"), "bio", 2, 5)
    assert denied.fatal and not denied.retryable
    silent = failure_from(KeyError(), "bio", 2, 5)
    assert silent.message == "KeyError()"
    assert "retryable" in limited.to_dict() and "row" not in limited.to_dict()


def test_generation_errors_keep_their_coordinates_through_pickling():
    exc = TemplateRenderError("missing x", column="g", row_group=3, row=9)
    again = pickle.loads(pickle.dumps(exc))
    assert (type(again), str(again)) == (TemplateRenderError, "missing x")
    assert (again.column, again.row_group, again.row) == ("g", 3, 9)


class HalfFailing(ColumnGenerator):
    """Fails odd rows by returning them as failures (not by raising)."""

    def generate_batch(self, frame, ctx):
        even = [r for r in frame.index if r % 2 == 0]
        failures = {
            r: CellFailure(self.column, ctx.row_group, r, "ValueError", "odd")
            for r in frame.index
            if r % 2
        }
        return ColumnBlock(
            pd.DataFrame({self.column: [r * 10 for r in even]}, index=even), failures
        )


def test_a_block_with_failures_comes_back_marked_by_its_type():
    gen = HalfFailing("n", ("n",), ())
    ctx = BatchContext("n", 0, 0, 4, seed=0)
    block = gen.run_batch(pd.DataFrame(index=range(4)), ctx)
    assert isinstance(block, FailedBlock)
    assert block.frame["n"].to_dict() == {0: 0, 2: 20}
    clean = gen.run_batch(pd.DataFrame(index=[0, 2]), ctx)
    assert type(clean) is ColumnBlock


def test_a_generator_that_does_not_implement_a_shape_fails_rows_instead_of_raising():
    gen = ColumnGenerator("n", ("n",), ())
    assert not gen.is_async
    failure = gen.run_cell({}, BatchContext("n", 1, 0, 1, seed=0), 0)
    assert isinstance(failure, CellFailure)
    assert failure.error_type == "NotImplementedError"
