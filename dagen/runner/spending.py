"""The run's spending gate: the ``Budget`` (``dagen.lowering.budget``) fed with the run's
figures, asked by the run state (``dagen.runner.state``) before each row group.

State (one owner, the gate): what the output was paid so far (its row groups, a resumed
run's included, and what earlier runs discarded), the rows and cost the cost per row is
learned from (an update's own row groups only), and the rows admitted but not recorded yet.
The gate says whether the next row group may start; when it may not and nothing is in
flight (nothing will finish to change the answer), it raises ``BudgetExceededError``,
which stops the run with status ``stopped`` and the reason, keeping what was written.

Example:
    >>> gate = SpendGate.of(spec.previous, max_cost=5.0)  # doctest: +SKIP
    >>> gate.allows(next_rows=100, in_flight=False)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping

from dagen.errors import BudgetExceededError
from dagen.lowering.budget import Budget, Spend, Verdict
from dagen.sinks.record import OutputRecord

__all__ = ["SpendGate", "Uncapped"]


class SpendGate:
    """A run's budget and the spend it projects from (see the module docstring).

    Args:
        budget: the cap.
        spent: USD paid so far for the output (its row groups and discarded calls).
        rows: rows asked for by the row groups the cost per row is learned from.
        rows_cost: USD those row groups' calls cost.
    """

    def __init__(self, budget: Budget, spent: float, rows: int, rows_cost: float) -> None:
        self.budget = budget
        self.spent = spent
        self.rows = rows
        self.rows_cost = rows_cost
        self.unrecorded_rows = 0  # admitted, not recorded yet

    @classmethod
    def of(
        cls, previous: OutputRecord | None, max_cost: float | None, *, update: bool = False
    ) -> SpendGate | None:
        """The gate of a run continuing the output ``previous`` records (None: a new
        output), or None without a cap.

        The cap holds for everything the output was paid (a resumed or updated run
        starts from what its earlier runs spent). An update learns its cost per row
        from its own row groups only: the earlier ones cost every column, an update
        pays for the regenerated ones alone.
        """
        if max_cost is None:
            return None
        groups = previous.row_groups if previous is not None else ()
        costed = sum((rg.cost or {}).get("total", 0.0) for rg in groups)
        discarded = previous.cost.get("discarded") if previous is not None else None
        spent = costed + float(
            discarded.get("total", 0.0) if isinstance(discarded, Mapping) else 0.0
        )
        if update:
            return cls(Budget(max_cost), spent, 0, 0.0)
        rows = sum(rg.size for rg in groups if rg.cost is not None)
        return cls(Budget(max_cost), spent, rows, costed)

    @property
    def spend(self) -> Spend:
        """What was spent so far, with the basis of the cost per row."""
        return Spend(self.spent, self.rows, self.rows_cost)

    def check_start(self) -> None:
        """Say at once when the cap is reached already.

        Raises:
            BudgetExceededError: the spend is at the cap.
        """
        if self.budget.reached(self.spend):
            verdict = Verdict(False, None, "the cap is reached already")
            raise self._error(verdict)

    def allows(self, next_rows: int, *, in_flight: bool) -> bool:
        """May a row group of ``next_rows`` rows start now?

        Raises:
            BudgetExceededError: it may not, and nothing in flight can change that.
        """
        verdict = self.budget.admits(
            self.spend, in_flight_rows=self.unrecorded_rows, next_rows=next_rows
        )
        if verdict.admit:
            return True
        if not in_flight:
            raise self._error(verdict)
        return False

    def admitted(self, rows: int) -> None:
        """A row group of ``rows`` rows was admitted."""
        self.unrecorded_rows += rows

    def recorded(self, rows: int, cost: float) -> None:
        """A row group of ``rows`` rows entered the metadata; this run paid ``cost`` for it."""
        self.unrecorded_rows -= rows
        self.rows += rows
        self.rows_cost += cost
        self.spent += cost

    def _error(self, verdict: Verdict) -> BudgetExceededError:
        spent, cap = self.spend.cost, self.budget.cap
        return BudgetExceededError(
            f"stopped before the spend would pass --max-cost ${cap:.4f}: {verdict.reason}. "
            f"Spent ${spent:.4f}; the row groups written are kept. To carry on, raise the "
            "cap: --resume --max-cost <higher> (resume=True, RunSettings(max_cost=...))",
            spent=spent,
            cap=cap,
            projected=verdict.projected,
        )


class Uncapped:
    """The gate of a run without ``max_cost`` (or calling no model): every row group may
    start."""

    def allows(self, next_rows: int, *, in_flight: bool) -> bool:
        return True

    def admitted(self, rows: int) -> None:
        pass

    def recorded(self, rows: int, cost: float) -> None:
        pass
