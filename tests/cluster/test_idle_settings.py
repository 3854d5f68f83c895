"""A cluster dagen starts is quiet when idle: its processes check their event loop's health
twice a second rather than fifty times, watch memory twice a second rather than ten times,
and run no profiler, because an idle cluster's CPU is a floor under the CPU of every model
call. A value the user set in Dask's config is theirs and is kept."""

from __future__ import annotations

import asyncio

import dask
import pytest
from distributed import Scheduler, Worker

from dagen.cluster.clients import local_settings, open_async_client, open_client
from dagen.config.run import ClusterSettings

pytestmark = pytest.mark.cluster

ONE_WORKER = ClusterSettings(n_workers=1, threads_per_worker=1, dashboard_address=None)


def _worker_intervals(dask_worker: Worker) -> dict[str, float]:
    return {
        "tick ms": dask_worker.periodic_callbacks["tick"].callback_time,
        "memory s": dask_worker.memory_manager.memory_monitor_interval,
        "profiler": bool(dask.config.get("distributed.worker.profile.enabled")),
    }


def _scheduler_tick(dask_scheduler: Scheduler) -> float:
    return dask_scheduler.periodic_callbacks["tick"].callback_time


def test_an_idle_local_cluster_checks_its_loop_and_memory_twice_a_second() -> None:
    with open_client(settings=ONE_WORKER) as client:
        (seen,) = client.run(_worker_intervals).values()
        scheduler_tick = client.run_on_scheduler(_scheduler_tick)
    assert seen == {"tick ms": 500.0, "memory s": 0.5, "profiler": False}
    assert scheduler_tick == 500.0


def test_the_asynchronous_client_gets_the_same_cluster() -> None:
    async def intervals() -> dict[str, float]:
        async with open_async_client(settings=ONE_WORKER) as client:
            (seen,) = (await client.run(_worker_intervals)).values()
            return seen

    assert asyncio.run(intervals()) == {"tick ms": 500.0, "memory s": 0.5, "profiler": False}


def test_a_value_the_user_set_is_kept() -> None:
    with dask.config.set({"distributed.admin.tick.interval": "50ms"}):
        assert "distributed.admin.tick.interval" not in local_settings()
        with open_client(settings=ONE_WORKER) as client:
            (seen,) = client.run(_worker_intervals).values()
    assert seen["tick ms"] == 50.0
    assert seen["memory s"] == 0.5  # the others are still dagen's
