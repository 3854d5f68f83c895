"""dagen on the Dask scheduler: the ``/dagen`` dashboard page and ``dagen_*`` metrics.

This package runs in the scheduler's process. ``DashboardPlugin`` (a ``SchedulerPlugin``)
keeps the latest figures of the current and recent runs (``FiguresBoard``), fed by the
events of the internal figures topic that clients and workers publish about once per
second (``dagen.cluster.signals``). On start it adds the page to the scheduler's running
Bokeh dashboard (``dagen.dashboard.page``, linked from the dashboard's menu) and the
``dagen_*`` metrics to its ``/metrics`` (``dagen.dashboard.metrics``).

dagen registers the plugin itself at the start of every run, on any scheduler whose
Python can import dagen. To have the page before the first run, start the scheduler
with it preloaded:

    dask scheduler --preload dagen.dashboard

Example:
    >>> client.register_plugin(DashboardPlugin())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from dagen.dashboard.board import FiguresBoard
from dagen.tracking.figures import FIGURES_TOPIC

__all__ = ["PLUGIN_NAME", "DashboardPlugin", "dask_setup", "page_served"]

log = logging.getLogger("dagen")

PLUGIN_NAME = "dagen-dashboard"


class DashboardPlugin(SchedulerPlugin):
    """Holds the runs' figures, serves the page and the metrics (see the module docstring).

    Registered once per scheduler: registering it again keeps the one running (and its
    recent runs).
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self) -> None:
        self.board = FiguresBoard()
        self.page = False  # whether /dagen is served

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a fresh board on the scheduler

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    async def start(self, scheduler: Any) -> None:
        from dagen.dashboard.metrics import register

        register(self.board)
        if "bokeh" not in sys.modules:  # no dashboard (yet: ``dagen.dashboard.later``)
            return
        from dagen.dashboard.page import add_page

        try:
            self.page = add_page(scheduler, self.board)
        except Exception:  # a dashboard of another shape: the metrics still work
            log.warning("cannot add the dagen page to the Dask dashboard", exc_info=True)

    def log_event(self, topic: str, msg: Any) -> None:
        if topic == FIGURES_TOPIC and isinstance(msg, dict):
            self.board.update(msg, time.monotonic())


def page_served(dask_scheduler: Any = None) -> bool:
    """Whether the scheduler's dagen plugin serves the page (run on the scheduler)."""
    plugin = getattr(dask_scheduler, "plugins", {}).get(PLUGIN_NAME)
    return bool(getattr(plugin, "page", False))


async def dask_setup(scheduler: Any) -> None:
    """``dask scheduler --preload dagen.dashboard``: the plugin from the scheduler's start."""
    await scheduler.register_scheduler_plugin(DashboardPlugin(), name=PLUGIN_NAME, idempotent=True)
