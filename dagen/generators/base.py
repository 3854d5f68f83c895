"""Column generators: the code that produces a column's values, free of any engine.

A generator is plain Python: it gets rows and returns values; it knows nothing of Dask,
row-group windows or files. The lowering layer calls it from inside Dask tasks.

Two shapes, matching the column's generation strategy:

    cell_by_cell    run_cell(row, ctx)     -> {output column: value} | CellFailure
                    run_cells(rows, ctx)   -> the rows of one task (one run_cell each,
                                              unless the generator takes them together)
    full_column     run_batch(block, ctx)  -> ColumnBlock

``run_*`` never raise for a bad row: a failure becomes a ``CellFailure`` value that names
the column, row group, row and error, so one bad row drops that row and nothing else.
User code that calls ``sys.exit`` (``SystemExit``) fails its rows the same way: it must not
end a Dask worker (``USER_ERRORS``).
Rows that an upstream column already dropped are never passed to a generator.

A ``ColumnBlock`` is one column's result for one row group:

    frame     DataFrame indexed by row position in the row group (surviving rows only),
              one column per output (the column and its side-effect columns)
    failures  {row position: CellFailure} for the rows that failed *in this column*
    skipped   row positions this column skipped (``dagen.generators.skip``): their
              values are the skip value, and ``propagate_skip`` downstream reads them
    usage     the model calls made for it: model alias -> [calls, prompt_tokens,
              completion_tokens] (``dagen.inference.ledger``, set by the worker task)

Example:
    >>> block = ColumnBlock(pd.DataFrame({"x": [1, 2]}, index=[0, 2]), {1: CellFailure("x", 0, 1, "E", "bad")})
    >>> block.rows
    [0, 2]
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import pandas as pd

from dagen.errors import GenerationError, ModelAuthError, ModelRetryableError
from dagen.generators.skip import SkipRule

__all__ = [
    "USER_ERRORS",
    "BatchContext",
    "CellFailure",
    "ColumnBlock",
    "ColumnGenerator",
    "FailedBlock",
    "failure_from",
]


USER_ERRORS = (Exception, SystemExit)  # what a generator's call may raise for its rows


@dataclass(frozen=True, slots=True)
class CellFailure:
    """Why a row has no value in a column: the row is dropped from the dataset.

    Attributes:
        column: the column whose generator failed.
        row_group: row group index.
        row: row position within the row group.
        error_type: the exception's class name (``RateLimitError``, ``KeyError``...).
        message: the exception's message.
        retryable: whether the failure was a retryable one that ran out of retries.
        fatal: whether the whole run must stop (bad credentials).
    """

    column: str
    row_group: int
    row: int
    error_type: str
    message: str
    retryable: bool = False
    fatal: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "error_type": self.error_type,
            "message": self.message,
            "retryable": self.retryable,
        }


def failure_from(exc: BaseException, column: str, row_group: int, row: int) -> CellFailure:
    """A ``CellFailure`` describing ``exc`` raised for one cell."""
    return CellFailure(
        column=column,
        row_group=row_group,
        row=row,
        error_type=type(exc).__name__,
        message=str(exc)[:1000] or repr(exc),
        retryable=isinstance(exc, ModelRetryableError),
        fatal=isinstance(exc, ModelAuthError),
    )


@dataclass(frozen=True)
class ColumnBlock:
    """One column's values for one row group (see the module docstring)."""

    frame: pd.DataFrame
    failures: Mapping[int, CellFailure] = field(default_factory=dict)
    skipped: frozenset[int] = frozenset()
    usage: Mapping[str, list[int]] = field(default_factory=dict)

    @property
    def rows(self) -> list[int]:
        return self.frame.index.tolist()

    @cached_property
    def records(self) -> dict[int, dict[str, Any]]:
        """``{row: {output column: value}}``, built once per process that reads it."""
        columns = list(self.frame.columns)
        return {
            row: dict(zip(columns, values, strict=True))
            for row, values in zip(
                self.frame.index, self.frame.itertuples(index=False, name=None), strict=True
            )
        }


class FailedBlock(ColumnBlock):
    """A ``ColumnBlock`` with at least one failure.

    A distinct type so that the client learns of failures from a future's type alone,
    without fetching the block.
    """


@dataclass(frozen=True, slots=True)
class BatchContext:
    """Where a call happens: the row group, its first global row, its size, the seed."""

    column: str
    row_group: int
    start_row: int
    size: int
    seed: int


class ColumnGenerator:
    """Produces one column (and its side-effect columns) from the columns it reads.

    Subclasses implement ``generate_cell`` (or ``agenerate_cell``) for cell-by-cell
    columns, or ``generate_batch`` (or ``agenerate_batch``) for full-column ones.

    Attributes:
        column: the column's name.
        outputs: the column followed by its side-effect columns.
        reads: the columns (including side-effect columns) passed in each row.
        arrow_types: output column -> the Arrow type it is stored as, for values whose
            inferred type would vary between row groups (lists that may all be empty);
            the rest are inferred.
        skip_rule: when the engine skips a row instead of calling the generator (set by
            ``build_generators``; None: never).
        value_type: the pandas dtype of the column when every row is null (skipped), so
            that the file keeps the column's type; None: unknown.
    """

    arrow_types: Mapping[str, Any] = MappingProxyType({})
    skip_rule: SkipRule | None = None
    value_type: str | None = None

    def __init__(self, column: str, outputs: tuple[str, ...], reads: tuple[str, ...]) -> None:
        self.column = column
        self.outputs = outputs
        self.reads = reads

    @property
    def is_async(self) -> bool:
        """True when the generator's work is a coroutine (run on the worker's event loop)."""
        cls = type(self)
        return (
            cls.agenerate_cell is not ColumnGenerator.agenerate_cell
            or cls.agenerate_batch is not ColumnGenerator.agenerate_batch
        )

    # -- to implement ------------------------------------------------------------------

    def generate_cell(self, row: dict[str, Any], ctx: BatchContext, index: int) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not generate cell by cell")

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        return self.generate_cell(row, ctx, index)

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        raise NotImplementedError(f"{type(self).__name__} does not generate full columns")

    async def agenerate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        return self.generate_batch(frame, ctx)

    # -- called by the engine ----------------------------------------------------------

    def run_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any] | CellFailure:
        """One cell (sync generators), a failure becoming a ``CellFailure`` value."""
        try:
            return self.generate_cell(row, ctx, index)
        except USER_ERRORS as exc:
            return failure_from(exc, self.column, ctx.row_group, index)

    async def arun_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any] | CellFailure:
        """One cell (async generators), a failure becoming a ``CellFailure`` value."""
        try:
            return await self.agenerate_cell(row, ctx, index)
        except USER_ERRORS as exc:
            return failure_from(exc, self.column, ctx.row_group, index)

    def run_cells(
        self, rows: list[tuple[int, dict[str, Any]]], ctx: BatchContext
    ) -> list[dict[str, Any] | CellFailure]:
        """The rows of one cell task, as ``(row, values read)`` (sync generators); one
        ``run_cell`` each unless a generator handles the rows together (a validator)."""
        return [self.run_cell(row, ctx, index) for index, row in rows]

    async def arun_cells(
        self, rows: list[tuple[int, dict[str, Any]]], ctx: BatchContext
    ) -> list[dict[str, Any] | CellFailure]:
        """The rows of one cell task (async generators), concurrently on the event loop."""
        if len(rows) == 1:
            index, row = rows[0]
            return [await self.arun_cell(row, ctx, index)]
        return list(await asyncio.gather(*(self.arun_cell(row, ctx, i) for i, row in rows)))

    def run_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        """A whole row group (sync); an exception fails every row passed in, except a
        ``GenerationError`` that ``stops_run``, which is raised."""
        try:
            return _marked(self.generate_batch(frame, ctx))
        except USER_ERRORS as exc:
            return self._all_failed(exc, frame, ctx)

    async def arun_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        """A whole row group (async); an exception fails every row passed in."""
        try:
            return _marked(await self.agenerate_batch(frame, ctx))
        except USER_ERRORS as exc:
            return self._all_failed(exc, frame, ctx)

    def _all_failed(
        self, exc: BaseException, frame: pd.DataFrame, ctx: BatchContext
    ) -> ColumnBlock:
        if isinstance(exc, GenerationError) and exc.stops_run:
            raise exc  # not a failure of these rows: the run cannot go on
        if not isinstance(exc, GenerationError):
            exc = GenerationError(
                f"column {self.column!r}, row group {ctx.row_group}: {type(exc).__name__}: {exc}",
                column=self.column,
                row_group=ctx.row_group,
            )
        failures = {
            int(r): failure_from(exc, self.column, ctx.row_group, int(r)) for r in frame.index
        }
        empty = pd.DataFrame(
            {c: pd.Series(dtype=object) for c in self.outputs}, index=pd.Index([], dtype="int64")
        )
        return FailedBlock(empty, failures) if failures else ColumnBlock(empty)


def _marked(block: ColumnBlock) -> ColumnBlock:
    """Mark a block with failures by its type (see ``FailedBlock``)."""
    if block.failures and not isinstance(block, FailedBlock):
        return FailedBlock(block.frame, block.failures)
    return block
