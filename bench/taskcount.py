"""Counts the Dask tasks a run really creates, on the scheduler, as a preload plugin.

Loaded by every scheduler the bench uses, without touching dagen:

- the LocalCluster dagen starts (its scheduler lives in this process): the bench sets
  ``distributed.scheduler.preload: [bench.taskcount]`` in the Dask config for the run;
- a ``dask scheduler`` process: started with ``--preload bench.taskcount``.

``dask_setup`` adds a ``TaskCounter``. It counts distinct keys that reached a final state
(``memory`` or ``erred``), the most keys the scheduler held at once (live: seen and not
yet forgotten), and when the first transition and the last final one happened
(``time.time()``, so the bench can cut its CPU series to the run's task-processing window).

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
        self.first: float | None = None
        self.last_final: float | None = None

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        now = time.time()
        if self.first is None:
            self.first = now
        if finish == "forgotten":
            self.live.discard(key)
            return
        self.live.add(key)
        if len(self.live) > self.peak_live:
            self.peak_live = len(self.live)
        if finish in ("memory", "erred"):
            self.finished.add(key)
            self.erred += finish == "erred"
            self.last_final = now

    def snapshot(self) -> dict[str, Any]:
        return {
            "tasks": len(self.finished),
            "erred": self.erred,
            "peak_live": self.peak_live,
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
