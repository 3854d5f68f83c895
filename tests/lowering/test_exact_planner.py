"""The exact planner: row-group sizes from the keep rate, the cut, and when to give up."""

from __future__ import annotations

import random

import pytest

from dagen.lowering.exact import MAX_GENERATED_FACTOR, MIN_ROWS_TO_GIVE_UP, ExactPlanner
from dagen.sinks.record import RowGroupRecord


def test_before_any_row_group_finished_no_filter_is_assumed():
    plan = ExactPlanner(target=120, row_group_size=50)
    sizes = []
    while (group := plan.next_row_group()) is not None:
        sizes.append(group.size)
    assert sizes == [50, 50, 20]  # exactly the target at a keep rate of 1: nothing on a guess


def test_row_groups_are_contiguous_and_numbered_in_order():
    plan = ExactPlanner(target=1000, row_group_size=100)
    groups = [plan.next_row_group() for _ in range(4)]
    assert [(g.index, g.start) for g in groups] == [(0, 0), (1, 100), (2, 200), (3, 300)]


def test_the_next_size_reaches_the_target_at_the_rate_seen_with_a_margin():
    plan = ExactPlanner(target=100, row_group_size=1000)
    first = plan.next_row_group()
    assert first.size == 100
    plan.finished(first.index, kept=30)  # 30 %
    plan.wrote(30)
    size = plan.next_row_group().size
    # 70 more at 30 % is 234 rows; the margin (1.5 sigma of the keep count) adds a few
    assert 234 < size <= 270


def test_rows_in_flight_count_at_the_rate_seen():
    plan = ExactPlanner(target=100, row_group_size=60)
    plan.finished(plan.next_row_group().index, kept=30)  # 50 % of 60
    plan.wrote(30)
    assert plan.next_row_group().size == 60  # 70 needed: 140 rows, at most 60
    assert plan.next_row_group().size == 60  # 40 needed after the 30 expected in flight
    # 10 needed after 60 expected: 20 rows, plus 1.5 sigma (sqrt(10 x 0.5)) / 0.5
    assert plan.next_row_group().size == 27
    assert plan.next_row_group() is None  # 73 expected in flight cover the 70


def test_a_row_group_that_kept_nothing_yet_grows_the_next_by_the_rule_of_succession():
    plan = ExactPlanner(target=2, row_group_size=150)
    first = plan.next_row_group()
    plan.finished(first.index, kept=0)  # none of 2 kept: about 1 in 4, not "never"
    assert plan.next_row_group().size == 16  # (2 + 1.5 sqrt(2 x 3/4)) x 4, not 150
    assert plan.next_row_group() is None  # 16 x 1/4 expected in flight cover the 2


def test_a_size_never_exceeds_the_row_group_size_nor_the_cap_on_rows_generated():
    assert ExactPlanner(target=50, row_group_size=150, generated=40).next_row_group().size == 150
    plan = ExactPlanner(target=2, row_group_size=150, generated=120)  # none kept of 120
    assert plan.next_row_group().size == MAX_GENERATED_FACTOR * 2 - 120  # the cap: 80
    assert plan.next_row_group() is None


def test_the_row_group_reaching_the_target_is_cut_to_the_rows_still_needed():
    plan = ExactPlanner(target=10, row_group_size=10)
    assert [plan.wrote(4), plan.wrote(4)] == [4, 4]
    assert not plan.done
    assert plan.wrote(4) == 2
    assert plan.done
    assert plan.next_row_group() is None


def test_it_gives_up_when_a_full_row_group_and_enough_rows_kept_nothing():
    plan = ExactPlanner(target=10, row_group_size=200)
    generated = 0
    while generated < MIN_ROWS_TO_GIVE_UP:
        group = plan.next_row_group()
        assert plan.give_up() is None
        plan.finished(group.index, kept=0)
        generated += group.size
    assert "none of the" in plan.give_up()


def test_it_gives_up_after_generating_its_cap_without_reaching_the_target():
    plan = ExactPlanner(target=3, row_group_size=1000)
    while (group := plan.next_row_group()) is not None:
        plan.finished(group.index, kept=1 if group.index == 0 else 0)
    assert plan.generated == MAX_GENERATED_FACTOR * 3
    assert "300 rows were generated" in plan.give_up()


def test_a_resumed_planner_continues_after_the_rows_written():
    written = [
        RowGroupRecord(index=0, start=0, size=100, rows=25),
        RowGroupRecord(index=1, start=100, size=100, rows=35),
    ]
    plan = ExactPlanner.resuming(100, 100, written)
    assert (plan.written, plan.rate) == (60, 0.3)
    group = plan.next_row_group()
    assert (group.index, group.start, group.size) == (2, 200, 100)


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.9, 1.0])
def test_over_many_simulated_runs_the_rows_generated_stay_close_to_target_over_rate(rate):
    rng = random.Random(7)
    for _ in range(50):
        plan = ExactPlanner(target=500, row_group_size=100)
        window: list = []  # the row groups in flight, finishing in order
        generated = 0
        while not plan.done:
            while len(window) < 4 and (group := plan.next_row_group()) is not None:
                window.append(group)
            group = window.pop(0)
            kept = sum(rng.random() < rate for _ in range(group.size))
            generated += group.size
            plan.finished(group.index, kept)
            plan.wrote(kept)
        assert plan.written == 500
        assert generated <= 1.15 * 500 / rate + 100  # the surplus: about a row group


def test_nonsense_targets_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ExactPlanner(target=0, row_group_size=10)
    with pytest.raises(ValueError, match="negative"):
        ExactPlanner(target=1, row_group_size=10, kept=-1)
