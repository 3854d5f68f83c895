"""What the scheduler knows of dagen runs: the latest figures of the current and recent runs.

Pure bookkeeping (no Bokeh, no Prometheus), fed by ``DashboardPlugin.log_event`` with the
messages of the internal figures topic: a client's ``{"kind": "run", ...}`` message about
once per second (``RunProgress.to_message()``) and each worker's ``{"kind": "worker", ...}``
message about once per second. The page and the metrics read it.

State:

    runs[run]  -> RunBoard: the client's last progress, the workers' figures, when heard
    (at most ``keep`` runs; the oldest goes first)

Example:
    >>> b = FiguresBoard()
    >>> b.update({"kind": "run", "run": "r1", "columns": {"a": [5, 10]}}, now=1.0)
    >>> b.current().progress.columns
    {'a': (5, 10)}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagen.tracking.figures import ModelFigures, WorkerFigures
from dagen.tracking.progress import RunProgress

__all__ = ["FiguresBoard", "RunBoard"]


@dataclass
class RunBoard:
    """One run as the scheduler sees it."""

    run: str
    progress: RunProgress
    workers: WorkerFigures = field(default_factory=WorkerFigures)
    heard: float = 0.0  # when the client last reported

    def models(self, now: float) -> dict[str, ModelFigures]:
        """The models' figures from the workers' own messages (fresher than the client's)."""
        caps = {a: m.cap for a, m in self.progress.models.items()}
        found = self.workers.models(now, caps)
        return found or dict(self.progress.models)


class FiguresBoard:
    """The latest figures of the ``keep`` most recent runs (see the module docstring)."""

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self.runs: dict[str, RunBoard] = {}  # in order of first appearance

    def update(self, message: Mapping[str, Any], now: float) -> None:
        """Take one message of the figures topic; anything malformed is ignored."""
        try:
            run = str(message["run"])
            kind = message.get("kind")
            if kind == "run":
                progress = RunProgress.from_message(message)
                board = self._board(run, progress)
                board.progress, board.heard = progress, now
            elif kind == "worker":
                self._board(run, RunProgress(run=run)).workers.update(message, now)
        except (KeyError, TypeError, ValueError, IndexError):
            return

    def _board(self, run: str, progress: RunProgress) -> RunBoard:
        board = self.runs.get(run)
        if board is None:
            board = self.runs[run] = RunBoard(run, progress)
            while len(self.runs) > self.keep:
                del self.runs[next(iter(self.runs))]
        return board

    def current(self) -> RunBoard | None:
        """The run heard from last that is still running, else the latest run (only runs
        whose client reported: workers may be heard from first)."""
        heard = [b for b in self.runs.values() if b.heard]
        running = [b for b in heard if b.progress.status == "running"]
        if running:
            return max(running, key=lambda b: b.heard)
        return heard[-1] if heard else None
