"""The completion tracker: pure bookkeeping of finished tasks, dropped rows, written groups."""

from __future__ import annotations

from collections import Counter

import pytest

from dagen.generators import CellFailure
from dagen.tracking.tracker import CompletionTracker


def failure(column: str, row_group: int, row: int, error_type: str = "ValueError") -> CellFailure:
    return CellFailure(column, row_group, row, error_type, f"{column} failed at {row}")


@pytest.fixture
def tracker() -> CompletionTracker:
    """Row groups 0 and 1 admitted: 3 tasks each (a bio chunk, its collector, a checkpoint)."""
    t = CompletionTracker()
    t.admit(0, {"city": 4, "bio": 4}, tasks=3)
    t.admit(1, {"city": 2, "bio": 2}, tasks=3)
    return t


def test_admitting_row_groups_adds_up_their_cells(tracker):
    assert tracker.total == {"city": 6, "bio": 6}
    assert tracker.open == {0: 3, 1: 3}
    assert tracker.done == Counter()


def test_only_the_last_task_of_a_row_group_completes_it(tracker):
    assert tracker.task_finished(0, ["bio"], 4) is False
    assert tracker.task_finished(1, ["bio"], 2) is False
    assert tracker.task_finished(0, ["city"], 4) is False
    assert tracker.task_finished(0, [], 0) is True  # the checkpoint carries no cells
    assert tracker.done == {"bio": 6, "city": 4}
    assert tracker.open[1] == 2


def test_a_row_keeps_the_first_reason_it_was_dropped_for(tracker):
    first = failure("bio", 0, 2, "RateLimitError")
    assert tracker.record_failures(0, [first, failure("city", 0, 3)]) == [
        first,
        failure("city", 0, 3),
    ]
    # the same rows again, from a later column or a repeated report: nothing new
    assert tracker.record_failures(0, [failure("summary", 0, 2), first]) == []
    assert tracker.dropped[0][2] == first
    assert tracker.rows_dropped == 2


def test_the_same_row_in_another_row_group_is_another_row(tracker):
    tracker.record_failures(0, [failure("bio", 0, 1)])
    assert tracker.record_failures(1, [failure("bio", 1, 1)]) == [failure("bio", 1, 1)]
    assert tracker.rows_dropped == 2


def test_a_written_row_group_is_no_longer_open(tracker):
    tracker.row_group_written(0, rows=3)
    tracker.row_group_written(1, rows=0)
    assert tracker.written == {0: 3, 1: 0}
    assert tracker.rows_written == 3
    assert tracker.open == {}


def test_drop_reasons_count_rows_per_column_and_error_type(tracker):
    tracker.record_failures(0, [failure("bio", 0, 0, "RateLimitError"), failure("bio", 0, 1)])
    tracker.record_failures(1, [failure("bio", 1, 0, "RateLimitError"), failure("city", 1, 1)])
    assert tracker.drop_reasons() == {
        ("bio", "RateLimitError"): 2,
        ("bio", "ValueError"): 1,
        ("city", "ValueError"): 1,
    }


def test_the_most_common_failure_is_an_example_of_the_most_frequent_reason(tracker):
    assert tracker.most_common_failure() is None
    tracker.record_failures(0, [failure("city", 0, 0)])
    tracker.record_failures(1, [failure("bio", 1, 0, "Timeout"), failure("bio", 1, 1, "Timeout")])
    example = tracker.most_common_failure()
    assert (example.column, example.error_type) == ("bio", "Timeout")
    assert example in (failure("bio", 1, 0, "Timeout"), failure("bio", 1, 1, "Timeout"))
