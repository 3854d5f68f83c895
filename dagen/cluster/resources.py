"""Forgetting a finished run's model resources, on the workers and on the scheduler.

A run caps each model's calls on each worker with a Dask worker resource
(``tasks.resource_name``); when the run ends, ``RunSession`` removes them everywhere with
these two functions (run with ``client.run`` and ``client.run_on_scheduler``). A resource
still held by a task (a cancelled one not yet gone) is set to 0 instead of removed, so
nothing of the next run can take it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["drop_scheduler_resources", "drop_worker_resources"]


# worker task states that hold, or are about to take, their resources
_HOLDING = frozenset(
    {"waiting", "constrained", "executing", "long-running", "cancelled", "resumed"}
)


def drop_worker_resources(names: list[str], dask_worker: Any = None) -> list[str]:
    """Remove a finished run's resources from this worker; those still held by a task (a
    cancelled one not yet gone) are set to 0 instead. The names removed."""
    state = dask_worker.state
    held = {
        r
        for ts in state.tasks.values()
        if ts.state in _HOLDING
        for r in (ts.resource_restrictions or {})
    }
    removed = []
    for name in names:
        if name not in state.total_resources:
            continue
        if name in held:
            state.available_resources[name] -= state.total_resources[name]
            state.total_resources[name] = 0
            continue
        state.total_resources.pop(name)
        state.available_resources.pop(name, None)
        removed.append(name)
    return removed


def drop_scheduler_resources(names: list[str], dask_scheduler: Any = None) -> None:
    """Forget a finished run's resources on the scheduler, for every worker with no task
    of them in progress."""
    for ws in dask_scheduler.workers.values():
        busy = {r for ts in ws.processing for r in (ts.resource_restrictions or {})}
        for name in names:
            if name in busy:
                continue
            ws.resources.pop(name, None)
            ws.used_resources.pop(name, None)
            dask_scheduler.resources.get(name, {}).pop(ws.address, None)
    for name in names:
        if not dask_scheduler.resources.get(name, True):
            dask_scheduler.resources.pop(name, None)
