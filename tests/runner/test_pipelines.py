"""Calling dagen from an existing pipeline: ``agenerate`` on the caller's event loop, the
``on_row_group`` callback, and ``generate`` inside a running loop.

The async tests run their own event loop (``asyncio.run``) with a task that ticks every
10 ms next to the run: a loop blocked by the run would stop the ticks.
"""

from __future__ import annotations

import asyncio
import json
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dagen

pytestmark = pytest.mark.cluster

CONFIG = {
    "seed": 5,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "checked", "column_type": "custom", "required_columns": ["n"],
         "function": "scenario_functions:fail_on_multiples_of_seven"},
        {"name": "slow", "column_type": "custom", "function": "scenario_functions:slow_square",
         "required_columns": ["n"]},
    ],
}  # fmt: skip


def config() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(CONFIG)


def settings(**overrides) -> dagen.RunSettings:
    fields = {"row_group_size": 20, "max_concurrent_row_groups": 3, **overrides}
    return dagen.RunSettings(**fields)


class Ticker:
    """Counts its ticks every 10 ms, and the longest gap between two of them."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest_gap = 0.0

    async def run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.longest_gap = max(self.longest_gap, now - last)
            last = now
            self.ticks += 1


async def next_to_a_ticker(coroutine):
    ticker = Ticker()
    ticking = asyncio.create_task(ticker.run())
    try:
        return await coroutine, ticker
    finally:
        ticking.cancel()


def test_agenerate_with_the_callers_asynchronous_client_keeps_the_loop_ticking(tmp_path):
    from distributed import Client, LocalCluster

    events = []

    async def on_row_group(event: dagen.RowGroupEvent) -> None:
        await asyncio.sleep(0)  # an async callback, awaited on the caller's loop
        events.append((event.index, asyncio.get_running_loop()))

    async def main():
        async with (
            LocalCluster(n_workers=2, threads_per_worker=4, processes=True, host="127.0.0.1",
                         dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                         asynchronous=True) as cluster,
            Client(cluster, asynchronous=True) as client,
        ):  # fmt: skip
            run = dagen.agenerate(config(), 200, tmp_path / "out", client=client,
                                  settings=settings(), on_row_group=on_row_group)  # fmt: skip
            (result, ticker) = await next_to_a_ticker(run)
            return result, ticker, asyncio.get_running_loop(), client.status

    result, ticker, loop, status = asyncio.run(main())

    assert result.num_records == len([n for n in range(200) if n % 7 != 0])
    assert status == "running"  # the caller's client is left open
    assert [index for index, _ in events] == list(range(10))
    assert all(on is loop for _, on in events)
    # 200 rows x 10 ms of sleep over 2 workers: a second or more, ticking all along
    assert result.metadata["timings"]["generation_seconds"] > 0.5
    assert ticker.ticks > 20
    assert ticker.longest_gap < 0.5


def test_agenerate_without_a_client_starts_its_own_asynchronous_cluster(tmp_path):
    cluster = dagen.ClusterSettings(n_workers=1, threads_per_worker=2, dashboard_address=None)

    async def main():
        run = dagen.agenerate(config(), 60, tmp_path / "out", settings=settings(cluster=cluster))
        return await next_to_a_ticker(run)

    result, ticker = asyncio.run(main())

    assert result.to_pandas()["n"].tolist() == [n for n in range(60) if n % 7 != 0]
    assert ticker.ticks > 5


def test_cancelling_agenerate_stops_the_run_and_resume_finishes_it(client, tmp_path):
    out = tmp_path / "out"
    delivered = []

    async def main():
        run = asyncio.create_task(
            dagen.agenerate(config(), 400, out, client=client,
                            settings=settings(max_concurrent_row_groups=1),
                            on_row_group=lambda e: delivered.append(e.index))
        )  # fmt: skip
        while not delivered:
            await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(main())

    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["status"] == "stopped"
    assert 0 < len(metadata["row_groups"]) < 20
    result = dagen.generate(config(), 400, out, client=client, settings=settings(), resume=True)
    assert pd.read_parquet(out / "data")["n"].tolist() == [n for n in range(400) if n % 7]
    assert result.metadata["status"] == "complete"


def test_on_row_group_gets_each_row_group_in_row_order_matching_its_file(client, tmp_path):
    out = tmp_path / "out"
    events: list[dagen.RowGroupEvent] = []

    result = dagen.generate(config(), 130, out, client=client, settings=settings(),
                            on_row_group=events.append)  # fmt: skip

    assert [e.index for e in events] == [0, 1, 2, 3, 4, 5, 6]
    assert [e.start for e in events] == [0, 20, 40, 60, 80, 100, 120]
    recorded = {rg["index"]: rg for rg in result.metadata["row_groups"]}
    for event in events:
        assert event.rows == recorded[event.index]["rows"] == event.table.num_rows
        assert event.dropped == recorded[event.index]["dropped"]
        expected = [n for n in range(event.start, min(event.start + 20, 130)) if n % 7]
        assert event.table.column("n").to_pylist() == expected
        assert event.path == str(out / "data" / recorded[event.index]["file"])
        assert pq.read_table(event.path).equals(event.table)
    assert sum(e.dropped for e in events) == len([n for n in range(130) if n % 7 == 0])


def test_a_callback_that_raises_stops_the_run_naming_it_and_resume_delivers_the_rest(
    client, tmp_path
):
    out = tmp_path / "out"
    seen: list[int] = []

    def upload(event: dagen.RowGroupEvent) -> None:
        if event.index == 3:
            raise ConnectionError("the warehouse is down")
        seen.append(event.index)

    with pytest.raises(dagen.CallbackError, match=r"'.*upload'.* row group 3.*warehouse") as info:
        dagen.generate(config(), 200, out, client=client, settings=settings(), on_row_group=upload)

    assert info.value.row_group == 3 and isinstance(info.value.__cause__, ConnectionError)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["status"] == "stopped" and "CallbackError" in metadata["stop_reason"]
    assert sorted(rg["index"] for rg in metadata["row_groups"]) == [0, 1, 2]
    assert seen == [0, 1, 2]

    dagen.generate(config(), 200, out, client=client, settings=settings(), resume=True,
                   on_row_group=lambda e: seen.append(e.index))  # fmt: skip
    assert seen == list(range(10))
    assert pd.read_parquet(out / "data")["n"].tolist() == [n for n in range(200) if n % 7]


def test_a_callback_that_is_not_callable_is_a_type_error(client):
    with pytest.raises(TypeError, match="on_row_group must be a function"):
        dagen.generate(config(), 10, client=client, on_row_group="print")


def test_generate_inside_a_running_loop_warns_and_refuses_the_loops_own_client(client):
    from distributed import Client

    async def main():
        with pytest.warns(dagen.DagenWarning, match="await dagen.agenerate"):
            result = dagen.generate(config(), 20, client=client, settings=settings())
        assert result.num_records == 17
        async with Client(client.scheduler.address, asynchronous=True) as mine:
            with pytest.raises(ValueError, match=r"asynchronous.*agenerate"):
                dagen.generate(config(), 20, client=mine)

    asyncio.run(main())


def test_generate_runs_an_async_callback_to_its_end(client):
    seen = []

    async def on_row_group(event: dagen.RowGroupEvent) -> None:
        await asyncio.sleep(0.01)
        seen.append(event.index)

    dagen.generate(config(), 60, client=client, settings=settings(), on_row_group=on_row_group)

    assert seen == [0, 1, 2]
