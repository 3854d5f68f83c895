"""Counts the Dask tasks a run really creates, on the scheduler, as a preload plugin.

Loaded by every scheduler the bench uses, without touching dagen:

- the LocalCluster dagen starts (its scheduler lives in this process): the bench sets
  ``distributed.scheduler.preload: [bench.taskcount]`` in the Dask config for the run;
- a ``dask scheduler`` process: started with ``--preload bench.taskcount``.

``dask_setup`` adds a ``TaskCounter``. It counts distinct keys that reached a final state
(``memory`` or ``erred``), the most keys the scheduler held at once (live: seen and not
yet forgotten) and how many row groups they belonged to then, and when the first
transition and the last final one happened (``time.time()``, so the bench can cut its CPU
series to the run's task-processing window).

Example:
    >>> counter = TaskCounter()
    >>> counter.transition(("a", "r1", 0, 0), "released", "waiting")
    >>> counter.transition(("a", "r1", 0, 0), "processing", "memory")
    >>> counter.snapshot()["tasks"], counter.snapshot()["peak_live"]
    (1, 1)
"""

from __future__ import annotations

import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["TaskCounter", "dask_setup", "latest", "reset_on_scheduler", "snapshot_on_scheduler"]

NAME = "bench-task-count"
_LATEST: list[TaskCounter] = []  # the counter of the newest scheduler of this process


class TaskCounter(SchedulerPlugin):
    """Distinct finished keys, peak live keys, first and last transition times."""

    name = NAME

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.finished: set[Any] = set()
        self.erred = 0
        self.live: set[Any] = set()
        self.peak_live = 0
        self.live_groups: dict[Any, int] = {}  # (run, row group) -> live keys
        self.peak_groups = 0  # row groups with live keys when the live count peaked
        self.first: float | None = None
        self.last_final: float | None = None

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        now = time.time()
        if self.first is None:
            self.first = now
        if finish == "forgotten":
            if key in self.live:
                self.live.discard(key)
                self._count_group(key, -1)
            return
        if key not in self.live:
            self.live.add(key)
            self._count_group(key, +1)
        if len(self.live) > self.peak_live:
            self.peak_live = len(self.live)
            self.peak_groups = len(self.live_groups)
        if finish in ("memory", "erred"):
            self.finished.add(key)
            self.erred += finish == "erred"
            self.last_final = now

    def _count_group(self, key: Any, delta: int) -> None:
        """dagen's keys are (column, run, row group, ...): count live keys per row group."""
        if not (isinstance(key, tuple) and len(key) >= 3 and isinstance(key[2], int)):
            return
        group = key[1:3]
        left = self.live_groups.get(group, 0) + delta
        if left:
            self.live_groups[group] = left
        else:
            self.live_groups.pop(group, None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "tasks": len(self.finished),
            "erred": self.erred,
            "peak_live": self.peak_live,
            "peak_live_row_groups": self.peak_groups,
            "first": self.first,
            "last_final": self.last_final,
        }


def dask_setup(scheduler: Any) -> None:
    """Preload hook: add a fresh counter to a scheduler that is starting."""
    counter = TaskCounter()
    scheduler.add_plugin(counter, name=NAME)
    _LATEST[:] = [counter]


def latest() -> TaskCounter | None:
    """The counter of the newest scheduler started in this process."""
    return _LATEST[0] if _LATEST else None


def snapshot_on_scheduler(dask_scheduler: Any = None) -> dict[str, Any]:
    """For ``client.run_on_scheduler``: the counter's figures."""
    return dask_scheduler.plugins[NAME].snapshot()  # type: ignore[no-any-return]


def reset_on_scheduler(dask_scheduler: Any = None) -> None:
    """For ``client.run_on_scheduler``: start counting afresh."""
    dask_scheduler.plugins[NAME].reset()
