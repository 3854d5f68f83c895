"""The spending cap's decision: admit the next row group only while the projection fits."""

from __future__ import annotations

import math

import pytest

from dagen.lowering.budget import Budget, Spend


def test_without_a_finished_row_group_one_row_group_at_a_time():
    budget = Budget(cap=10.0)
    assert budget.admits(Spend(), in_flight_rows=0, next_rows=100).admit
    refused = budget.admits(Spend(), in_flight_rows=100, next_rows=100)
    assert not refused.admit and refused.projected is None


def test_the_projection_counts_rows_in_flight_and_the_next_row_group_at_the_cost_per_row():
    budget = Budget(cap=10.0)
    spend = Spend(cost=4.0, rows=400, rows_cost=4.0)  # $0.01 a row
    assert budget.admits(spend, in_flight_rows=200, next_rows=400).projected == pytest.approx(10.0)
    assert budget.admits(spend, in_flight_rows=200, next_rows=400).admit  # exactly at the cap
    verdict = budget.admits(spend, in_flight_rows=300, next_rows=400)
    assert not verdict.admit and "projected spend is $11.0000" in verdict.reason


def test_discarded_spend_counts_against_the_cap_but_not_in_the_cost_per_row():
    spend = Spend(cost=9.0, rows=100, rows_cost=1.0)  # $8 paid for calls the dataset lost
    assert spend.per_row == pytest.approx(0.01)
    assert Budget(cap=10.0).admits(spend, in_flight_rows=0, next_rows=100).admit
    assert not Budget(cap=9.5).admits(spend, in_flight_rows=0, next_rows=100).admit


def test_a_cap_reached_admits_nothing():
    budget = Budget(cap=1.0)
    assert budget.reached(Spend(cost=1.0))
    verdict = budget.admits(Spend(cost=1.0), in_flight_rows=0, next_rows=1)
    assert not verdict.admit and "reached" in verdict.reason


@pytest.mark.parametrize("cap", [-1.0, math.inf, math.nan])
def test_a_cap_is_finite_and_not_negative(cap):
    with pytest.raises(ValueError, match="cap"):
        Budget(cap)
