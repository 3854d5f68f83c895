"""Row-group events: what ``on_row_group`` callbacks and the streaming iterators receive.

Policy: once a row group is written, the caller gets one ``RowGroupEvent`` for it, on the
client, in row order (row groups finish out of order; ``InOrder`` holds the early ones
back until those before them are delivered). A row group is recorded in the run's
metadata only after its callback returned, so a callback that raises stops the run with
every row group it saw recorded, and ``--resume`` hands the others to it again.

``Callback`` adapts the caller's function, plain or ``async def``, to the engine, which
calls it synchronously from the thread the run loop runs in: a coroutine is run to its
end (on the caller's event loop when the run was started with ``agenerate``).

Example:
    >>> order = InOrder([0, 1, 2])
    >>> order.put(1, "b"), order.put(0, "a"), order.put(2, "c")
    ([], ['a', 'b'], ['c'])
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pyarrow as pa

__all__ = ["Callback", "InOrder", "RowGroupEvent"]

T = TypeVar("T")


@dataclass(frozen=True)
class RowGroupEvent:
    """One written row group.

    Attributes:
        index: the row group's index (0 for rows [0, row_group_size)).
        start: its first row in the dataset.
        rows: rows written (the surviving rows).
        dropped: rows dropped (their reasons are in the run's metadata).
        path: the file it was written to (a local path or a URL), or None (no file: an
            in-memory or streaming run, a sink that names no file, or no surviving row).
        table: its rows as a ``pyarrow.Table``.
    """

    index: int
    start: int
    rows: int
    dropped: int
    path: str | None
    table: pa.Table = field(repr=False, compare=False)


class InOrder(Generic[T]):
    """Releases items in a fixed order of keys, holding back those that come early.

    Args:
        keys: the order items are released in.
    """

    def __init__(self, keys: Iterable[int]) -> None:
        self._next: deque[int] = deque(keys)
        self._held: dict[int, T] = {}  # key -> item that came before its turn

    def put(self, key: int, item: T) -> list[T]:
        """Add an item; those now due, in order (empty while an earlier key is missing)."""
        self._held[key] = item
        due = []
        while self._next and self._next[0] in self._held:
            due.append(self._held.pop(self._next.popleft()))
        return due

    def __len__(self) -> int:
        """Items held back."""
        return len(self._held)


class Callback:
    """The caller's ``on_row_group`` function, callable synchronously by the engine.

    Args:
        function: called with each ``RowGroupEvent``; may be ``async def``.
        loop: the event loop of an ``agenerate`` caller: the function runs there (the
            engine's thread waits); None runs it in the engine's thread.

    Raises:
        TypeError: ``function`` is not callable.
    """

    def __init__(
        self,
        function: Callable[[RowGroupEvent], Any],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not callable(function):
            raise TypeError(
                f"on_row_group must be a function taking a RowGroupEvent, got "
                f"{type(function).__name__}"
            )
        self.function = function
        self.loop = loop
        self.name = getattr(function, "__qualname__", None) or repr(function)

    def __call__(self, event: RowGroupEvent) -> None:
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(_call(self.function, event), self.loop).result()
            return
        answer = self.function(event)
        if inspect.isawaitable(answer):
            _run_to_end(answer)


async def _call(function: Callable[[RowGroupEvent], Any], event: RowGroupEvent) -> None:
    answer = function(event)
    if inspect.isawaitable(answer):
        await answer


def _run_to_end(awaitable: Awaitable[Any]) -> None:
    """Run a coroutine from synchronous code, also where an event loop is running."""

    async def main() -> None:
        await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # this thread's loop is busy
        pool.submit(asyncio.run, main()).result()
