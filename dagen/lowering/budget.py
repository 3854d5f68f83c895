"""The spending cap (``max_cost``): may the run start another row group?

Policy: a row group is admitted only when the projected spend stays within the cap:

    projected = spent + cost per row x (rows in flight + rows of the next row group)

``spent`` is what the dataset's recorded row groups cost plus what earlier runs of the
output paid for calls they discarded; the cost per row is that of the row groups
recorded so far (rows asked for, dropped ones included: their calls were paid). Until a
row group has been recorded there is no cost per row, so one row group at a time is
admitted: the first one to finish gives the projection its data. A spend already at the
cap admits nothing (a resumed run says so before it starts).

The run loop asks ``Budget.admits`` before each admission, as one gate among others
(``RunLoop._admit``), and stops once nothing is in flight and the budget refuses.

Example:
    >>> budget = Budget(cap=1.0)
    >>> budget.admits(Spend(), in_flight_rows=0, next_rows=100).admit  # no data: one at a time
    True
    >>> budget.admits(Spend(), in_flight_rows=100, next_rows=100).admit
    False
    >>> verdict = budget.admits(Spend(0.5, 100), in_flight_rows=0, next_rows=100)
    >>> verdict.admit, verdict.projected
    (True, 1.0)
    >>> budget.admits(Spend(0.5, 100), in_flight_rows=100, next_rows=100).reason
    'spent $0.5000 of the $1.0000 cap; with the next row group the projected spend is $1.5000'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Budget", "Spend", "Verdict"]


@dataclass(frozen=True)
class Spend:
    """What was spent so far.

    Attributes:
        cost: USD spent (recorded row groups and discarded calls).
        rows: rows asked for by the recorded row groups (the basis of the cost per row).
        rows_cost: USD of those row groups alone (their cost per row is
            ``rows_cost / rows``); ``cost`` when None.
    """

    cost: float = 0.0
    rows: int = 0
    rows_cost: float | None = None

    @property
    def per_row(self) -> float | None:
        """USD per row so far, None before any row group was recorded."""
        if self.rows <= 0:
            return None
        return (self.cost if self.rows_cost is None else self.rows_cost) / self.rows


@dataclass(frozen=True)
class Verdict:
    """Whether the next row group may start, and why.

    Attributes:
        admit: it may.
        projected: USD the spend is projected to reach with it (None when unknown).
        reason: what was decided, in words (for the stop reason when it may not).
    """

    admit: bool
    projected: float | None
    reason: str


@dataclass(frozen=True)
class Budget:
    """A run's spending cap (see the module docstring).

    Attributes:
        cap: USD the run may spend at most (finite, >= 0).
    """

    cap: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.cap) or self.cap < 0:
            raise ValueError(f"Budget cap must be a finite number >= 0, got {self.cap!r}")

    def reached(self, spend: Spend) -> bool:
        """Whether nothing more may be spent at all."""
        return spend.cost >= self.cap

    def admits(self, spend: Spend, *, in_flight_rows: int, next_rows: int) -> Verdict:
        """May a row group of ``next_rows`` rows start, with ``in_flight_rows`` rows of
        admitted row groups not recorded yet?"""
        if self.reached(spend):
            return Verdict(
                False, None, f"spent ${spend.cost:.4f}: the ${self.cap:.4f} cap is reached"
            )
        per_row = spend.per_row
        if per_row is None:  # no data yet: one row group at a time
            reason = "no row group has finished yet: one row group at a time"
            return Verdict(in_flight_rows == 0, None, reason)
        projected = spend.cost + per_row * (in_flight_rows + next_rows)
        reason = (
            f"spent ${spend.cost:.4f} of the ${self.cap:.4f} cap; with the next row group "
            f"the projected spend is ${projected:.4f}"
        )
        return Verdict(projected <= self.cap, projected, reason)
