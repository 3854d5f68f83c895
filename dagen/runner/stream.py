"""Streaming runs: row groups as an iterator, for pipelines that consume rather than store.

``iter_row_groups`` runs ``generate`` in a background thread with an ``on_row_group``
callback that hands each ``RowGroupEvent`` to the consumer through a queue of one:
the run waits while the consumer holds a row group, so the client holds at most the
window's row groups (``max_concurrent_row_groups``) plus the one being consumed, however
many rows the run has. ``aiter_row_groups`` does the same over ``agenerate`` on the
caller's event loop. Without ``output_dir`` or ``sink`` nothing is stored
(``DiscardSink``); with them, the files are written as by ``generate`` and each event's
``path`` names its file.

Stopping early (``break``, ``close()``, leaving the ``with`` block, an exception in the
consumer) stops the run as Ctrl-C does; the run's errors are raised by the iterator.
After the last event, ``stream.result`` is the ``GenerationResult``.

Example:
    >>> with dagen.iter_row_groups(cfg, 1_000_000) as stream:  # doctest: +SKIP
    ...     for event in stream:
    ...         load_into_warehouse(event.table)
    >>> stream.result.num_records  # doctest: +SKIP
    1000000
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunMode, RunSettings
from dagen.runner.arguments import check_mode
from dagen.runner.engine import _Run, agenerate, generate
from dagen.runner.events import RowGroupEvent
from dagen.runner.result import GenerationResult
from dagen.sinks.base import Sink
from dagen.sinks.discard import DiscardSink

if TYPE_CHECKING:
    from distributed import Client
    from distributed.security import Security

__all__ = ["AsyncRowGroupStream", "RowGroupStream", "aiter_row_groups", "iter_row_groups"]

_END = object()  # the run ended (its outcome is in the stream)


def iter_row_groups(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    mode: RunMode | str | None = None,
    sink: Sink | None = None,
    overwrite: bool = False,
    resume: bool = False,
    security: Security | None = None,
) -> RowGroupStream:
    """A run whose row groups come as ``RowGroupEvent``s, in row order, as they are written.

    Takes the arguments of ``dagen.generate`` (except ``on_row_group``) and raises its
    errors, the argument errors at once, the others from the iteration.
    """
    if sink is None and output_dir is None:
        sink = DiscardSink()
    chosen = check_mode("iter_row_groups", mode, overwrite=overwrite, resume=resume, update=False)
    _Run.checked(config, num_records, output_dir, client, scheduler, settings, chosen, sink,
                 security=security)  # fmt: skip
    arguments = {"client": client, "scheduler": scheduler, "settings": settings,
                 "mode": chosen, "sink": sink, "security": security}  # fmt: skip
    return RowGroupStream(config, num_records, output_dir, arguments)


class _Channel:
    """What the run's thread shares with the consumer (never the stream itself, so that a
    stream dropped without ``close`` is collected, and its ``__del__`` stops the run)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.result: GenerationResult | None = None

    def produce(self, config: Any, num_records: int, output_dir: Any, arguments: Any) -> None:
        try:
            self.result = generate(
                config, num_records, output_dir, on_row_group=self.hand, **arguments
            )
        except BaseException as exc:
            self.error = exc
        finally:
            self.put(_END)

    def hand(self, event: RowGroupEvent) -> None:
        if not self.put(event):
            raise KeyboardInterrupt  # the consumer left: stop the run

    def put(self, item: Any) -> bool:
        while not self.stop.is_set():
            with contextlib.suppress(queue.Full):
                self.queue.put(item, timeout=0.1)
                return True
        return False


class RowGroupStream:
    """The iterator of ``iter_row_groups``; also a context manager that stops the run."""

    def __init__(
        self,
        config: DatasetConfig,
        num_records: int,
        output_dir: str | Path | None,
        arguments: dict[str, Any],
    ) -> None:
        self._channel = _Channel()
        self._thread = threading.Thread(
            target=self._channel.produce,
            args=(config, num_records, output_dir, arguments),
            name="dagen-stream",
            daemon=True,
        )
        self._thread.start()

    @property
    def result(self) -> GenerationResult | None:
        """The run's result, once the last event was consumed."""
        return self._channel.result

    def __iter__(self) -> RowGroupStream:
        return self

    def __next__(self) -> RowGroupEvent:
        channel = self._channel
        if channel.stop.is_set():
            raise StopIteration
        item = channel.queue.get()
        if item is _END:
            self._thread.join()
            channel.stop.set()
            if channel.error is not None:
                raise channel.error
            raise StopIteration
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the run (when it still runs) and wait for it to end."""
        self._channel.stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._channel.queue.get(timeout=0.1)

    def __enter__(self) -> RowGroupStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self._channel.stop.set()


def aiter_row_groups(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    mode: RunMode | str | None = None,
    sink: Sink | None = None,
    overwrite: bool = False,
    resume: bool = False,
    security: Security | None = None,
) -> AsyncRowGroupStream:
    """``iter_row_groups`` for ``async for``, over ``agenerate`` on the caller's loop."""
    if sink is None and output_dir is None:
        sink = DiscardSink()
    chosen = check_mode("aiter_row_groups", mode, overwrite=overwrite, resume=resume, update=False)
    _Run.checked(config, num_records, output_dir, client, scheduler, settings, chosen, sink,
                 security=security)  # fmt: skip
    arguments = {"client": client, "scheduler": scheduler, "settings": settings,
                 "mode": chosen, "sink": sink, "security": security}  # fmt: skip
    return AsyncRowGroupStream(config, num_records, output_dir, arguments)


class AsyncRowGroupStream:
    """The async iterator of ``aiter_row_groups``; ``async with`` stops the run on exit."""

    def __init__(
        self,
        config: DatasetConfig,
        num_records: int,
        output_dir: str | Path | None,
        arguments: dict[str, Any],
    ) -> None:
        self.result: GenerationResult | None = None
        self._call = (config, num_records, output_dir, arguments)
        self._queue: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._done = False

    async def _produce(self) -> None:
        assert self._queue is not None
        config, num_records, output_dir, arguments = self._call
        try:
            self.result = await agenerate(
                config, num_records, output_dir, on_row_group=self._queue.put, **arguments
            )
        finally:
            if not self._done:
                await self._queue.put(_END)

    def __aiter__(self) -> AsyncRowGroupStream:
        return self

    async def __anext__(self) -> RowGroupEvent:
        if self._done:
            raise StopAsyncIteration
        if self._task is None:
            self._queue = asyncio.Queue(maxsize=1)
            self._task = asyncio.create_task(self._produce())
        assert self._queue is not None
        item = await self._queue.get()
        if item is _END:
            self._done = True
            await self._task  # raises the run's error
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Stop the run (when it still runs) and wait for it to end."""
        self._done = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def __aenter__(self) -> AsyncRowGroupStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
