"""AdaptiveLimiter: the ceiling holds, AIMD adapts once per window, waiters are served FIFO."""

from __future__ import annotations

import asyncio

import pytest

from dagen.errors import DagenError
from dagen.inference.limiter import AdaptiveLimiter


async def hold(limiter: AdaptiveLimiter, release: asyncio.Event, entered: list[int], i: int):
    async with limiter:
        entered.append(i)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_ceiling_holds_under_200_concurrent_tasks():
    async def scenario() -> tuple[int, AdaptiveLimiter]:
        limiter = AdaptiveLimiter(10)
        active = peak = 0

        async def task() -> None:
            nonlocal active, peak
            async with limiter:
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.001)
                active -= 1
            limiter.on_success()

        await asyncio.gather(*(task() for _ in range(200)))
        return peak, limiter

    peak, limiter = asyncio.run(scenario())
    assert peak == 10  # measured by the tasks themselves
    assert limiter.peak_in_flight == 10 and limiter.in_flight == 0 and limiter.waiting == 0


def test_a_burst_of_429s_from_one_window_decreases_once():
    async def scenario() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(16)
        release = asyncio.Event()

        async def overloaded() -> None:
            async with limiter:
                await release.wait()
                limiter.on_overload()  # all 16 calls of the window come back 429

        tasks = [asyncio.create_task(overloaded()) for _ in range(16)]
        await settle()
        release.set()
        await asyncio.gather(*tasks)
        assert (limiter.limit, limiter.decreases, limiter.overloads) == (8, 1, 16)

        # The next window (started after the decrease) may decrease again, once.
        release.clear()
        tasks = [asyncio.create_task(overloaded()) for _ in range(8)]
        await settle()
        release.set()
        await asyncio.gather(*tasks)
        return limiter

    limiter = asyncio.run(scenario())
    assert (limiter.limit, limiter.decreases) == (4, 2)


def test_successes_recover_the_limit_additively_up_to_the_ceiling():
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(12, floor=2)
        for _ in range(4):  # each decrease needs its window to complete first
            async with limiter:
                limiter.on_overload()
            for _ in range(12):
                async with limiter:
                    pass
        limits = [limiter.limit]
        assert limits == [2]  # floor reached
        for _ in range(6):
            for _ in range(limiter.limit):  # one window of successes adds about one
                limiter.on_success()
            limits.append(limiter.limit)
        for _ in range(500):
            limiter.on_success()
        limits.append(limiter.limit)
        return limits

    assert asyncio.run(scenario()) == [2, 3, 4, 5, 6, 7, 8, 12]


def test_waiters_are_served_fifo_and_woken_when_the_limit_grows():
    async def scenario() -> list[int]:
        limiter = AdaptiveLimiter(4, decrease=0.5)
        async with limiter:
            limiter.on_overload()
        assert limiter.limit == 2
        release, entered = asyncio.Event(), list[int]()
        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(hold(limiter, release, entered, i)))
            await settle()
        assert entered == [0, 1] and limiter.waiting == 4
        limiter.on_success()
        limiter.on_success()  # 2 + 1/2 + 1/2 = 3: one more slot, no release needed
        await settle()
        assert entered == [0, 1, 2]
        release.set()
        await asyncio.gather(*tasks)
        return entered

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4, 5]


def test_a_cancelled_waiter_leaks_no_slot():
    async def scenario() -> AdaptiveLimiter:
        limiter = AdaptiveLimiter(1)
        release, entered = asyncio.Event(), list[int]()
        first = asyncio.create_task(hold(limiter, release, entered, 0))
        await settle()
        waiter = asyncio.create_task(hold(limiter, release, entered, 1))
        await settle()
        waiter.cancel()
        release.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await waiter
        async with limiter:
            assert limiter.in_flight == 1
        return limiter

    limiter = asyncio.run(scenario())
    assert limiter.in_flight == 0 and limiter.waiting == 0


def test_set_ceiling_clips_the_limit_and_a_full_limit_follows_it_up():
    limiter = AdaptiveLimiter(8)
    limiter.set_ceiling(3)
    assert (limiter.ceiling, limiter.limit) == (3, 3)
    limiter.set_ceiling(6)
    assert limiter.limit == 6  # it sat at the ceiling: it follows
    assert limiter.on_overload()
    limiter.set_ceiling(10)
    assert limiter.limit == 3  # recovering from a 429: it grows on its own


@pytest.mark.parametrize(
    "kwargs",
    [{"ceiling": 0}, {"ceiling": 4, "floor": 0}, {"ceiling": 4, "decrease": 1.0}],
)
def test_bad_bounds_are_the_callers_mistake_named_in_the_message(kwargs):
    with pytest.raises(ValueError, match="limiter") as info:
        AdaptiveLimiter(**kwargs)
    assert not isinstance(info.value, DagenError)
    assert next(iter(kwargs.keys() - {"ceiling"}), "ceiling") in str(info.value)
