"""Quieting Dask's logs while a cluster dagen started closes.

A worker outlives the scheduler by a moment when a cluster closes, and a heartbeat in that
moment logs a "Failed to communicate with scheduler" traceback that is no news to the user
(the worker processes of a local cluster share the user's terminal). So, however the run
ended, before such a cluster closes Dask's loggers are raised above CRITICAL in its workers
(for good: they are about to stop) and in this process (until the cluster has closed, then
put back). Dask's errors during the run stay visible, and a cluster dagen did not start is
never touched.

Example:
    >>> levels = quiet(client)       # doctest: +SKIP
    >>> cluster.close()              # doctest: +SKIP
    >>> restore_levels(levels)       # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["aquiet", "quiet", "restore_levels"]

QUIET_TIMEOUT = 0.5  # seconds a closing run waits for the workers' logs to be quieted


def quiet(client: Any) -> dict[str, int]:
    """Dask's logs off in ``client``'s workers and in this process; this process's levels
    before, for ``restore_levels``. Best effort and bounded: a Ctrl-C exit waits for nothing."""
    with contextlib.suppress(Exception):
        client.run(dask_logs_off, on_error="ignore", callback_timeout=QUIET_TIMEOUT)
    return dask_logs_off()


async def aquiet(client: Any) -> dict[str, int]:
    """``quiet`` for an asynchronous client."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.run(dask_logs_off, on_error="ignore"), QUIET_TIMEOUT)
    return dask_logs_off()


def dask_logs_off() -> dict[str, int]:
    """Raise Dask's loggers (``distributed`` and those under it) in this process above
    CRITICAL; their levels before."""
    names = ["distributed"]
    names += [name for name in logging.root.manager.loggerDict if name.startswith("distributed.")]
    before: dict[str, int] = {}
    for name in names:
        found = logging.getLogger(name)
        before[name] = found.level
        found.setLevel(logging.CRITICAL + 1)
    return before


def restore_levels(levels: dict[str, int]) -> None:
    """Put back the levels ``quiet`` returned."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
