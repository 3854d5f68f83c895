"""Custom generators: the user's own function, sync or ``async def``.

Cell by cell, the function gets a dict of the columns it reads and returns the value (or a
dict with the column and its side effects); full column, it gets the row group's surviving
rows as a DataFrame (index = row position) and returns a Series, list or array of the same
length. ``params`` from the config are passed as keyword arguments, and a function with a
parameter named ``context`` also gets the ``BatchContext`` (row group, its first global
row, its size, the run seed) to seed its own randomness or number rows.

Side-effect columns (``side_effect_columns``): the function returns a dict (cell by cell)
or a DataFrame (full column) holding the column and every declared side-effect column;
a missing one, or an undeclared new key, fails the cell (or the row group) naming them.
Models (``model_aliases``): a function with a ``models`` parameter gets
``{alias: ModelHandle}`` (``dagen.generators.models``); such a column always runs on the
worker's event loop (a sync function in a thread beside it).

Example:
    >>> def double(row):
    ...     return row["n"] * 2
    >>> gen = CustomGenerator(CustomColumnConfig(name="n2", function=double), double, ("n",))
    >>> gen.run_cell({"n": 4}, BatchContext("n2", 0, 0, 1, seed=0), 0)
    {'n2': 8}
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from dagen.config.columns import CustomColumnConfig
from dagen.config.functions import resolve_function
from dagen.config.models import ModelConfig
from dagen.errors import ConfigValidationError, GenerationError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator
from dagen.generators.build import ModelRuntime
from dagen.generators.llm import cell_rng
from dagen.generators.models import ModelHandle

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["CustomGenerator", "build"]


class CustomGenerator(ColumnGenerator):
    """Wraps a user function as a cell-by-cell or full-column generator.

    Args:
        config: the custom column.
        function: the resolved function.
        reads: the columns a row passed in holds.
        models: the models the function may call (``model_aliases``), by alias.
        runtime: what the run's model calls share on a worker.
    """

    def __init__(
        self,
        config: CustomColumnConfig,
        function: Callable[..., Any],
        reads: tuple[str, ...],
        models: Mapping[str, ModelConfig] | None = None,
        runtime: ModelRuntime | None = None,
    ) -> None:
        super().__init__(config.name, config.output_columns, reads)
        self.function = function
        self.params = dict(config.params)
        self.side_effects = config.side_effect_columns
        self.models = dict(models or {})
        self.runtime = runtime or ModelRuntime()
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            parameters = {}  # type: ignore[assignment]
        self._wants_context = "context" in parameters
        self._wants_models = "models" in parameters
        self._fn_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            type(function).__call__
        )
        # a function calling models runs on the worker's loop (a sync one in a thread)
        self._async = self._fn_async or self._wants_models

    @property
    def is_async(self) -> bool:
        return self._async

    def _cell_value(self, result: Any, row: dict[str, Any], ctx: BatchContext) -> dict[str, Any]:
        if not self.side_effects:
            if isinstance(result, dict) and set(result) == {self.column}:
                return result
            return {self.column: result}
        if not isinstance(result, dict):
            raise GenerationError(
                f"column {self.column!r}: the function declares side_effect_columns "
                f"{list(self.side_effects)}, so it must return a dict holding them and "
                f"{self.column!r}, not {type(result).__name__}",
                column=self.column,
                row_group=ctx.row_group,
            )
        self._check_keys(set(result), set(row), ctx)
        return {c: result[c] for c in self.outputs}

    def _check_keys(self, keys: set[str], inputs: set[str], ctx: BatchContext) -> None:
        missing = [c for c in self.outputs if c not in keys]
        extra = sorted(keys - set(self.outputs) - inputs)
        if missing or extra:
            problems = [f"missing {missing}"] if missing else []
            problems += (
                [f"undeclared {extra} (declare them in side_effect_columns)"] if extra else []
            )
            raise GenerationError(
                f"column {self.column!r}, row group {ctx.row_group}: the function's result "
                f"has {' and '.join(problems)}",
                column=self.column,
                row_group=ctx.row_group,
            )

    def _kwargs(self, ctx: BatchContext, index: int) -> dict[str, Any]:
        kwargs = dict(self.params)
        if self._wants_context:
            kwargs["context"] = ctx
        if self._wants_models:
            rng = cell_rng(ctx.seed, self.column, ctx.row_group, index)
            loop = asyncio.get_running_loop()
            kwargs["models"] = {
                alias: ModelHandle(model, self.runtime, rng, loop)
                for alias, model in self.models.items()
            }
        return kwargs

    async def _acall(self, data: Any, ctx: BatchContext, index: int) -> Any:
        kwargs = self._kwargs(ctx, index)
        if self._fn_async:
            return await self.function(data, **kwargs)
        return await asyncio.to_thread(self.function, data, **kwargs)

    def generate_cell(self, row: dict[str, Any], ctx: BatchContext, index: int) -> dict[str, Any]:
        return self._cell_value(self.function(row, **self._kwargs(ctx, index)), row, ctx)

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        if not self._async:
            return self.generate_cell(row, ctx, index)
        return self._cell_value(await self._acall(row, ctx, index), row, ctx)

    def _block(self, result: Any, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        if self.side_effects:
            if not isinstance(result, pd.DataFrame):
                raise GenerationError(
                    f"column {self.column!r}: the function declares side_effect_columns, so "
                    f"it must return a DataFrame, not {type(result).__name__}",
                    column=self.column,
                    row_group=ctx.row_group,
                )
            self._check_keys(set(result.columns), set(frame.columns), ctx)
        if isinstance(result, pd.DataFrame):
            if self.column not in result.columns:
                raise GenerationError(
                    f"column {self.column!r}: function returned a DataFrame without column {self.column!r}",
                    column=self.column,
                    row_group=ctx.row_group,
                )
            if len(result) != len(frame):
                raise GenerationError(
                    f"column {self.column!r}, row group {ctx.row_group}: function returned "
                    f"{len(result)} rows for {len(frame)}",
                    column=self.column,
                    row_group=ctx.row_group,
                )
            return ColumnBlock(
                pd.DataFrame(
                    {c: pd.Series(result[c].tolist(), index=frame.index) for c in self.outputs}
                )
            )
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
        return self._block(self.function(frame.copy(), **self._kwargs(ctx, -1)), frame, ctx)

    async def agenerate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        if not self._async:
            return self.generate_batch(frame, ctx)
        return self._block(await self._acall(frame.copy(), ctx, -1), frame, ctx)


def build(config: CustomColumnConfig, context: BuildContext) -> CustomGenerator:
    """The generator of a custom column (the ``custom`` column type's factory).

    Raises:
        ImportFunctionError: the function named as ``module:attr`` cannot be imported.
        ConfigValidationError: a model alias is not configured, or the function takes
            ``models`` while the column lists no ``model_aliases``.
    """
    search_path = (context.source_dir,) if context.source_dir else ()
    function = resolve_function(config.function, column=config.name, search_path=search_path)
    models = {alias: context.config.model(alias) for alias in config.model_aliases}
    generator = CustomGenerator(config, function, context.reads, models, context.runtime)
    if generator._wants_models and not models:
        raise ConfigValidationError(
            f"column {config.name!r}: the function takes 'models' but the column lists no "
            "model_aliases (name the models it may call)"
        )
    return generator
