"""The functions Dask runs: one per task kind, executed on the workers.

A run's generators reach the workers once, in a ``RunPlugin`` registered with the
scheduler (also sent to workers that join later); tasks name the run by its token and find
their generator in the worker's ``RUNS`` registry. Task arguments are therefore small:
coordinates and the results of the tasks they depend on.

Results that flow between tasks:

    cell chunk   CellChunk (a list that knows its first row), one entry per row:
                 {output: value} | CellFailure | None (dropped upstream)
    collect      ColumnBlock for the whole row group
    batch        ColumnBlock
    checkpoint   RowGroupResult (Arrow table + drop report; the sink encodes it)

A row with a failed or dropped upstream value is never passed to a generator (no model
call is paid for it); it stays ``None`` downstream. Results holding a failure are of a
marker type (``FailedChunk``, ``FailedBlock``) so the client can see failures from the
future's type alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from dagen.cluster.signals import WorkerPublisher
from dagen.errors import ClusterError
from dagen.generators import (
    BatchContext,
    CellFailure,
    ColumnBlock,
    ColumnGenerator,
    FailedBlock,
    ModelRuntime,
)
from dagen.inference.pool import close_clients, scope_usage
from dagen.lowering.admission import QUEUED_PER_SLOT
from dagen.sinks.assemble import AssemblySpec, RowGroupResult, assemble_row_group

__all__ = [
    "PUBLISHERS",
    "RUNS",
    "CellChunk",
    "FailedChunk",
    "RunContext",
    "RunPlugin",
    "batch",
    "batch_async",
    "cells",
    "cells_async",
    "checkpoint",
    "collect",
    "failures_of",
    "finish_run",
    "install_shares",
    "resource_name",
]


class CellChunk(list):  # type: ignore[type-arg]
    """A cell task's results, one per row from row ``first`` of its row group on.

    Knowing its first row, a chunk can feed any cell task reading rows it covers, whatever
    that task's own chunk size (``RowGroupPlan``: the chunks covering a task's rows).
    """

    def __init__(self, results: list[dict[str, Any] | CellFailure | None], first: int) -> None:
        super().__init__(results)
        self.first = first


class FailedChunk(CellChunk):
    """A cell chunk with at least one ``CellFailure`` (a distinct type, see module doc)."""


@dataclass
class RunContext:
    """What a worker needs to run the tasks of one run."""

    run_id: str
    seed: int
    generators: dict[str, ColumnGenerator]
    assembly: AssemblySpec
    stateful: frozenset[str] = frozenset()
    # what the run's LLM generators share (pickled with them, so identity survives):
    # the engine updates runtime.ceilings with this worker's share of each model's cap
    runtime: ModelRuntime = field(default_factory=ModelRuntime)
    column_models: dict[str, str] = field(default_factory=dict)  # LLM column -> model alias
    caps: dict[str, int] = field(default_factory=dict)  # model alias -> max_parallel_requests


def resource_name(run_id: str, alias: str) -> str:
    """The Dask worker resource that caps a model's calls on each worker during a run."""
    return f"dagen-{run_id}-{alias}"


RUNS: dict[str, RunContext] = {}  # run token -> context, per worker process
PUBLISHERS: dict[str, WorkerPublisher] = {}  # run token -> its figures' publisher, per worker


class RunPlugin(WorkerPlugin):
    """Installs a run's context on every worker (present and future) of the cluster.

    The context is pickled once on the client with cloudpickle, so user functions from
    modules next to the config travel by value.
    """

    def __init__(self, context: RunContext) -> None:
        self.run_id = context.run_id
        self.name = f"dagen-run-{context.run_id}"
        self.payload = cloudpickle.dumps(context)

    def setup(self, worker: Any = None) -> None:
        RUNS[self.run_id] = cloudpickle.loads(self.payload)
        if worker is not None and RUNS[self.run_id].caps:  # figures of the run's models
            PUBLISHERS[self.run_id] = WorkerPublisher(self.run_id, worker)
            PUBLISHERS[self.run_id].start()

    def teardown(self, worker: Any = None) -> None:
        publisher = PUBLISHERS.pop(self.run_id, None)
        if publisher is not None:
            publisher.stop()
        RUNS.pop(self.run_id, None)


def _context(run_id: str) -> RunContext:
    try:
        return RUNS[run_id]
    except KeyError:
        raise ClusterError(
            f"run {run_id} is not installed on this worker (the run plugin did not reach it)"
        ) from None


def _rows(
    inputs: Sequence[ColumnBlock | CellChunk], first: int, n: int
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Each row of rows [first, first + n) with the values it reads, or None when it was
    dropped upstream. Inputs are upstream blocks and the upstream chunks covering the rows
    (each row is covered by exactly one chunk of each cell-by-cell upstream)."""
    blocks = [source for source in inputs if isinstance(source, ColumnBlock)]
    covered: dict[int, list[Any]] = {}
    for chunk in inputs:
        if isinstance(chunk, CellChunk):
            for index in range(max(first, chunk.first), min(first + n, chunk.first + len(chunk))):
                covered.setdefault(index, []).append(chunk[index - chunk.first])
    for index in range(first, first + n):
        row: dict[str, Any] = {}
        for record in [*(b.records.get(index) for b in blocks), *covered.get(index, ())]:
            if not isinstance(record, dict):
                yield index, None
                break
            row.update(record)
        else:
            yield index, row


def _chunk(results: list[Any], first: int) -> CellChunk:
    if any(isinstance(r, CellFailure) for r in results):
        return FailedChunk(results, first)
    return CellChunk(results, first)


def cells(
    run_id: str, column: str, rg: int, start: int, size: int, first: int, n: int, inputs: list[Any]
) -> CellChunk:
    """Rows [first, first + n) of a cell-by-cell column, one after another (sync generators)."""
    context = _context(run_id)
    gen = context.generators[column]
    ctx = BatchContext(column, rg, start, size, context.seed)
    return _chunk(
        [None if row is None else gen.run_cell(row, ctx, i) for i, row in _rows(inputs, first, n)],
        first,
    )


async def cells_async(
    run_id: str, column: str, rg: int, start: int, size: int, first: int, n: int, inputs: list[Any]
) -> CellChunk:
    """Rows [first, first + n) of a cell-by-cell column, concurrently on the worker's loop."""
    context = _context(run_id)
    gen = context.generators[column]
    ctx = BatchContext(column, rg, start, size, context.seed)
    rows = list(_rows(inputs, first, n))
    if n == 1:
        index, row = rows[0]
        return _chunk([None if row is None else await gen.arun_cell(row, ctx, index)], first)
    results = await asyncio.gather(
        *(gen.arun_cell(row, ctx, index) for index, row in rows if row is not None)
    )
    it = iter(results)
    return _chunk([None if row is None else next(it) for _, row in rows], first)


def collect(run_id: str, column: str, rg: int, size: int, chunks: list[CellChunk]) -> ColumnBlock:
    """A cell-by-cell column's chunks joined into one ``ColumnBlock``."""
    outputs = _context(run_id).generators[column].outputs
    index: list[int] = []
    values: dict[str, list[Any]] = {c: [] for c in outputs}
    failures: dict[int, CellFailure] = {}
    row = 0
    for chunk in chunks:
        for result in chunk:
            if isinstance(result, dict):
                index.append(row)
                for c in outputs:
                    values[c].append(result.get(c))
            elif isinstance(result, CellFailure):
                failures[row] = result
            row += 1
    frame = pd.DataFrame(
        {c: pd.Series(v, index=index, dtype=None if v else object) for c, v in values.items()},
        index=pd.Index(index, dtype="int64"),
    )
    return FailedBlock(frame, failures) if failures else ColumnBlock(frame)


def _frame(inputs: Sequence[ColumnBlock], size: int) -> pd.DataFrame:
    """The rows every input has, with all the inputs' columns."""
    if not inputs:
        return pd.DataFrame(index=pd.RangeIndex(size))
    alive = inputs[0].frame.index
    for block in inputs[1:]:
        alive = alive.intersection(block.frame.index)
    return pd.concat([block.frame.reindex(alive) for block in inputs], axis=1)


def batch(
    run_id: str,
    column: str,
    rg: int,
    start: int,
    size: int,
    inputs: list[ColumnBlock],
    after: Any = None,
) -> ColumnBlock:
    """A full-column column for one row group (sync generators).

    ``after`` is the previous row group's result of a stateful column: an ordering-only
    dependency, so that its calls happen one row group after another.
    """
    context = _context(run_id)
    ctx = BatchContext(column, rg, start, size, context.seed)
    return context.generators[column].run_batch(_frame(inputs, size), ctx)


async def batch_async(
    run_id: str,
    column: str,
    rg: int,
    start: int,
    size: int,
    inputs: list[ColumnBlock],
    after: Any = None,
) -> ColumnBlock:
    """A full-column column for one row group (async generators)."""
    context = _context(run_id)
    ctx = BatchContext(column, rg, start, size, context.seed)
    return await context.generators[column].arun_batch(_frame(inputs, size), ctx)


def checkpoint(run_id: str, rg: int, size: int, blocks: list[ColumnBlock]) -> RowGroupResult:
    """Assemble a finished row group into an Arrow table (see ``dagen.sinks.assemble``)."""
    spec = _context(run_id).assembly
    return assemble_row_group(
        dict(zip(spec.columns, blocks, strict=True)), spec, row_group=rg, size=size
    )


async def install_shares(run_id: str, shares: dict[str, int], dask_worker: Any = None) -> None:
    """Give this worker its share of each model's cap.

    The share is the ceiling of the worker's limiter (calls in flight); the Dask resource
    is ``QUEUED_PER_SLOT`` times the share (cells held, one unit each), so the next cells
    are already on the worker when calls finish, while the rest wait in the engine's
    admission (``dagen.lowering.admission``) for whichever worker frees up.
    """
    _context(run_id).runtime.ceilings.update(shares)
    await dask_worker.set_resources(
        **{resource_name(run_id, a): QUEUED_PER_SLOT * n for a, n in shares.items()}
    )


async def finish_run(run_id: str, dask_worker: Any = None) -> dict[str, dict[str, int]]:
    """Close this worker's model clients of the run; their usage, per model alias."""
    publisher = PUBLISHERS.pop(run_id, None)
    if publisher is not None:  # the last figures, before the clients go
        publisher.stop()
    usage = {alias: u.to_dict() for alias, u in scope_usage(run_id).items()}
    await close_clients(run_id)
    if dask_worker is not None and run_id in RUNS:
        names = [resource_name(run_id, a) for a in RUNS[run_id].caps]
        if names:
            await dask_worker.set_resources(**dict.fromkeys(names, 0))
    return usage


def failures_of(result: Any) -> list[CellFailure]:
    """The failures a cell chunk or a column block holds (run next to the result, so only
    the failures travel to the client)."""
    if isinstance(result, ColumnBlock):
        return list(result.failures.values())
    return [r for r in result if isinstance(r, CellFailure)]
