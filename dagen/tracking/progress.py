"""A run's progress at one moment (``RunProgress``), and the rate of cells behind its ETA.

Progress is counted in cells (one column of one row), planned over the whole run, not
only in rows written: a row is written only when its row group is complete, so counting
rows alone shows nothing for the first row group's whole duration and then jumps. Rates
are cells finished per second over a trailing window (``RateMeter``), per column and in
all. A row is complete only when every column is, and samplers finish a whole row group
at once while model columns take the time, so the figures follow the slowest column: the
fraction done is the least done column's, ``rows_per_s`` the slowest unfinished column's
rate, and the ETA its cells left over that rate. None of them runs ahead of the rows.

An exact run (``--exact``) cannot know its cells in advance: how many rows it generates
depends on how many its filters keep. Its figures follow the rows written against the
rows it must write: the fraction is rows written over planned, ``rows_per_s`` the rate
rows are written at, the ETA the rows left over that rate; ``columns`` then counts the
cells of the row groups admitted so far.

The client's run loop builds one about once per second (``dagen.runner.monitor``); it
feeds the CLI's progress bar, the progress log, a ``progress=`` callback of ``generate``,
and, as ``to_message()``, the dagen page of the Dask dashboard.

Example:
    >>> p = RunProgress(run="r1", elapsed=10.0, columns={"a": (50, 100), "b": (25, 100)},
    ...                 rows_planned=100, cells_per_s=7.5, rates={"a": 5.0, "b": 2.5})
    >>> p.fraction, p.rows_per_s, p.eta
    (0.25, 2.5, 30.0)
    >>> RunProgress.from_message(p.to_message()) == p
    True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagen.tracking.figures import ModelFigures

__all__ = ["RateMeter", "RunProgress"]


@dataclass(frozen=True)
class RunProgress:
    """One run's progress (see the module docstring).

    Attributes:
        run: the run token (Dask keys, spans and events carry it).
        elapsed: seconds since the run started.
        columns: column -> (cells done, cells planned over the whole run).
        rows_planned: rows this run generates.
        rows_written: rows the sink received.
        rows_dropped: rows dropped so far (in row groups written or in flight).
        row_groups_written: row groups the sink received.
        row_groups_total: row groups of this run.
        row_groups_in_flight: row groups handed to Dask and not yet written.
        cells_per_s: cells finished per second over the last window.
        rates: column -> its cells finished per second over the last window.
        status: ``running``, ``complete`` or ``stopped``.
        drops: the most frequent reasons rows were dropped: (column, error type, rows).
        models: alias -> the model's figures (calls in flight, 429s, latency...).
        name: a label for the run (the output folder, when there is one).
        cost: USD spent so far on the output (earlier runs' spend, then this run's calls
            at the models' prices, live); None when no model the run calls has a price.
        exact: an exact run: the figures follow rows written (see the module docstring).
        rows_rate: rows written per second over the last window (an exact run's rate).
    """

    run: str
    elapsed: float = 0.0
    columns: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows_planned: int = 0
    rows_written: int = 0
    rows_dropped: int = 0
    row_groups_written: int = 0
    row_groups_total: int = 0
    row_groups_in_flight: int = 0
    cells_per_s: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)
    status: str = "running"
    drops: tuple[tuple[str, str, int], ...] = ()
    models: dict[str, ModelFigures] = field(default_factory=dict)
    name: str = ""
    cost: float | None = None
    exact: bool = False
    rows_rate: float = 0.0

    @property
    def cells_done(self) -> int:
        return sum(done for done, _ in self.columns.values())

    @property
    def cells_planned(self) -> int:
        return sum(planned for _, planned in self.columns.values())

    @property
    def fraction(self) -> float:
        """The least done column's cells done over planned (1.0 with nothing to do); an
        exact run's rows written over planned."""
        if self.exact:
            return min(1.0, self.rows_written / self.rows_planned) if self.rows_planned else 1.0
        shares = [min(1.0, done / planned) for done, planned in self.columns.values() if planned]
        return min(shares, default=1.0)

    @property
    def rows_per_s(self) -> float:
        """Rows per second: the slowest unfinished column's cell rate (rows cannot complete
        faster); once every column is done, all cells per second over the columns. An
        exact run's rows written per second."""
        if self.exact:
            return self.rows_rate
        rates = [self.rates.get(c, 0.0) for c, (done, planned) in self.columns.items()
                 if done < planned]  # fmt: skip
        if rates:
            return min(rates)
        return self.cells_per_s / len(self.columns) if self.columns else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left: the slowest unfinished column's cells left over its rate; 0 when
        complete, None while an unfinished column has made no progress in the window, and
        for a stopped run (it has no time left; ``dagen run --resume`` starts a new one)."""
        if self.status == "complete":
            return 0.0
        if self.status != "running":
            return None
        if self.exact:
            left = self.rows_planned - self.rows_written
            return 0.0 if left <= 0 else None if self.rows_rate <= 0 else left / self.rows_rate
        slowest = 0.0
        for column, (done, planned) in self.columns.items():
            if done < planned:
                rate = self.rates.get(column, 0.0)
                if rate <= 0:
                    return None
                slowest = max(slowest, (planned - done) / rate)
        return slowest

    def line(self) -> str:
        """One plain line: percentage, rows, rates, ETA (or how the run ended), calls in
        flight per model."""
        eta = "?" if self.eta is None else f"{self.eta:.0f}s"
        ending = f"ETA {eta}" if self.status == "running" else self.status
        text = (
            f"{self.fraction:6.1%} cells {self.cells_done}/{self.cells_planned}, rows written "
            f"{self.rows_written}/{self.rows_planned} ({self.rows_dropped} dropped), "
            f"{self.rows_per_s:.1f} rows/s, {ending}"
        )
        if self.cost is not None:
            text += f", ${self.cost:.4f} spent"
        for m in self.models.values():
            text += f"; {m.alias} {m.in_flight}/{m.cap} in flight, {m.rate_limited} x 429"
        return text

    def to_message(self) -> dict[str, Any]:
        """Plain values, as published to the scheduler (msgpack-able)."""
        return {
            "kind": "run",
            "run": self.run,
            "name": self.name,
            "status": self.status,
            "elapsed": round(self.elapsed, 3),
            "columns": {c: [d, p] for c, (d, p) in self.columns.items()},
            "rows_planned": self.rows_planned,
            "rows_written": self.rows_written,
            "rows_dropped": self.rows_dropped,
            "row_groups_written": self.row_groups_written,
            "row_groups_total": self.row_groups_total,
            "row_groups_in_flight": self.row_groups_in_flight,
            "cells_per_s": round(self.cells_per_s, 3),
            "rates": {c: round(r, 3) for c, r in self.rates.items()},
            "drops": [list(d) for d in self.drops],
            "models": {a: m.to_dict() for a, m in self.models.items()},
            "cost": self.cost,
            "exact": self.exact,
            "rows_rate": round(self.rows_rate, 3),
        }

    @classmethod
    def from_message(cls, data: Mapping[str, Any]) -> RunProgress:
        """The inverse of ``to_message``."""
        return cls(
            run=str(data["run"]),
            name=str(data.get("name", "")),
            status=str(data.get("status", "running")),
            elapsed=float(data.get("elapsed", 0.0)),
            columns={c: (int(v[0]), int(v[1])) for c, v in data.get("columns", {}).items()},
            rows_planned=int(data.get("rows_planned", 0)),
            rows_written=int(data.get("rows_written", 0)),
            rows_dropped=int(data.get("rows_dropped", 0)),
            row_groups_written=int(data.get("row_groups_written", 0)),
            row_groups_total=int(data.get("row_groups_total", 0)),
            row_groups_in_flight=int(data.get("row_groups_in_flight", 0)),
            cells_per_s=float(data.get("cells_per_s", 0.0)),
            rates={c: float(r) for c, r in data.get("rates", {}).items()},
            drops=tuple((str(c), str(e), int(n)) for c, e, n in data.get("drops", [])),
            models={a: ModelFigures.from_dict(m) for a, m in data.get("models", {}).items()},
            cost=float(data["cost"]) if data.get("cost") is not None else None,
            exact=bool(data.get("exact", False)),
            rows_rate=float(data.get("rows_rate", 0.0)),
        )


class RateMeter:
    """Units per second over a trailing window of ``window`` seconds.

    Example:
        >>> m = RateMeter(window=10)
        >>> m.add(0.0, 0); m.add(5.0, 50); m.rate(5.0)
        10.0
    """

    def __init__(self, window: float = 20.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()  # (time, cumulative units)

    def add(self, now: float, total: int) -> None:
        """The cumulative count at ``now``."""
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def rate(self, now: float) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, n0), (_, n1) = self.samples[0], self.samples[-1]
        return (n1 - n0) / (now - t0) if now > t0 else 0.0
