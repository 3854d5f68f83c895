"""The run's spending gate: the ``Budget`` (``dagen.lowering.budget``) fed with the run's
figures, asked by ``RunLoop._admit`` before each row group.

State (one owner, the gate): the cost and rows of the row groups recorded (a resumed
run's included), what earlier runs discarded, and the rows admitted but not recorded yet.
The gate says whether the next row group may start; when it may not and nothing is in
flight (nothing will finish to change the answer), it raises ``BudgetExceededError``,
which stops the run with status ``stopped`` and the reason, keeping what was written.

Example:
    >>> gate = SpendGate.of(metadata, max_cost=5.0)  # doctest: +SKIP
    >>> gate.allows(next_rows=100, in_flight=False)  # doctest: +SKIP
    True
"""

from __future__ import annotations

from typing import Any

from dagen.errors import BudgetExceededError
from dagen.lowering.budget import Budget, Spend, Verdict
from dagen.sinks.metadata import RunMetadata

__all__ = ["SpendGate"]


class SpendGate:
    """A run's budget and the spend it projects from (see the module docstring).

    Args:
        budget: the cap.
        costed: USD of the row groups recorded so far.
        rows: rows asked for by those row groups.
        discarded: USD earlier runs paid for calls the dataset does not hold.
    """

    def __init__(self, budget: Budget, costed: float, rows: int, discarded: float) -> None:
        self.budget = budget
        self.costed = costed
        self.rows = rows
        self.discarded = discarded
        self.unrecorded_rows = 0  # admitted, not recorded yet

    @classmethod
    def of(cls, metadata: RunMetadata, max_cost: float | None) -> SpendGate | None:
        """The gate of a run starting from ``metadata`` (None without a cap)."""
        if max_cost is None:
            return None
        groups = metadata.row_groups.values()
        costed = sum(rg.get("cost", {}).get("total", 0.0) for rg in groups)
        rows = sum(rg["size"] for rg in groups if "cost" in rg)
        discarded = float(metadata.discarded.get("total", 0.0))
        return cls(Budget(max_cost), costed, rows, discarded)

    @property
    def spend(self) -> Spend:
        """What was spent so far, with the basis of the cost per row."""
        return Spend(self.costed + self.discarded, self.rows, self.costed)

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

    def recorded(self, record: dict[str, Any]) -> None:
        """A row group entered the metadata (its record, with ``size`` and ``cost``)."""
        self.unrecorded_rows -= record["size"]
        self.rows += record["size"]
        self.costed += record.get("cost", {}).get("total", 0.0)

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
