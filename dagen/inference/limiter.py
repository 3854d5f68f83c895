"""An adaptive (AIMD) concurrency limiter for the model calls of one event loop.

Policy: at most ``limit`` calls are in flight; callers beyond it wait in FIFO order (a new
caller never overtakes a waiting one). The limit starts at the ceiling and adapts like TCP
congestion control:

- additive increase: each ``on_success()`` adds ``increase / limit``, so the limit grows by
  about ``increase`` per window of ``limit`` calls, up to the ceiling;
- multiplicative decrease: ``on_overload()`` (the endpoint answered 429) multiplies the
  limit by ``decrease``, never below the floor, at most once per window: after a decrease,
  further overloads are ignored until as many calls have completed as were allowed at the
  time of the decrease (``max(limit before the decrease, in flight)``), so one burst of
  429s from a single window halves the limit once, not once per call.

State: ``_limit`` (a float; the usable limit is its integer part, at least the floor),
``_in_flight``, ``_waiters`` (a deque of futures, FIFO), ``_completed`` (calls that left
the limiter) and ``_window_end`` (the ``_completed`` count before which overloads are
ignored). Pure asyncio, no threads: one limiter belongs to one event loop.

Example:
    >>> async def call(limiter):
    ...     async with limiter:      # waits while in_flight >= limit
    ...         ok = True            # ... the HTTP request ...
    ...     limiter.on_success() if ok else limiter.on_overload()
    >>> limiter = AdaptiveLimiter(8)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """Async concurrency limiter with additive increase, multiplicative decrease.

    Args:
        ceiling: the largest limit (and the starting one).
        floor: the smallest limit a decrease can reach.
        increase: how much the limit grows per window of successful calls.
        decrease: the factor applied to the limit on an overload (0 < decrease < 1).

    Raises:
        TypeError: a bound is not an int.
        ValueError: a bound or factor is out of range (a caller's mistake: a model's
            ``max_parallel_requests`` is validated with its config).

    Attributes:
        decreases: how many times the limit was decreased.
        overloads: how many overloads were reported (counted or ignored).
        successes: how many successes were reported.
        peak_in_flight: the largest number of calls in flight at once.
    """

    def __init__(
        self, ceiling: int, *, floor: int = 1, increase: float = 1.0, decrease: float = 0.5
    ) -> None:
        _check_count("ceiling", ceiling)
        _check_count("floor", floor)
        if not increase > 0:
            raise ValueError(f"limiter increase={increase!r}: want a number > 0")
        if not 0 < decrease < 1:
            raise ValueError(f"limiter decrease={decrease!r}: want 0 < decrease < 1")
        self._ceiling = ceiling
        self._floor = floor
        self._increase = float(increase)
        self._decrease = float(decrease)
        self._limit = float(ceiling)
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._completed = 0
        self._window_end = 0
        self.decreases = 0
        self.overloads = 0
        self.successes = 0
        self.peak_in_flight = 0

    def __repr__(self) -> str:
        return (
            f"AdaptiveLimiter(limit={self.limit}, ceiling={self._ceiling}, "
            f"in_flight={self._in_flight}, waiting={len(self._waiters)})"
        )

    @property
    def limit(self) -> int:
        """How many calls may be in flight now."""
        return max(self.floor, int(self._limit + 1e-9))  # 1e-9: float sums of 1/limit

    @property
    def ceiling(self) -> int:
        """The largest limit."""
        return self._ceiling

    @property
    def floor(self) -> int:
        """The smallest limit (never above the ceiling)."""
        return min(self._floor, self._ceiling)

    @property
    def in_flight(self) -> int:
        """How many calls hold a slot now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot."""
        return len(self._waiters)

    async def __aenter__(self) -> AdaptiveLimiter:
        if not self._waiters and self._in_flight < self.limit:
            self._take()
            return self
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, then cancelled
                self._in_flight -= 1
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._in_flight -= 1
        self._completed += 1
        self._wake()

    def on_success(self) -> None:
        """Report a call the endpoint served: grow the limit by ``increase / limit``."""
        self.successes += 1
        before = self.limit
        self._limit = min(float(self._ceiling), self._limit + self._increase / before)
        if self.limit > before:
            self._wake()

    def on_overload(self) -> bool:
        """Report a 429: shrink the limit, once per window.

        Returns:
            True when the limit was decreased, False when the overload was ignored because
            it belongs to the window a decrease already answered.
        """
        self.overloads += 1
        if self._completed < self._window_end:
            return False
        before = self.limit
        self._limit = max(float(self.floor), self._limit * self._decrease)
        self._window_end = self._completed + max(before, self._in_flight)
        self.decreases += 1
        return True

    def set_ceiling(self, ceiling: int) -> None:
        """Change the ceiling at runtime.

        The limit is clipped to a lower ceiling. A limit that sat at the old ceiling (no
        overload pending recovery) follows the ceiling up, since nothing says the endpoint
        could not take the new one.

        Raises:
            TypeError, ValueError: the ceiling is not an integer >= 1.
        """
        _check_count("ceiling", ceiling)
        at_ceiling = self._limit >= self._ceiling
        self._ceiling = ceiling
        if at_ceiling or self._limit > ceiling:
            self._limit = float(ceiling)
        self._wake()

    def _take(self) -> None:
        self._in_flight += 1
        if self._in_flight > self.peak_in_flight:
            self.peak_in_flight = self._in_flight

    def _wake(self) -> None:
        # Hand free slots to the oldest waiters; the slot is taken on their behalf so that
        # nobody can overtake them between now and when they resume.
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)


def _check_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"limiter {name}={value!r}: want an integer >= 1")
    if value < 1:
        raise ValueError(f"limiter {name}={value!r}: want an integer >= 1")
