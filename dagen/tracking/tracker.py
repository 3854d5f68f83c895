"""The completion tracker: what is done, what was dropped. Pure bookkeeping, no I/O.

The tracker is fed by the run loop as futures finish; it never talks to the cluster and
never writes a file. It owns the dropped rows of the row groups in flight (for progress and
early shutdown); once a row group is written, its record lives in the run's metadata.

State:

    done[column]          -> cells of the column finished so far (whole run)
    total[column]         -> cells of the column admitted so far
    open[rg]              -> tasks of row group rg not yet finished
    dropped[rg][row]      -> CellFailure, the first reason row ``row`` of ``rg`` was dropped
    written[rg]           -> rows of rg written to the sink
    windows[column]       -> (cells, permanent failures) of the column's most recent
                             finished tasks, about ``window_cells`` cells: the sliding
                             window early shutdown looks at (per column, so that columns
                             that cannot fail do not dilute one that always does)

Example:
    >>> t = CompletionTracker()
    >>> t.admit(0, {"a": 2}, tasks=3)
    >>> t.task_finished(0, ["a"], 2), t.task_finished(0, [], 0)
    (False, False)
    >>> t.record_failures(0, [CellFailure("a", 0, 1, "KeyError", "x")])
    [CellFailure(column='a', row_group=0, row=1, error_type='KeyError', message='x', retryable=False, fatal=False)]
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping

from dagen.generators.base import CellFailure

__all__ = ["CompletionTracker"]


class CompletionTracker:
    """Counts finished tasks and cells, records dropped rows and written row groups."""

    def __init__(self, window_cells: int = 500) -> None:
        self.window_cells = window_cells
        self.windows: dict[str, _Window] = {}  # column -> its most recent outcomes
        self.done: Counter[str] = Counter()  # column -> cells finished
        self.total: Counter[str] = Counter()  # column -> cells admitted
        self.open: dict[int, int] = {}  # rg -> tasks not finished
        self.dropped: dict[int, dict[int, CellFailure]] = {}  # rg -> row -> first failure
        self.written: dict[int, int] = {}  # rg -> rows written

    def admit(self, row_group: int, cells: Mapping[str, int], *, tasks: int) -> None:
        """A row group's tasks were handed to the scheduler.

        Args:
            row_group: the row group index.
            cells: per column, the cells (rows) the row group will produce.
            tasks: the number of Dask tasks submitted for it.
        """
        self.open[row_group] = tasks
        self.total.update(cells)

    def task_finished(self, row_group: int, columns: Iterable[str], cells: int) -> bool:
        """A task finished ``cells`` cells of each of ``columns`` (none for a collector or
        a checkpoint); True when it was the row group's last one."""
        for column in columns:
            self.done[column] += cells
        self.open[row_group] -= 1
        return self.open[row_group] == 0

    def record_failures(self, row_group: int, failures: Iterable[CellFailure]) -> list[CellFailure]:
        """Record why rows were dropped; returns the failures that were new."""
        known = self.dropped.setdefault(row_group, {})
        new = []
        for failure in failures:
            if failure.row not in known:
                known[failure.row] = failure
                new.append(failure)
        return new

    def observe(self, column: str, cells: int, failures: int) -> None:
        """A task of ``column`` finished ``cells`` cells, ``failures`` of them failing for good."""
        window = self.windows.setdefault(column, _Window(self.window_cells))
        window.add(cells, failures)

    def failure_rate(self, min_cells: int) -> tuple[float, str] | None:
        """The highest share of failed cells in a column's window, and that column; None
        until some column's window holds ``min_cells`` cells."""
        rates = [(w.rate, c) for c, w in self.windows.items() if w.cells >= min_cells]
        return max(rates) if rates else None

    def row_group_written(self, row_group: int, rows: int) -> None:
        """A row group's surviving rows reached the sink."""
        self.written[row_group] = rows
        self.open.pop(row_group, None)

    # -- views -------------------------------------------------------------------------

    @property
    def rows_written(self) -> int:
        return sum(self.written.values())

    @property
    def rows_dropped(self) -> int:
        return sum(len(rows) for rows in self.dropped.values())

    def drop_reasons(self) -> Counter[tuple[str, str]]:
        """How many rows were dropped per (column, error type)."""
        return Counter(
            (f.column, f.error_type) for rows in self.dropped.values() for f in rows.values()
        )

    def most_common_failure(self) -> CellFailure | None:
        """An example of the most frequent (column, error type) of dropped rows."""
        reasons = self.drop_reasons()
        if not reasons:
            return None
        (column, error_type), _ = reasons.most_common(1)[0]
        return next(
            f
            for rows in self.dropped.values()
            for f in rows.values()
            if (f.column, f.error_type) == (column, error_type)
        )


class _Window:
    """A sliding window over (cells, failures) of finished tasks, about ``size`` cells."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: deque[tuple[int, int]] = deque()
        self.cells = 0
        self.failures = 0

    def add(self, cells: int, failures: int) -> None:
        self.entries.append((cells, failures))
        self.cells += cells
        self.failures += failures
        while self.entries and self.cells - self.entries[0][0] >= self.size:
            old_cells, old_failures = self.entries.popleft()
            self.cells -= old_cells
            self.failures -= old_failures

    @property
    def rate(self) -> float:
        return self.failures / self.cells if self.cells else 0.0
