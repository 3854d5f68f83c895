"""How row groups enter a run and leave it for the sink: one flow per kind of run.

The run state (``dagen.runner.state``) admits, assembles and records row groups the same
way for every run; what differs is asked of its flow, so the state never asks which kind
of run it is:

    flow      which row groups, how large                 written when
    Planned   the spec's row groups, in order (a resumed  as each is assembled; with a
              or updated run's gaps and changed ones      callback, delivered and recorded
              first), each of its planned size            in row order
    Exact     sized from the keep rate so far             in index order, the one that
              (``dagen.lowering.exact``), until exactly   reaches the target cut to the rows
              n rows are written                          still needed, the rest cancelled

Pure: no Dask, no I/O.

Example:
    >>> flow = Planned(row_groups(5, 2), in_order=False)
    >>> flow.take(), flow.take(), flow.more()
    (RowGroup(index=0, start=0, size=2), RowGroup(index=1, start=2, size=2), True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from dagen.lowering.exact import ExactPlanner
from dagen.lowering.plan import RowGroup, row_groups  # noqa: F401  (the example)
from dagen.runner.events import InOrder
from dagen.sinks.assemble import RowGroupResult, head

__all__ = ["Exact", "Flow", "Planned"]

Due = tuple[RowGroupResult, Any]  # a written row group and what the sink returned for it


class Flow(Protocol):
    """The part of a run that differs between kinds of runs (module docstring)."""

    def more(self) -> bool:
        """Whether row groups may still be admitted (now or later)."""

    def next_size(self) -> int | None:
        """The size the next row group is taken at by the budget (None: no next)."""

    def take(self) -> RowGroup | None:
        """The next row group to admit, or None for now."""

    def expect(self, index: int) -> None:
        """A row group was admitted (its place in the order)."""

    @property
    def held(self) -> int:
        """Row groups assembled or written but held back for their turn (they count
        against the window)."""

    def assembled(self, result: RowGroupResult) -> list[RowGroupResult]:
        """A row group is assembled: the row groups to write now, in order."""

    def written(self, result: RowGroupResult, file: Any) -> list[Due]:
        """A row group was written: the written row groups due to be delivered and
        recorded now, in order."""

    @property
    def complete(self) -> bool:
        """Whether the run's target is written while row groups are still in flight
        (they are not needed: the state cancels them)."""

    def stuck(self) -> str | None:
        """Why the run cannot go on, asked when nothing is in flight and nothing could be
        admitted (None: it simply has nothing left)."""

    def give_up(self) -> str | None:
        """Why the run cannot reach its target, asked after each assembled row group."""

    def cancelled(self) -> None:
        """The row groups in flight were cancelled (``complete``)."""


class Planned:
    """The row groups of the spec, each written as soon as it is assembled.

    Args:
        groups: the row groups, in order (made as they are asked for).
        in_order: deliver and record written row groups in row order (an
            ``on_row_group`` callback sees them so); else each is recorded at once.
    """

    def __init__(self, groups: Sequence[RowGroup], in_order: bool) -> None:
        self.groups = groups
        self._pending: Iterator[RowGroup] = iter(groups)  # lazy: any -n plans at once
        self._admitted = 0
        self._order: InOrder[Due] | None = InOrder() if in_order else None

    def more(self) -> bool:
        return self._admitted < len(self.groups)

    def next_size(self) -> int | None:
        return self.groups[self._admitted].size if self.more() else None

    def take(self) -> RowGroup | None:
        if not self.more():
            return None
        self._admitted += 1
        return next(self._pending)

    def expect(self, index: int) -> None:
        if self._order is not None:
            self._order.expect(index)

    @property
    def held(self) -> int:
        return len(self._order) if self._order is not None else 0

    def assembled(self, result: RowGroupResult) -> list[RowGroupResult]:
        return [result]

    def written(self, result: RowGroupResult, file: Any) -> list[Due]:
        if self._order is None:
            return [(result, file)]
        return self._order.put(result.row_group, (result, file))

    @property
    def complete(self) -> bool:
        return False

    def stuck(self) -> str | None:
        return None

    def give_up(self) -> str | None:
        return None

    def cancelled(self) -> None:
        self._order = InOrder() if self._order is not None else None


class Exact:
    """An exact run: row groups sized as it goes, written in index order, the last one
    cut to the rows still needed (``dagen.lowering.exact``).

    Args:
        planner: sizes the row groups (a resumed run's: after those it wrote).
        row_group_size: the largest row group (what the budget takes the next one at).
    """

    def __init__(self, planner: ExactPlanner, row_group_size: int) -> None:
        self.planner = planner
        self.row_group_size = row_group_size
        self._order: InOrder[RowGroupResult] = InOrder()  # assembled, not written yet

    def more(self) -> bool:
        return not self.planner.done

    def next_size(self) -> int | None:
        return self.row_group_size if self.more() else None

    def take(self) -> RowGroup | None:
        return self.planner.next_row_group()

    def expect(self, index: int) -> None:
        self._order.expect(index)

    @property
    def held(self) -> int:
        return len(self._order)

    def assembled(self, result: RowGroupResult) -> list[RowGroupResult]:
        self.planner.finished(result.row_group, result.rows)
        due = []
        for ready in self._order.put(result.row_group, result):
            take = self.planner.wrote(ready.rows)
            due.append(ready if take == ready.rows else head(ready, take))
            if self.planner.done:
                break
        return due

    def written(self, result: RowGroupResult, file: Any) -> list[Due]:
        return [(result, file)]

    @property
    def complete(self) -> bool:
        return self.planner.done

    def stuck(self) -> str | None:
        if self.planner.done:
            return None
        return self._why(self.planner.give_up() or "no more rows may be generated")

    def give_up(self) -> str | None:
        reason = None if self.planner.done else self.planner.give_up()
        return None if reason is None else self._why(reason)

    def _why(self, reason: str) -> str:
        planner = self.planner
        return (
            f"--exact: {reason}, so {planner.target} rows cannot be written "
            f"({planner.written} were)"
        )

    def cancelled(self) -> None:
        self._order = InOrder()
