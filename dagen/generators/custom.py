"""Custom generators: the user's own function, sync or ``async def``.

Cell by cell, the function gets a dict of the columns it reads and returns the value (or a
dict with the column and its side effects); full column, it gets the row group's surviving
rows as a DataFrame (index = row position) and returns a Series, list or array of the same
length. ``params`` from the config are passed as keyword arguments, and a function with a
parameter named ``context`` also gets the ``BatchContext`` (row group, its first global
row, its size, the run seed) to seed its own randomness or number rows.

Example:
    >>> def double(row):
    ...     return row["n"] * 2
    >>> gen = CustomGenerator(CustomColumnConfig(name="n2", function=double), double, ("n",))
    >>> gen.run_cell({"n": 4}, BatchContext("n2", 0, 0, 1, seed=0), 0)
    {'n2': 8}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from dagen.config.columns import CustomColumnConfig
from dagen.config.functions import resolve_function
from dagen.errors import GenerationError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["CustomGenerator", "build"]


class CustomGenerator(ColumnGenerator):
    """Wraps a user function as a cell-by-cell or full-column generator."""

    def __init__(
        self, config: CustomColumnConfig, function: Callable[..., Any], reads: tuple[str, ...]
    ) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.function = function
        self.params = dict(config.params)
        try:
            self._wants_context = "context" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            self._wants_context = False
        self._async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            type(function).__call__
        )

    @property
    def is_async(self) -> bool:
        return self._async

    def _cell_value(self, result: Any) -> dict[str, Any]:
        if isinstance(result, dict) and set(result) == {self.column}:
            return result
        return {self.column: result}

    def _kwargs(self, ctx: BatchContext) -> dict[str, Any]:
        return {**self.params, "context": ctx} if self._wants_context else self.params

    def generate_cell(self, row: dict[str, Any], ctx: BatchContext, index: int) -> dict[str, Any]:
        return self._cell_value(self.function(row, **self._kwargs(ctx)))

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        if not self._async:
            return self.generate_cell(row, ctx, index)
        return self._cell_value(await self.function(row, **self._kwargs(ctx)))

    def _block(self, result: Any, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        if isinstance(result, pd.DataFrame):
            if self.column not in result.columns:
                raise GenerationError(
                    f"column {self.column!r}: function returned a DataFrame without column {self.column!r}",
                    column=self.column,
                    row_group=ctx.row_group,
                )
            result = result[self.column]
        values = list(result) if not isinstance(result, pd.Series) else result.tolist()
        if len(values) != len(frame):
            raise GenerationError(
                f"column {self.column!r}, row group {ctx.row_group}: function returned "
                f"{len(values)} values for {len(frame)} rows",
                column=self.column,
                row_group=ctx.row_group,
            )
        return ColumnBlock(pd.DataFrame({self.column: pd.Series(values, index=frame.index)}))

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        return self._block(self.function(frame.copy(), **self._kwargs(ctx)), frame, ctx)

    async def agenerate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        if not self._async:
            return self.generate_batch(frame, ctx)
        return self._block(await self.function(frame.copy(), **self._kwargs(ctx)), frame, ctx)


def build(config: CustomColumnConfig, context: BuildContext) -> CustomGenerator:
    """The generator of a custom column (the ``custom`` column type's factory).

    Raises:
        ImportFunctionError: the function named as ``module:attr`` cannot be imported.
    """
    search_path = (context.source_dir,) if context.source_dir else ()
    function = resolve_function(config.function, column=config.name, search_path=search_path)
    return CustomGenerator(config, function, context.reads)
