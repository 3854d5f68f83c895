"""Workers that leave mid-run never take a model past its cap, and no call is paid twice.

A worker leaves the way clusters make them leave: SIGTERM to a ``dask worker`` process (an
autoscaler, a spot reclaim), ``retire_workers``, and an adaptive LocalCluster scaling down.
The mock server counts, per model, the calls in flight at its end (``peak_concurrency``)
and the calls it answered (``completed``): every cell is one call, so a cell recomputed
after its worker left while its call was still served shows up as a second completed call.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from clusters import DaskProcesses
from distributed import Client, LocalCluster

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

CAP = 10
ROWS = 240
LATENCY = 0.4  # seconds per call: a leaving worker always has calls in flight
MODEL = "mock-writer"


@pytest.fixture(scope="module")
def slow_process():
    with MockServerProcess(MockServerSettings(port=0, latency=LATENCY)) as process:
        yield process


@pytest.fixture
def slow_server(slow_process):
    slow_process.set(latency=LATENCY)
    slow_process.reset()
    return slow_process


def two_model_columns(url: str) -> dagen.DatasetConfig:
    """Row ids, then two LLM columns on one model capped at CAP, the second reading the first."""
    return dagen.DatasetConfig.from_dict({
        "seed": 5,
        "models": [{"alias": "writer", "model": MODEL, "endpoint": url,
                    "max_parallel_requests": CAP, "timeout": 30}],
        "columns": [
            {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []},
            {"name": "text", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "Write a line about item {{ n }}."},
            {"name": "summary", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "Summarise: {{ text }}"},
        ],
    })  # fmt: skip


SETTINGS = dagen.RunSettings(row_group_size=40)


@pytest.fixture(scope="module")
def expected(client, slow_process) -> pd.DataFrame:
    """The dataset an undisturbed run writes (the mock's answers are deterministic)."""
    slow_process.set(latency=0.0)
    try:
        result = dagen.generate(
            two_model_columns(slow_process.url), ROWS, None, client=client, settings=SETTINGS
        )
    finally:
        slow_process.set(latency=LATENCY)
    return result.to_pandas()


class Background:
    """``dagen.generate`` in a thread, so the test can move workers meanwhile."""

    def __init__(self, run: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.result = run()
            except BaseException as exc:  # handed to the test
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 240) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def workers(client: Client) -> list[str]:
    return sorted(client.scheduler_info(n_workers=-1)["workers"])


def assert_cap_held_and_nothing_paid_twice(server, result, expected: pd.DataFrame) -> None:
    stats = server.stats()["by_model"][MODEL]
    df = result.to_pandas()
    pd.testing.assert_frame_equal(df, expected)  # complete and the same values
    assert stats["peak_concurrency"] <= CAP, f"{stats['peak_concurrency']} calls in flight"
    cells = 2 * ROWS  # two model columns, one call per cell
    assert stats["completed"] == cells, f"{stats['completed'] - cells} calls paid twice"
    assert stats["requests"] == cells


def test_a_worker_joining_mid_run_gets_its_share_only_once_the_others_calls_fit(
    slow_server, expected
):
    procs = DaskProcesses(workers=1)
    try:
        with Client(procs.address, timeout="30s", set_as_default=False) as watch:
            run = Background(
                lambda: dagen.generate(
                    two_model_columns(slow_server.url), ROWS, None,
                    scheduler=procs.address, settings=SETTINGS,
                )
            )  # fmt: skip
            wait_for(lambda: slow_server.stats()["requests"] >= CAP, what="calls to start")
            procs.add_worker()  # the first worker is at its cap with calls in flight
            wait_for(lambda: len(workers(watch)) == 2, what="the second worker")
            assert run.thread.is_alive(), "the run ended before the worker joined"
            result = run.join()
    finally:
        procs.close()

    assert_cap_held_and_nothing_paid_twice(slow_server, result, expected)


@pytest.mark.parametrize(
    "nanny",
    [False, True],
    ids=["no-nanny", "nanny"],
)
def test_a_worker_stopped_with_sigterm_mid_run_keeps_the_cap_and_pays_nothing_twice(
    slow_server, expected, nanny
):
    procs = DaskProcesses(workers=0)
    try:
        leaving = procs.add_worker(nanny=nanny)
        with Client(procs.address, timeout="30s", set_as_default=False) as watch:
            wait_for(lambda: len(workers(watch)) == 1, what="the first worker")
            first = workers(watch)[0]
            run = Background(
                lambda: dagen.generate(
                    two_model_columns(slow_server.url), ROWS, None,
                    scheduler=procs.address, settings=SETTINGS,
                )
            )  # fmt: skip
            time.sleep(3)
            procs.add_worker()  # a worker joins mid-run ...
            wait_for(lambda: len(workers(watch)) == 2, what="the second worker")
            time.sleep(6)  # ... the run re-splits the cap over both ...
            assert run.thread.is_alive(), "the run ended before the worker left"
            os.kill(leaving.pid, signal.SIGTERM)  # ... and the first one leaves
            wait_for(lambda: first not in workers(watch), what="the first worker to leave")
            result = run.join()
    finally:
        procs.close()

    assert_cap_held_and_nothing_paid_twice(slow_server, result, expected)


def test_a_nanny_stopped_with_sigterm_lets_calls_longer_than_its_kill_timeout_finish(
    slow_server,
):
    slow_server.set(latency=9.0)  # a nanny kills its worker 8 s after SIGTERM
    rows = 10
    procs = DaskProcesses(workers=0)
    try:
        leaving = procs.add_worker(nanny=True)
        with Client(procs.address, timeout="30s", set_as_default=False) as watch:
            wait_for(lambda: len(workers(watch)) == 1, what="the first worker")
            run = Background(
                lambda: dagen.generate(
                    two_model_columns(slow_server.url), rows, None,
                    scheduler=procs.address, settings=SETTINGS,
                )
            )  # fmt: skip
            wait_for(
                lambda: slow_server.stats()["by_model"].get(MODEL, {}).get("in_flight") == CAP,
                what="the first column's calls to be in flight",
            )
            procs.add_worker()  # somewhere to go on ...
            wait_for(lambda: len(workers(watch)) == 2, what="the second worker")
            os.kill(leaving.pid, signal.SIGTERM)  # ... 9 s calls in flight
            result = run.join()
    finally:
        procs.close()

    stats = slow_server.stats()["by_model"][MODEL]
    assert result.to_pandas()["summary"].notna().sum() == rows
    assert stats["requests"] == stats["completed"] == 2 * rows, "calls cut off and sent again"
    assert stats["peak_concurrency"] <= CAP


def test_a_worker_retired_mid_run_keeps_the_cap_and_pays_nothing_twice(slow_server, expected):
    procs = DaskProcesses(workers=2)
    try:
        with Client(procs.address, timeout="30s", set_as_default=False) as watch:
            run = Background(
                lambda: dagen.generate(
                    two_model_columns(slow_server.url), ROWS, None,
                    scheduler=procs.address, settings=SETTINGS,
                )
            )  # fmt: skip
            time.sleep(5)
            assert run.thread.is_alive(), "the run ended before the worker left"
            watch.retire_workers(workers(watch)[:1])
            result = run.join()
    finally:
        procs.close()

    assert_cap_held_and_nothing_paid_twice(slow_server, result, expected)


def test_an_adaptive_cluster_scaling_down_mid_run_keeps_the_cap_and_pays_nothing_twice(
    slow_server, expected
):
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=16, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):  # fmt: skip
        run = Background(
            lambda: dagen.generate(
                two_model_columns(slow_server.url), ROWS, None, client=client, settings=SETTINGS
            )
        )
        time.sleep(4)
        # an autoscaler allowed one worker: it retires the other (wait_count=1: at its first
        # look), which first drains (bounded by 2 x the model timeout + 10 s)
        cluster.adapt(minimum=1, maximum=1, interval="200ms", wait_count=1)
        wait_for(lambda: len(workers(client)) == 1, timeout=120, what="the cluster to scale down")
        assert run.thread.is_alive(), "the run ended before the worker left"
        result = run.join()

    assert_cap_held_and_nothing_paid_twice(slow_server, result, expected)
