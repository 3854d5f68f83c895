"""The Bokeh dashboard of a local cluster dagen starts, connected when someone opens it.

A scheduler with a dashboard imports Bokeh and distributed's dashboard while it is made
(``Scheduler.__init__``): ~0.4 s of CPU in the client's process, before the first task,
and as much again while the run goes on (~15% of a sampler-only run's client CPU) though
nobody may ever look. The LocalCluster ``dagen.cluster.clients.open_client`` starts is
made without it instead (its HTTP server listens at the dashboard address from the
start: /health, /metrics, the dagen_* metrics). Once the run's first tasks are submitted
its link is logged, and the first request for a page the server does not have yet wakes
the dashboard: a thread imports Bokeh, the dashboard and the dagen page are connected on
the scheduler's event loop, and the request is sent to the same address again, which
now has it. That first page takes a second longer; a run nobody watches never pays.

    open_client:   defer(cluster)              LocalCluster(dashboard=False), listening
    RunSession:    the dagen plugin registered (metrics; its page waits for Bokeh)
    RunLoop:       first tasks submitted -> offer(address, link): link logged
    a browser:     GET /status -> thread: import Bokeh -> on the loop: connect, add the
                   page -> 302 /status -> Bokeh's page
    open_client:   forget(cluster) before the cluster closes (a thread still importing
                   then connects nothing)

The dashboard's history (task stream, progress) starts when it is connected; the dagen
page reads the run's figures from the dagen plugin, which has them from the start.

Example:
    >>> defer(cluster)                      # doctest: +SKIP
    >>> offer(client.scheduler.address, client.dashboard_link)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from tornado.web import RequestHandler

__all__ = ["defer", "deferred", "forget", "offer"]

log = logging.getLogger("dagen")

WAKING_TIMEOUT = 60.0  # seconds a first request waits for Bokeh before it is answered 503


@dataclass
class _Deferred:
    scheduler: Any  # the in-process distributed.Scheduler
    loop: Any  # its tornado IOLoop
    prefix: str
    thread: threading.Thread | None = None
    closed: threading.Event = field(default_factory=threading.Event)
    settled: threading.Event = field(default_factory=threading.Event)  # connected or not
    connected: bool = False


_pending: dict[str, _Deferred] = {}  # scheduler address -> its dashboard, not connected yet
_lock = threading.Lock()


def defer(cluster: Any, prefix: str = "/") -> None:
    """``cluster`` (a LocalCluster made without a dashboard) gets its dashboard when a
    page it does not have is first asked for."""
    pending = _Deferred(cluster.scheduler, cluster.loop, prefix)
    with _lock:
        _pending[cluster.scheduler.address] = pending
    settings = cluster.scheduler.http_application.settings
    settings["default_handler_class"] = _Waking  # asked when no route matches, until
    settings["default_handler_args"] = {"pending": pending}  # connected (``_settle``)


def deferred(address: str | None) -> bool:
    """Whether the scheduler at ``address`` gets its dashboard when it is opened."""
    return address in _pending


def forget(cluster: Any) -> None:
    """Before ``cluster`` closes: nothing more is connected to it."""
    with _lock:
        pending = _pending.pop(cluster.scheduler.address, None)
    if pending is not None:
        pending.closed.set()
        _settle(pending)


def _settle(pending: _Deferred) -> None:
    """Connected, or never will be: unknown pages are the server's own 404 again (and
    distributed's routing asks Bokeh's applications, once there, for them)."""
    settings = pending.scheduler.http_application.settings
    settings.pop("default_handler_class", None)
    settings.pop("default_handler_args", None)
    pending.settled.set()


def offer(address: str, link: str | None) -> None:
    """Log the link of the deferred dashboard of the scheduler at ``address`` (and the
    dagen page's, when the dagen plugin is there); nothing when it was not deferred."""
    from dagen.dashboard import PLUGIN_NAME

    with _lock:
        pending = _pending.get(address)
    if pending is None or link is None:
        return
    if PLUGIN_NAME in pending.scheduler.plugins:
        log.info("Dask dashboard: %s  (dagen page: %s)", link, link.rsplit("/", 1)[0] + "/dagen")
    else:
        log.info("Dask dashboard: %s", link)


def _wake(pending: _Deferred) -> None:
    """Start connecting the dashboard (once)."""
    with _lock:
        if pending.thread is not None or pending.closed.is_set():
            return
        pending.thread = threading.Thread(
            target=_connect, args=(pending,), name="dagen-dashboard", daemon=True
        )
    pending.thread.start()


class _Waking(RequestHandler):
    """A page the scheduler's server does not have, before the dashboard is connected:
    connect it, then ask again."""

    def initialize(self, pending: _Deferred) -> None:
        self.pending = pending

    async def get(self, *args: Any) -> None:
        pending = self.pending
        if pending.settled.is_set():  # asked while it settled: there is no such page
            self.send_error(404)
            return
        _wake(pending)
        waited = 0.0
        while not pending.settled.is_set() and waited < WAKING_TIMEOUT:
            await asyncio.sleep(0.05)
            waited += 0.05
        if pending.connected:
            self.redirect(self.request.uri or "/")  # the same page, from Bokeh this time
        else:
            self.send_error(404 if pending.settled.is_set() else 503)


def _connect(pending: _Deferred) -> None:
    try:
        import distributed.dashboard.scheduler  # noqa: F401  (Bokeh: the slow part)

        import dagen.dashboard.page  # noqa: F401  (the dagen page's Bokeh models)
    except ImportError:  # no Bokeh: the metrics alone, as for any scheduler without it
        log.debug("no Bokeh: the scheduler has no dashboard, dagen_* metrics only")
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            pending.loop.add_callback(_settle, pending)
        return

    def on_loop() -> None:
        try:
            if not pending.closed.is_set():
                _attach(pending)
                pending.connected = True
        except Exception:  # a dashboard of another shape: the run goes on without it
            log.warning("cannot start the Dask dashboard", exc_info=True)
        finally:
            _settle(pending)

    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
        pending.loop.add_callback(on_loop)


def _attach(pending: _Deferred) -> None:
    """On the scheduler's loop: Bokeh's dashboard, then the dagen page on it ("/dagen"),
    when the dagen plugin is there."""
    from distributed.dashboard import scheduler as dashboard

    from dagen.dashboard import PLUGIN_NAME
    from dagen.dashboard.page import add_page

    scheduler = pending.scheduler
    dashboard.connect(
        scheduler.http_application, scheduler.http_server, scheduler, prefix=pending.prefix
    )
    plugin = scheduler.plugins.get(PLUGIN_NAME)
    if plugin is not None and not plugin.page:
        plugin.page = add_page(scheduler, plugin.board)
