"""Workers leave only once their model calls are answered: a leaving worker drains.

Dask lets a worker go with tasks running: on SIGTERM the worker cancels them, and
``retire_workers`` (also what ``cluster.adapt()`` calls to scale down) removes the worker
first and reschedules what it was running elsewhere (only results in memory are moved).
A cancelled model call may still be served, and paid, at the endpoint, while the cell
runs again on another worker: the model is paid twice and, for as long as the first call
lasts, more calls are in flight than its cap. So a worker holding a dagen task that is
running leaves in three steps:

    1. pause      status ``closing_gracefully``: it starts nothing new, the scheduler
                  gives it nothing new (tasks queued on it, never started, go elsewhere)
    2. drain      wait until the run tasks running on it have finished and the scheduler
                  no longer counts them as processing there: it holds their results or
                  has already let them go (at most ``RunContext.call_timeout`` x 2 + 10 s)
    3. leave      ``retire_workers``: the results are copied to other workers, then the
                  worker is removed and closed as Dask would have

Three hooks start it. ``DrainPlugin`` (a worker plugin) wraps the worker's ``close``, which
SIGTERM to ``dask worker --no-nanny`` ends in, and offers the scheduler a ``dagen_drain``
handler and the nanny a ``dagen_leave`` one. ``NannyDrainPlugin`` (a nanny plugin) wraps
the nanny's ``close``, which SIGTERM to ``dask worker`` with a nanny ends in: the worker
leaves first, before the nanny's 8 s kill timer starts. ``RetireDrainPlugin`` (a scheduler plugin) wraps the scheduler's
``retire_workers`` handler, so that a retirement asked by a client or an adaptive cluster
pauses and drains the workers before Dask retires them. A worker running no dagen task
leaves as before. A worker killed outright (SIGKILL, a crash) cannot drain: its cells are
rerun, as Dask does.

Example:
    >>> client.register_plugin(DrainPlugin())        # doctest: +SKIP
    >>> client.register_plugin(NannyDrainPlugin())   # doctest: +SKIP
    >>> client.register_plugin(RetireDrainPlugin())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterable
from typing import Any

from distributed.core import Status
from distributed.diagnostics.plugin import NannyPlugin, SchedulerPlugin, WorkerPlugin

from dagen.cluster.tasks import RUNS

__all__ = [
    "DrainPlugin",
    "NannyDrainPlugin",
    "RetireDrainPlugin",
    "drain",
    "running_run_tasks",
]

log = logging.getLogger("dagen")

POLL = 0.05  # seconds between looks at what still runs
SLACK = 10.0  # seconds added to the longest call when bounding a drain


def running_run_tasks(worker: Any) -> list[Any]:
    """Keys of the tasks of installed dagen runs that ``worker`` is running now."""
    return [
        ts.key
        for ts in (*worker.state.executing, *worker.state.long_running)
        if isinstance(ts.key, tuple) and len(ts.key) > 1 and ts.key[1] in RUNS
    ]


def _bound() -> float:
    """Seconds a drain may take: two calls of the slowest model per task (a chunk holds at
    most twice the worker's share: one call in flight and one queued per slot)."""
    longest = max((context.call_timeout for context in RUNS.values()), default=0.0)
    return 2 * longest + SLACK


async def drain(worker: Any) -> list[Any]:
    """Wait until the dagen tasks running on ``worker`` have finished and the scheduler
    holds their results; the keys waited for. The caller has paused the worker.

    Bounded (``_bound``): a task still running then is left to Dask, which reruns it.
    """
    keys = running_run_tasks(worker)
    if not keys:
        return []
    started = time.monotonic()
    deadline = started + _bound()
    log.info("dagen: worker %s waits for %d running tasks", worker.address, len(keys))
    while running_run_tasks(worker) and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
    log.debug("dagen: worker %s ran its tasks out in %.1f s", worker.address, _since(started))
    # a finished task reaches the scheduler over the worker's batched stream: wait until
    # the scheduler no longer counts it as processing here (it holds the result, or has
    # released it already), so that retiring moves the result, never reruns the task
    while await _unreported(worker, keys) and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
    if time.monotonic() >= deadline:
        log.warning(
            "dagen: worker %s stopped draining at its bound (%.0f s): %d tasks left to Dask",
            worker.address, _bound(), len(running_run_tasks(worker)),
        )  # fmt: skip
    log.info("dagen: worker %s drained in %.1f s", worker.address, _since(started))
    return keys


def _since(started: float) -> float:
    return time.monotonic() - started


def _as_key(key: Any) -> Any:
    """A key as the worker holds it (a key sent over a comm may come back as a list)."""
    return tuple(_as_key(part) for part in key) if isinstance(key, list | tuple) else key


async def _unreported(worker: Any, keys: list[Any]) -> bool:
    """Whether the scheduler still counts one of ``keys`` as processing on ``worker``.

    The scheduler's ``who_has`` is no help: a result the client has already received and
    released is unknown to it, the same answer as a result not yet reported.
    """
    try:
        processing = await worker.scheduler.processing(workers=[worker.address])
    except Exception:  # the scheduler no longer knows the worker: nothing to wait for
        return False
    here = {_as_key(key) for key in processing.get(worker.address, ())}
    return any(_as_key(key) in here for key in keys)


async def _leave(worker: Any) -> None:
    """Pause, drain and retire ``worker`` (the module docstring's three steps)."""
    if worker.status != Status.running or not running_run_tasks(worker):
        return
    log.info("dagen: worker %s drains its model calls before leaving", worker.address)
    worker.status = Status.closing_gracefully
    await drain(worker)
    await worker.scheduler.retire_workers(
        workers=[worker.address],
        close_workers=False,
        remove=True,
        stimulus_id=f"dagen-drained-{time.time()}",
    )


class DrainPlugin(WorkerPlugin):
    """Makes a worker drain its dagen tasks before it closes (see the module docstring).

    Installed once per worker (a fixed name); the worker's own ``close`` is kept and
    called after the drain, and put back on teardown.
    """

    name = "dagen-drain"
    idempotent = True

    def setup(self, worker: Any = None) -> None:
        original = getattr(worker, "_dagen_close", None) or worker.close

        async def close(*args: Any, **kwargs: Any) -> Any:
            with contextlib.suppress(Exception):  # never keep a worker from closing
                await _leave(worker)
            return await original(*args, **kwargs)

        async def dagen_drain() -> int:
            return len(await drain(worker))

        async def dagen_leave() -> None:
            await _leave(worker)

        worker._dagen_close = original
        worker.close = close
        worker.handlers["dagen_drain"] = dagen_drain
        worker.handlers["dagen_leave"] = dagen_leave
        if worker.nanny is None and threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm(worker, self._previous))

    @staticmethod
    def _on_sigterm(worker: Any, previous: Any) -> Any:
        """``dask worker --no-nanny`` ends its event loop on SIGTERM without closing the
        worker (running tasks are cancelled): drain first, then let it."""
        loop = asyncio.get_running_loop()
        leaving: set[asyncio.Task[None]] = set()  # held, so the task is not collected

        async def leave_then_stop(signum: int) -> None:
            with contextlib.suppress(Exception):
                await _leave(worker)
            signal.raise_signal(signum)  # now handled as before

        def on_sigterm(signum: int, frame: Any) -> None:
            signal.signal(signum, previous)  # a second SIGTERM stops it at once
            loop.call_soon_threadsafe(
                lambda: leaving.add(loop.create_task(leave_then_stop(signum)))
            )

        return on_sigterm

    def teardown(self, worker: Any = None) -> None:
        original = getattr(worker, "_dagen_close", None)
        if original is not None:
            worker.close = original
            del worker._dagen_close
        worker.handlers.pop("dagen_drain", None)
        worker.handlers.pop("dagen_leave", None)
        previous = getattr(self, "_previous", None)
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


class NannyDrainPlugin(NannyPlugin):
    """Makes a nanny let its worker drain before it stops it (see the module docstring).

    SIGTERM to ``dask worker`` with a nanny closes the nanny, which gives the worker
    process 8 s to close, then kills it: a call lasting longer would be cut off. So the
    nanny first asks the worker to leave (pause, drain, retire; bounded as ``drain``) and
    only then closes as before; it does not restart the worker meanwhile.
    """

    name = "dagen-drain-nanny"
    idempotent = True

    def setup(self, nanny: Any = None) -> None:
        original = getattr(nanny, "_dagen_close", None) or nanny.close

        async def close(*args: Any, **kwargs: Any) -> Any:
            address = nanny.worker_address
            if nanny.status == Status.running and address:
                with contextlib.suppress(Exception):  # never keep a nanny from closing
                    nanny.close_gracefully(reason="dagen-drain")  # no restart once it left
                    await nanny.rpc(address).dagen_leave()
            return await original(*args, **kwargs)

        nanny._dagen_close = original
        nanny.close = close

    def teardown(self, nanny: Any = None) -> None:
        original = getattr(nanny, "_dagen_close", None)
        if original is not None:
            nanny.close = original
            del nanny._dagen_close


class RetireDrainPlugin(SchedulerPlugin):
    """Makes the scheduler drain workers before it retires them (module docstring)."""

    name = "dagen-retire-drain"
    idempotent = True

    async def start(self, scheduler: Any) -> None:
        original = scheduler.handlers["retire_workers"]
        original = getattr(original, "_dagen_original", original)

        async def retire_workers(
            workers: list[str] | None = None, *, names: list[Any] | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            own = {
                k: kwargs.pop(k) for k in ("close_workers", "remove", "stimulus_id") if k in kwargs
            }
            if workers is None and names is not None:
                wanted = {str(name) for name in names}
                workers = [a for a, ws in scheduler.workers.items() if str(ws.name) in wanted]
            elif workers is None:
                workers = scheduler.workers_to_close(**kwargs)
            paused = await _pause_and_drain(scheduler, workers)
            retired = await original(workers=list(workers), **own)
            _resume(scheduler, [a for a in paused if a not in retired])
            return retired  # type: ignore[no-any-return]

        retire_workers._dagen_original = original  # type: ignore[attr-defined]
        scheduler.handlers["retire_workers"] = retire_workers
        self._scheduler = scheduler

    async def close(self) -> None:
        scheduler = getattr(self, "_scheduler", None)
        if scheduler is not None:
            current = scheduler.handlers.get("retire_workers")
            scheduler.handlers["retire_workers"] = getattr(current, "_dagen_original", current)


def _set_status(scheduler: Any, address: str, status: Status, stimulus_id: str) -> None:
    scheduler.handle_worker_status_change(status, address, stimulus_id)
    scheduler.stream_comms[address].send(
        {"op": "worker-status-change", "status": status.name, "stimulus_id": stimulus_id}
    )


async def _pause_and_drain(scheduler: Any, workers: Iterable[str]) -> list[str]:
    """Pause the running ones of ``workers`` and wait for each to drain; those paused."""
    stimulus_id = f"dagen-drain-{time.time()}"
    paused = [
        a
        for a in workers
        if a in scheduler.workers and scheduler.workers[a].status == Status.running
    ]
    for address in paused:
        _set_status(scheduler, address, Status.closing_gracefully, stimulus_id)

    async def one(address: str) -> None:
        with contextlib.suppress(Exception):  # a worker without dagen's plugin, or gone
            await scheduler.rpc(address).dagen_drain()

    await asyncio.gather(*(one(a) for a in paused))
    return paused


def _resume(scheduler: Any, workers: Iterable[str]) -> None:
    """Put back to work the paused workers that Dask did not retire after all."""
    stimulus_id = f"dagen-resume-{time.time()}"
    for address in workers:
        ws = scheduler.workers.get(address)
        if ws is not None and ws.status == Status.closing_gracefully:
            _set_status(scheduler, address, Status.running, stimulus_id)
