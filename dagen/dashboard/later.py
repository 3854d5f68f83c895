"""The Bokeh dashboard of a local cluster dagen starts, connected once the run is under way.

A scheduler with a dashboard imports Bokeh and distributed's dashboard while it is made
(``Scheduler.__init__``): ~0.4 s of CPU in the client's process, before the first task.
The LocalCluster ``dagen.cluster.clients.open_client`` starts is made without it instead
(its HTTP server listens at the dashboard address from the start: /health, /metrics, the
dagen_* metrics), and once the run's first tasks are submitted a thread imports Bokeh
while the workers compute, then connects the dashboard and the dagen page on the
scheduler's event loop, and logs their link:

    open_client:   defer(cluster)              LocalCluster(dashboard=False), listening
    RunSession:    the dagen plugin registered (metrics; its page waits for Bokeh)
    RunLoop:       first tasks submitted -> connect_soon(address)
    thread:        import Bokeh ............ on the loop: connect, add the page; log the link
    open_client:   forget(cluster) before the cluster closes (a thread still importing
                   then connects nothing)

Until the link is logged the dashboard's pages are not there yet (a few tenths of a second
into the run); the link is logged only once they are.

Example:
    >>> defer(cluster)                      # doctest: +SKIP
    >>> connect_soon(client.scheduler.address, client.dashboard_link)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["connect_soon", "defer", "deferred", "forget"]

log = logging.getLogger("dagen")


@dataclass
class _Deferred:
    scheduler: Any  # the in-process distributed.Scheduler
    loop: Any  # its tornado IOLoop
    prefix: str
    thread: threading.Thread | None = None
    closed: threading.Event = field(default_factory=threading.Event)


_pending: dict[str, _Deferred] = {}  # scheduler address -> its dashboard, not connected yet
_lock = threading.Lock()


def defer(cluster: Any, prefix: str = "/") -> None:
    """``cluster`` (a LocalCluster made without a dashboard) gets its dashboard later."""
    with _lock:
        _pending[cluster.scheduler.address] = _Deferred(cluster.scheduler, cluster.loop, prefix)


def deferred(address: str | None) -> bool:
    """Whether the scheduler at ``address`` gets its dashboard from ``connect_soon``."""
    return address in _pending


def forget(cluster: Any) -> None:
    """Before ``cluster`` closes: nothing more is connected to it."""
    with _lock:
        pending = _pending.pop(cluster.scheduler.address, None)
    if pending is not None:
        pending.closed.set()


def connect_soon(address: str, link: str | None) -> None:
    """Connect the dashboard of the scheduler at ``address`` from a thread (once), then
    log ``link`` and the dagen page's; nothing when it was not deferred."""
    with _lock:
        pending = _pending.get(address)
        if pending is None or pending.thread is not None:
            return
        pending.thread = threading.Thread(
            target=_connect, args=(pending, link), name="dagen-dashboard", daemon=True
        )
    pending.thread.start()


def _connect(pending: _Deferred, link: str | None) -> None:
    try:
        import distributed.dashboard.scheduler  # noqa: F401  (Bokeh: the slow part)

        import dagen.dashboard.page  # noqa: F401  (the dagen page's Bokeh models)
    except ImportError:  # no Bokeh: the metrics alone, as for any scheduler without it
        log.debug("no Bokeh: the scheduler has no dashboard, dagen_* metrics only")
        return
    done = threading.Event()
    page: list[str | None] = [None]

    def on_loop() -> None:
        try:
            if not pending.closed.is_set():
                page[0] = _attach(pending)
        except Exception:  # a dashboard of another shape: the run goes on without it
            log.warning("cannot start the Dask dashboard", exc_info=True)
        finally:
            done.set()

    if pending.closed.is_set():
        return
    try:
        pending.loop.add_callback(on_loop)
    except RuntimeError:  # the loop closed meanwhile
        return
    while not done.wait(0.1):
        if pending.closed.is_set():
            return
    if link and page[0] is not None:
        log.info("Dask dashboard: %s  (dagen page: %s)", link, link.rsplit("/", 1)[0] + page[0])
    elif link:
        log.info("Dask dashboard: %s", link)


def _attach(pending: _Deferred) -> str | None:
    """On the scheduler's loop: Bokeh's dashboard, then the dagen page on it ("/dagen"),
    when the dagen plugin is there (None otherwise)."""
    from distributed.dashboard import scheduler as dashboard

    from dagen.dashboard import PLUGIN_NAME
    from dagen.dashboard.page import add_page

    scheduler = pending.scheduler
    dashboard.connect(
        scheduler.http_application, scheduler.http_server, scheduler, prefix=pending.prefix
    )
    plugin = scheduler.plugins.get(PLUGIN_NAME)
    if plugin is None:
        return None
    if not plugin.page:
        plugin.page = add_page(scheduler, plugin.board)
    return "/dagen" if plugin.page else None
