"""Which model calls one Dask task made: the per-task usage that travels with its result.

Policy: a worker task function (``dagen.cluster.tasks``) opens a ledger for the task with
``counting()``; ``ModelClient`` adds each successful call to the ledger of the context it
runs in (``count_call``), so a row group's checkpoint learns its own usage by column and
model from its blocks, and a recomputed or abandoned task's calls never reach a
checkpoint. asyncio tasks copy the context, so the cells a task gathers share its ledger;
a sync custom function's model call handed to the worker's event loop takes the ledger
along (``carrying``). Outside a task (no ledger) counting costs one context-variable read.

State: one context variable holding the current task's ledger, a plain dict

    model alias -> [calls, prompt_tokens, completion_tokens]

Example:
    >>> with counting() as usage:
    ...     count_call("judge", 120, 8)
    ...     count_call("judge", 100, 6)
    >>> usage
    {'judge': [2, 220, 14]}
    >>> count_call("judge", 1, 1)  # no ledger open: nothing to do
    >>> merged([{"judge": [2, 220, 14]}, {"judge": [1, 10, 1], "writer": [1, 5, 50]}])
    {'judge': [3, 230, 15], 'writer': [1, 5, 50]}
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["TaskUsage", "carrying", "count_call", "counting", "current", "merged"]

TaskUsage = dict[str, list[int]]  # model alias -> [calls, prompt_tokens, completion_tokens]

_CURRENT: ContextVar[TaskUsage | None] = ContextVar("dagen_task_usage", default=None)

T = TypeVar("T")


@contextlib.contextmanager
def counting() -> Iterator[TaskUsage]:
    """Open a new ledger for the calls made in this context until the block ends."""
    usage: TaskUsage = {}
    token = _CURRENT.set(usage)
    try:
        yield usage
    finally:
        _CURRENT.reset(token)


def current() -> TaskUsage | None:
    """The ledger open in this context, if any."""
    return _CURRENT.get()


def count_call(alias: str, prompt_tokens: int, completion_tokens: int) -> None:
    """Add one successful call of model ``alias`` to the open ledger (if one is open)."""
    usage = _CURRENT.get()
    if usage is None:
        return
    entry = usage.get(alias)
    if entry is None:
        usage[alias] = [1, prompt_tokens, completion_tokens]
    else:
        entry[0] += 1
        entry[1] += prompt_tokens
        entry[2] += completion_tokens


async def carrying(usage: TaskUsage | None, call: Awaitable[T]) -> T:
    """``await call`` with ``usage`` as the open ledger (for a call handed to another
    thread's event loop, whose context is not the caller's)."""
    token = _CURRENT.set(usage)
    try:
        return await call
    finally:
        _CURRENT.reset(token)


def merged(usages: Iterable[Mapping[str, Sequence[int]]]) -> TaskUsage:
    """Ledgers summed per model alias."""
    total: TaskUsage = {}
    for usage in usages:
        for alias, (calls, prompt, completion) in usage.items():
            entry = total.setdefault(alias, [0, 0, 0])
            entry[0] += calls
            entry[1] += prompt
            entry[2] += completion
    return total
