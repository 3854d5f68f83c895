"""The floor: a bare asyncio + aiohttp client making a run's calls, with nothing else.

Policy: one ``asyncio.Semaphore`` per model (its ``max_parallel_requests``), one aiohttp
session without a connection cap, one coroutine per (row, LLM column) created up front;
a cell waits for the cells of its row it reads (a row's ``b`` call starts when its ``a``
call returned), then for a slot of its model, then POSTs the same chat request dagen sends
(``{"model", "messages": [{"role": "user", "content": prompt}]}``) and keeps the answer's
content for the cells that read it. No Dask, no retries, no parsing beyond the JSON.

Its wall time, measured in the bench's process against the same mock server, is what
this machine can do for the workload: ``dagen / floor`` is the engine's overhead.

Example:
    >>> floor = run_floor(server.url, SHAPES["wide"], 1000, {"m": 256})  # doctest: +SKIP
    >>> floor.seconds, floor.calls  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aiohttp

from bench.shapes import TOPICS, LLMColumn, Shape, render_prompt

__all__ = ["FloorResult", "run_floor"]


@dataclass(frozen=True)
class FloorResult:
    """What the floor client did: wall seconds, calls per model, failed calls, CPU."""

    seconds: float
    calls: dict[str, int]
    failures: int
    cpu_seconds: float


def run_floor(url: str, shape: Shape, num_records: int, caps: dict[str, int]) -> FloorResult:
    """Make every call of ``num_records`` rows of ``shape`` against ``url`` (a ``/v1`` base)."""
    cpu0 = time.process_time()
    started = time.perf_counter()
    calls, failures = asyncio.run(_run(url, shape, num_records, caps))
    return FloorResult(
        seconds=time.perf_counter() - started,
        calls=calls,
        failures=failures,
        cpu_seconds=time.process_time() - cpu0,
    )


async def _run(
    url: str, shape: Shape, num_records: int, caps: dict[str, int]
) -> tuple[dict[str, int], int]:
    slots = {m: asyncio.Semaphore(caps[m]) for m in shape.models}
    calls = dict.fromkeys(shape.models, 0)
    failures = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def cell(col: LLMColumn, row: dict[str, str], deps: list[asyncio.Task[None]]) -> None:
            nonlocal failures
            await asyncio.gather(*deps)
            message = {"role": "user", "content": render_prompt(col, row)}
            body = {"model": col.model, "messages": [message]}
            async with slots[col.model]:
                calls[col.model] += 1
                async with session.post(url + "/chat/completions", data=json.dumps(body)) as r:
                    raw = await r.read()
            if r.status != 200:
                failures += 1
                row[col.name] = ""
                return
            row[col.name] = json.loads(raw)["choices"][0]["message"]["content"].strip()

        tasks: list[asyncio.Task[None]] = []
        for i in range(num_records):
            row = {"topic": TOPICS[i % len(TOPICS)]}
            own: dict[str, asyncio.Task[None]] = {}
            for col in shape.columns:  # dependency order: inputs are created first
                deps = [own[name] for name in col.inputs if name in own]
                own[col.name] = asyncio.create_task(cell(col, row, deps))
            tasks.extend(own.values())
        await asyncio.gather(*tasks)
    return calls, failures
