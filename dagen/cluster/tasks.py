"""The functions Dask runs: one per task kind, executed on the workers.

A run's generators reach the workers once, in a ``RunPlugin`` registered with the
scheduler (also sent to workers that join later); tasks name the run by its token and find
their generator in the worker's ``RUNS`` registry. Task arguments are therefore small:
coordinates and the results of the tasks they depend on.

Results that flow between tasks:

    cell chunk   CellChunk (a list that knows its first row), one entry per row:
                 {output: value} | CellFailure | None (dropped upstream)
    collect      ColumnBlock for the whole row group
    load         ColumnBlock of values read back from an output being updated
    batch        ColumnBlock
    batches      FusedBlocks: the ColumnBlock of each fused column; a reader takes the
                 blocks from it (``dagen.cluster.fused``), as if each were its own task
    checkpoint   RowGroupResult (Arrow table + drop report; the sink encodes it)

Each task that runs a generator (cells, cells_async, batch, batch_async, batches) opens a ledger
(``dagen.inference.ledger.counting``) that the model client adds its calls to; the
ledger travels as ``CellChunk.usage`` / ``ColumnBlock.usage``, ``collect`` sums its
chunks', and the checkpoint gathers them into ``RowGroupResult.usage`` (column -> model
-> calls and tokens): a row group's usage is exactly the calls of the tasks it kept.

A row with a failed or dropped upstream value is never passed to a generator (no model
call is paid for it); it stays ``None`` downstream. A row the column skips
(``dagen.generators.skip``) is not passed either: it becomes a ``SkippedCell`` (cell by
cell) or a row of ``ColumnBlock.skipped`` (full column), holding the skip value. A task of
the run that fails is
reported by the client in one line naming the row group and column, so while the run is
installed the worker does not log the same failure again ("Compute Failed", with its
traceback) for the run's keys. Results holding a failure are of a
marker type (``FailedChunk``, ``FailedBlock``, ``FailedFusedBlocks``) so the client can
see failures from the future's type alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from dagen.cluster.fused import FusedBlocks, blocks_of, run_fused
from dagen.cluster.signals import WorkerPublisher
from dagen.errors import ClusterError
from dagen.generators import (
    BatchContext,
    CellFailure,
    ColumnBlock,
    ColumnGenerator,
    FailedBlock,
    ModelRuntime,
    SkippedCell,
    fill_skipped,
    typed_nulls,
)
from dagen.inference.ledger import TaskUsage, counting, merged
from dagen.inference.mcp import close_sessions
from dagen.inference.pool import close_clients, scope_in_flight, scope_usage, set_ceilings
from dagen.lowering.admission import QUEUED_PER_SLOT
from dagen.sinks.assemble import AssemblySpec, RowGroupResult, assemble_row_group, encoded

__all__ = [
    "PUBLISHERS",
    "RUNS",
    "CellChunk",
    "FailedChunk",
    "RunContext",
    "RunPlugin",
    "batch",
    "batch_async",
    "batches",
    "calls_in_flight",
    "cells",
    "cells_async",
    "checkpoint",
    "collect",
    "failures_of",
    "finish_run",
    "install_shares",
    "load",
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
        self.usage: TaskUsage = {}  # the model calls made for it (dagen.inference.ledger)


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
    call_timeout: float = 0.0  # seconds a model call may last (the largest model timeout)
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> what it reads


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
        logging.getLogger("distributed.worker").addFilter(_RunFailuresReported(self.run_id))
        if worker is not None and RUNS[self.run_id].caps:  # figures of the run's models
            PUBLISHERS[self.run_id] = WorkerPublisher(self.run_id, worker)
            PUBLISHERS[self.run_id].start()

    def teardown(self, worker: Any = None) -> None:
        publisher = PUBLISHERS.pop(self.run_id, None)
        if publisher is not None:
            publisher.stop()
        RUNS.pop(self.run_id, None)
        worker_log = logging.getLogger("distributed.worker")
        for found in list(worker_log.filters):
            if isinstance(found, _RunFailuresReported) and found.run_id == self.run_id:
                worker_log.removeFilter(found)


class _RunFailuresReported(logging.Filter):
    """Drops the worker's "Compute Failed" record of a task of one run (the client says it)."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Compute Failed") or not record.args:
            return True
        key = record.args[0] if isinstance(record.args, tuple) else None
        return not (isinstance(key, tuple) and len(key) > 1 and key[1] == self.run_id)


def _context(run_id: str) -> RunContext:
    try:
        return RUNS[run_id]
    except KeyError:
        raise ClusterError(
            f"run {run_id} is not installed on this worker (the run plugin did not reach it)"
        ) from None


def _rows(
    inputs: Sequence[ColumnBlock | CellChunk], first: int, n: int
) -> Iterator[tuple[int, dict[str, Any] | None, frozenset[str]]]:
    """Each row of rows [first, first + n) with the values it reads (None when it was
    dropped upstream) and the output columns skipped upstream in it. Inputs are upstream
    blocks and the upstream chunks covering the rows (each row is covered by exactly one
    chunk of each cell-by-cell upstream)."""
    inputs = blocks_of(inputs)
    blocks = [source for source in inputs if isinstance(source, ColumnBlock)]
    covered: dict[int, list[Any]] = {}
    for chunk in inputs:
        if isinstance(chunk, CellChunk):
            for index in range(max(first, chunk.first), min(first + n, chunk.first + len(chunk))):
                covered.setdefault(index, []).append(chunk[index - chunk.first])
    for index in range(first, first + n):
        row: dict[str, Any] = {}
        skipped: set[str] = set()
        for block in blocks:
            if index in block.skipped:
                skipped.update(block.frame.columns)
        for record in [*(b.records.get(index) for b in blocks), *covered.get(index, ())]:
            if not isinstance(record, dict):
                yield index, None, frozenset()
                break
            if isinstance(record, SkippedCell):
                skipped.update(record)
            row.update(record)
        else:
            yield index, row, frozenset(skipped)


def _skips(gen: ColumnGenerator, row: dict[str, Any], skipped: frozenset[str]) -> bool:
    return gen.skip_rule is not None and gen.skip_rule.applies(row, skipped)


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
    rows = _gated(gen, _rows(inputs, first, n))
    with counting() as usage:
        chunk = _alive_results(rows, gen.run_cells(_alive(rows), ctx), first, gen)
    chunk.usage = usage
    return chunk


async def cells_async(
    run_id: str, column: str, rg: int, start: int, size: int, first: int, n: int, inputs: list[Any]
) -> CellChunk:
    """Rows [first, first + n) of a cell-by-cell column, concurrently on the worker's loop."""
    context = _context(run_id)
    gen = context.generators[column]
    ctx = BatchContext(column, rg, start, size, context.seed)
    rows = _gated(gen, _rows(inputs, first, n))
    alive = _alive(rows)
    with counting() as usage:
        chunk = _alive_results(rows, await gen.arun_cells(alive, ctx) if alive else [], first, gen)
    chunk.usage = usage
    return chunk


_SKIP: dict[str, Any] = {}  # a row the column skips (compared by identity)

_Rows = list[tuple[int, dict[str, Any] | None]]


def _gated(
    gen: ColumnGenerator, rows: Iterator[tuple[int, dict[str, Any] | None, frozenset[str]]]
) -> _Rows:
    """Each row, or None when it was dropped upstream, or ``_SKIP`` when the column's skip
    rule applies to it (it then costs no call)."""
    return [
        (index, _SKIP if row is not None and _skips(gen, row, skipped) else row)
        for index, row, skipped in rows
    ]


def _alive(rows: _Rows) -> list[tuple[int, dict[str, Any]]]:
    """The rows neither dropped upstream nor skipped: those a generator is given."""
    return [(index, row) for index, row in rows if row is not None and row is not _SKIP]


def _alive_results(rows: _Rows, results: list[Any], first: int, gen: ColumnGenerator) -> CellChunk:
    """The chunk of ``rows``: the generator's results in place of the rows it was given,
    the skip value for skipped rows, None for dropped ones."""
    it = iter(results)
    values = [
        None if row is None else gen.skip_rule.cell() if row is _SKIP else next(it)  # type: ignore[union-attr]
        for _, row in rows
    ]
    return _chunk(values, first)


def collect(run_id: str, column: str, rg: int, size: int, chunks: list[CellChunk]) -> ColumnBlock:
    """A cell-by-cell column's chunks joined into one ``ColumnBlock``."""
    gen = _context(run_id).generators[column]
    outputs = gen.outputs
    index: list[int] = []
    values: dict[str, list[Any]] = {c: [] for c in outputs}
    failures: dict[int, CellFailure] = {}
    skipped: set[int] = set()
    row = 0
    for chunk in chunks:
        for result in chunk:
            if isinstance(result, dict):
                index.append(row)
                if isinstance(result, SkippedCell):
                    skipped.add(row)
                for c in outputs:
                    values[c].append(result.get(c))
            elif isinstance(result, CellFailure):
                failures[row] = result
            row += 1
    frame = pd.DataFrame(
        # object when a value is None (skipped): pandas would turn it into NaN downstream
        {c: pd.Series(v, index=index, dtype=_dtype(v)) for c, v in values.items()},
        index=pd.Index(index, dtype="int64"),
    )
    frame = typed_nulls(frame, column, gen.value_type)
    kind = FailedBlock if failures else ColumnBlock
    usage = merged(chunk.usage for chunk in chunks if chunk.usage)
    return kind(frame, failures, frozenset(skipped), usage)


def load(
    run_id: str,
    column: str,
    rows: list[int],
    values: dict[str, list[Any]],
    failures: list[CellFailure],
) -> ColumnBlock:
    """A column's values read back from the output an update replaces, as a block like
    the one generating it made (``collect``); ``failures`` carry the rows it dropped."""
    gen = _context(run_id).generators[column]
    frame = pd.DataFrame(
        {c: pd.Series(v, index=rows, dtype=_dtype(v)) for c, v in values.items()},
        index=pd.Index(rows, dtype="int64"),
    )
    frame = typed_nulls(frame, column, gen.value_type)
    kind = FailedBlock if failures else ColumnBlock
    return kind(frame, {f.row: f for f in failures})


def _dtype(values: list[Any]) -> Any:
    return object if not values or any(v is None for v in values) else None


def _frame(inputs: Sequence[ColumnBlock], size: int) -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """The rows every input has, with all the inputs' columns, and per row the output
    columns skipped upstream in it."""
    skipped: dict[int, set[str]] = {}
    for block in inputs:
        for row in block.skipped:
            skipped.setdefault(row, set()).update(block.frame.columns)
    if not inputs:
        return pd.DataFrame(index=pd.RangeIndex(size)), skipped
    alive = inputs[0].frame.index
    for block in inputs[1:]:
        alive = alive.intersection(block.frame.index)
    return pd.concat([block.frame.reindex(alive) for block in inputs], axis=1), skipped


def _skipped_rows(
    gen: ColumnGenerator, frame: pd.DataFrame, skipped: dict[int, set[str]]
) -> list[int]:
    """The rows of ``frame`` the column skips."""
    if gen.skip_rule is None:
        return []
    rule = gen.skip_rule
    records = frame.to_dict("index") if rule.when is not None else {}
    return [
        int(r)
        for r in frame.index
        if rule.applies(records.get(r, {}), frozenset(skipped.get(int(r), ())))
    ]


def _with_skipped(gen: ColumnGenerator, block: ColumnBlock, rows: list[int]) -> ColumnBlock:
    if gen.skip_rule is None:
        return block
    frame = fill_skipped(block.frame, gen.skip_rule, rows, gen.value_type)
    return type(block)(frame, block.failures, frozenset(rows), block.usage)


def _with_usage(block: ColumnBlock, usage: TaskUsage) -> ColumnBlock:
    return dataclasses.replace(block, usage=usage) if usage else block


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
    gen = context.generators[column]
    frame, skipped = _frame(blocks_of(inputs), size)
    rows = _skipped_rows(gen, frame, skipped)
    with counting() as usage:
        block = gen.run_batch(frame.drop(index=rows) if rows else frame, ctx)
    return _with_usage(_with_skipped(gen, block, rows), usage)


def batches(run_id: str, columns: Sequence[str], rg: int, start: int, size: int) -> FusedBlocks:
    """Fused full-column columns for one row group (sync generators; ``run_fused``)."""

    def run_one(column: str, inputs: list[ColumnBlock]) -> ColumnBlock:
        return batch(run_id, column, rg, start, size, inputs)

    return run_fused(columns, _context(run_id).upstream, rg, run_one)


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
    gen = context.generators[column]
    frame, skipped = _frame(blocks_of(inputs), size)
    rows = _skipped_rows(gen, frame, skipped)
    with counting() as usage:
        block = await gen.arun_batch(frame.drop(index=rows) if rows else frame, ctx)
    return _with_usage(_with_skipped(gen, block, rows), usage)


def checkpoint(run_id: str, rg: int, size: int, blocks: list[ColumnBlock]) -> RowGroupResult:
    """Assemble a finished row group into an Arrow table, encoded as its part when the sink
    stores parquet parts (see ``dagen.sinks.assemble``)."""
    spec = _context(run_id).assembly
    by_column: dict[str, ColumnBlock] = {}
    own = []  # one block per column not fused, in column order
    for block in blocks:
        if isinstance(block, FusedBlocks):
            by_column.update(block.blocks)
        else:
            own.append(block)
    by_column.update(zip([c for c in spec.columns if c not in by_column], own, strict=True))
    result = assemble_row_group(by_column, spec, row_group=rg, size=size)
    return encoded(result, spec.part_format)


async def install_shares(run_id: str, shares: dict[str, int], dask_worker: Any = None) -> None:
    """Give this worker its share of each model's cap.

    The share is the ceiling of the worker's limiter (calls in flight); the Dask resource
    is ``QUEUED_PER_SLOT`` times the share (cells held, one unit each), so the next cells
    are already on the worker when calls finish, while the rest wait in the engine's
    admission (``dagen.lowering.admission``) for whichever worker frees up. A lower
    ceiling holds at once, also for the calls already waiting for a slot.
    """
    # a limiter holds at least one call: a worker left with no share (more workers than
    # the cap) gets no new cells, and finishes the ones it runs one call at a time
    ceilings = {alias: max(1, n) for alias, n in shares.items()}
    _context(run_id).runtime.ceilings.update(ceilings)
    set_ceilings(run_id, ceilings)
    await dask_worker.set_resources(
        **{resource_name(run_id, a): QUEUED_PER_SLOT * n for a, n in shares.items()}
    )


def calls_in_flight(run_id: str, dask_worker: Any = None) -> dict[str, int]:
    """This worker's model calls of the run in flight now, per model alias."""
    return scope_in_flight(run_id)


async def finish_run(run_id: str, dask_worker: Any = None) -> dict[str, dict[str, int]]:
    """Close this worker's model clients and MCP sessions of the run; the clients' usage,
    per model alias."""
    publisher = PUBLISHERS.pop(run_id, None)
    if publisher is not None:  # the last figures, before the clients go
        publisher.stop()
    usage = {alias: u.to_dict() for alias, u in scope_usage(run_id).items()}
    await close_clients(run_id)
    await close_sessions(run_id)
    return usage


def failures_of(result: Any) -> list[CellFailure]:
    """The failures a cell chunk or a column block holds (run next to the result, so only
    the failures travel to the client)."""
    if isinstance(result, ColumnBlock):
        return list(result.failures.values())
    if isinstance(result, FusedBlocks):
        return [f for block in result.blocks.values() for f in block.failures.values()]
    return [r for r in result if isinstance(r, CellFailure)]
