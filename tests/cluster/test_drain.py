"""A draining worker waits for the scheduler to learn of its results, and for nothing else.

A worker leaving mid-run first waits until the scheduler no longer counts its finished
tasks as processing there (``dagen.cluster.drain._unreported``). A result the client has
already received and released is unknown to the scheduler: the drain must not wait for it
(it did once, until its bound of 2 x the model timeout + 10 s, while the worker stayed).
"""

from __future__ import annotations

import time
from typing import Any

from distributed import Event

from dagen.cluster.drain import _unreported


async def unreported_here(keys: list[Any], dask_worker: Any = None) -> bool:
    return await _unreported(dask_worker, keys)


def wait_on(name: str) -> int:
    Event(name).wait(60)
    return 1


def test_a_drain_does_not_wait_for_a_result_the_client_has_already_released(client):
    key = ("drain-released", "r-test", 0)
    future = client.submit(lambda: 1, key=key, pure=False)
    assert future.result() == 1
    (worker,) = client.who_has([future])[key]
    del future  # the client has its result and lets it go: the scheduler forgets the key
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(lambda dask_scheduler: key in dask_scheduler.tasks):
        assert time.monotonic() < deadline, "the scheduler did not forget the result"
        time.sleep(0.05)

    assert client.run(unreported_here, [key], workers=[worker])[worker] is False


def test_a_drain_waits_while_the_scheduler_counts_a_task_as_processing_on_the_worker(client):
    key = ("drain-running", "r-test", 0)
    release = Event("drain-running-release", client=client)
    future = client.submit(wait_on, "drain-running-release", key=key, pure=False)
    deadline = time.monotonic() + 30
    while (worker := _worker_of(client, key)) is None:
        assert time.monotonic() < deadline, "the task was not given to a worker"
        time.sleep(0.05)

    assert client.run(unreported_here, [key], workers=[worker])[worker] is True
    release.set()
    assert future.result() == 1  # the scheduler holds the result now
    assert client.run(unreported_here, [key], workers=[worker])[worker] is False


def _worker_of(client, key) -> str | None:
    """The worker the scheduler has ``key`` processing on, if any."""
    return client.run_on_scheduler(
        lambda dask_scheduler: getattr(
            getattr(dask_scheduler.tasks.get(key), "processing_on", None), "address", None
        )
    )
