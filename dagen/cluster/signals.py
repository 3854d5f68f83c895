"""What a run tells the cluster about itself: figures, events, a span, the dagen page.

Nothing here runs per cell. Each worker publishes its model clients' figures once per
``PUBLISH_INTERVAL`` (a periodic callback the run plugin starts on the worker's event
loop, reading ``dagen.inference.pool.scope_figures``); the client's run loop publishes the
run's figures about as often. Both are Dask events on the internal topic
``FIGURES_TOPIC``: the client subscribes to it (worker figures feed the progress bar and
the timeline), and so does the scheduler's ``dagen.dashboard.DashboardPlugin``, which
serves the dagen page and the ``dagen_*`` Prometheus metrics. Each row group written is an
event on the public topic ``EVENTS_TOPIC`` (``client.subscribe_topic("dagen", f)``). The
client sends its events in order without waiting for each (``Publisher``), and
the run's tasks carry a ``distributed.span("dagen", <run>)``, so Dask's own fine
performance metrics group by run.

Example:
    >>> with watch(client, run_id, received.append) as page:  # doctest: +SKIP
    ...     Publisher(client).figures(progress.to_message())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from distributed import Client, span
from tornado.ioloop import PeriodicCallback

from dagen.inference.pool import scope_figures
from dagen.tracking.figures import EVENTS_TOPIC, FIGURES_TOPIC

__all__ = [
    "PUBLISH_INTERVAL",
    "Publisher",
    "WorkerPublisher",
    "dagen_page",
    "watch",
]

log = logging.getLogger("dagen")

PUBLISH_INTERVAL = 1.0  # seconds between a worker's (and the client's) figures


@contextlib.contextmanager
def watch(
    client: Client, run_id: str, received: Callable[[dict[str, Any]], None]
) -> Iterator[str | None]:
    """While a run lasts: its span, the workers' figures handed to ``received``, and the
    dagen page installed on the scheduler (its URL is yielded; None when there is none)."""
    page = dagen_page(client)

    def handler(event: tuple[float, Any]) -> None:
        message = event[1]
        if isinstance(message, dict) and message.get("run") == run_id and "worker" in message:
            received(message)

    client.subscribe_topic(FIGURES_TOPIC, handler)
    try:
        with span("dagen", run_id):
            yield page
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(FIGURES_TOPIC)


def dagen_page(client: Client) -> str | None:
    """Install the dagen plugin on the scheduler (once) and say where its page is.

    The plugin adds the page to a running dashboard, so any scheduler works whose Python
    can import dagen. Logs the Dask dashboard's link and the page's, or why there is no page.
    """
    from dagen.dashboard import DashboardPlugin, later, page_served

    link = client.dashboard_link
    try:
        client.register_plugin(DashboardPlugin())
        served = client.run_on_scheduler(page_served)
    except Exception as exc:  # the scheduler cannot import dagen (a bare `dask scheduler`)
        if link:
            log.info("Dask dashboard: %s", link)
        log.warning(
            "the dagen page and dagen_* metrics are not available on this scheduler (%s: %s); "
            "install dagen where the scheduler runs and start it with "
            "`dask scheduler --preload dagen.dashboard`",
            type(exc).__name__,
            exc,
        )
        return None
    if later.deferred(getattr(client.scheduler, "address", None)):
        return None  # its link is logged once the run is under way (dagen.dashboard.later)
    if not served or link is None:
        log.debug("the scheduler has no Bokeh dashboard: dagen_* metrics only")
        return None
    page = link.rsplit("/", 1)[0] + "/dagen"
    log.info("Dask dashboard: %s  (dagen page: %s)", link, page)
    return page


class Publisher:
    """Sends a client's events to the scheduler in the order given, without waiting for
    each (``Client.log_event`` waits for the scheduler's answer: ~1 ms of the run loop
    per row group).

    Events are sent one after another on the client's event loop; ``flush`` waits for
    those sent so far. Publishing is best effort: an event the scheduler does not take
    (it is going away) is logged at debug level, and the run goes on.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._in_order: asyncio.Lock | None = None  # made and used on the client's loop

    def figures(self, message: dict[str, Any]) -> None:
        """The client's figures of a run (``RunProgress.to_message()``)."""
        self._send(FIGURES_TOPIC, message)

    def row_group(self, event: dict[str, Any]) -> None:
        """The public event of a row group written (see the module docstring)."""
        self._send(EVENTS_TOPIC, event)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the events sent so far have reached the scheduler (or failed)."""
        with contextlib.suppress(Exception):  # a client that is closing: nothing to wait for
            self.client.sync(self._sent, callback_timeout=timeout)

    def _send(self, topic: str, message: dict[str, Any]) -> None:
        # callbacks run in the order they are added, and the lock serves its waiters in
        # the order they came: the events reach the scheduler in the order sent
        loop = self.client.loop
        if loop is not None:  # None: the client is closed, there is nobody to tell
            loop.add_callback(self._log_event, topic, message)

    def _lock(self) -> asyncio.Lock:
        if self._in_order is None:
            self._in_order = asyncio.Lock()
        return self._in_order

    async def _log_event(self, topic: str, message: dict[str, Any]) -> None:
        async with self._lock():
            try:
                scheduler = self.client.scheduler
                assert scheduler is not None  # a client with a loop has its scheduler
                await scheduler.log_event(topic=topic, msg=message)
            except Exception:  # the scheduler is going away: the run must not stop
                log.debug("cannot publish an event on %s", topic, exc_info=True)

    async def _sent(self) -> None:
        async with self._lock():
            pass


class WorkerPublisher:
    """Publishes a worker's model figures of one run every ``PUBLISH_INTERVAL`` seconds.

    Started by the run plugin on the worker's event loop; stopped (after a last message)
    when the run finishes. A run without models, or before its first call, sends nothing.
    """

    def __init__(self, run_id: str, worker: Any) -> None:
        self.run_id = run_id
        self.worker = worker
        self._callback = PeriodicCallback(self.publish, PUBLISH_INTERVAL * 1000)

    def start(self) -> None:
        self._callback.start()

    def stop(self) -> None:
        if self._callback.is_running():
            self._callback.stop()
            self.publish()

    def publish(self) -> None:
        figures = scope_figures(self.run_id)
        if not figures:
            return
        for model in figures.values():
            model["latency"] = {str(k): n for k, n in model["latency"].items()}
        self.worker.log_event(
            FIGURES_TOPIC,
            {
                "kind": "worker",
                "run": self.run_id,
                "worker": self.worker.address,
                "time": time.time(),
                "models": figures,
            },
        )
