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

Data Designer's contract is honoured as DD 0.9.7 calls it: a function decorated with
``@custom_column_generator``, or whose second parameter is ``generator_params``, is called
``fn(row[, generator_params[, models]])`` and returns the row (a DataFrame, full column)
with the column added. ``generator_params`` is the params validated into the parameter's
pydantic annotation, else a namespace of them, and None when there are none. From the
returned row the column and its side effects are taken; a result without the column fails
the row (the row group, full column) naming it; new keys nobody declared are dropped,
with one warning per column, as DD does. A dagen function that returns the row it got
(every key it read, plus the column) is read the same way, never as a struct of the row.

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
import logging
import types
import typing
from collections.abc import Callable, Mapping, Set
from typing import TYPE_CHECKING, Any

import pandas as pd
import pydantic

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

log = logging.getLogger("dagen")


def _generator_params(function: Callable[..., Any], params: dict[str, Any], column: str) -> Any:
    """What Data Designer passes as ``generator_params``: the params as the parameter's
    pydantic model (when annotated with one), else a namespace; None when there are none.

    Raises:
        ConfigValidationError: the params do not fit the annotated model.
    """
    if not params:
        return None
    try:
        hint = typing.get_type_hints(inspect.unwrap(function)).get("generator_params")
    except Exception:  # an annotation that does not resolve is not a model
        hint = None
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):
        try:
            return hint.model_validate(params)
        except pydantic.ValidationError as exc:
            raise ConfigValidationError(
                f"column {column!r}: generator_params do not fit {hint.__name__}: {exc}"
            ) from exc
    return types.SimpleNamespace(**params)


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
        # Data Designer's contract: fn(row[, generator_params[, models]]) -> the row
        self._takes_generator_params = "generator_params" in parameters
        self._row_contract = (
            hasattr(function, "custom_column_metadata") or self._takes_generator_params
        )
        self._dd_params = (
            _generator_params(function, self.params, self.column)
            if self._takes_generator_params
            else None
        )
        self._warned = False
        self._reads = frozenset(reads)
        unwrapped = inspect.unwrap(function)  # DD's decorator wraps async functions in sync
        self._fn_async = any(
            inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(type(f).__call__)
            for f in (function, unwrapped)
        )
        # a function calling models runs on the worker's loop (a sync one in a thread)
        self._async = self._fn_async or self._wants_models

    @property
    def is_async(self) -> bool:
        return self._async

    def _cell_value(
        self, result: Any, row: dict[str, Any], before: frozenset[str] | None, ctx: BatchContext
    ) -> dict[str, Any]:
        """The cell's outputs; ``before`` is the row's keys before the call (taken for Data
        Designer's contract only: a dagen function that returned the row it was given
        changed it, so its keys before were the columns it reads)."""
        if before is None and isinstance(result, dict):
            before = self._reads if result is row else frozenset(row)
        if self._row_contract or (before and before <= result.keys()):
            return self._from_row(result, before or frozenset(), ctx)
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
        self._check_keys(set(result), before or frozenset(row), ctx)
        return {c: result[c] for c in self.outputs}

    def _from_row(self, result: Any, before: frozenset[str], ctx: BatchContext) -> dict[str, Any]:
        """The outputs of a function that returns the row (Data Designer's contract)."""
        if not isinstance(result, dict):
            raise GenerationError(
                f"column {self.column!r}: the function must return the row (a dict) with "
                f"key {self.column!r} added, not {type(result).__name__}",
                column=self.column,
                row_group=ctx.row_group,
            )
        missing = [c for c in self.outputs if c not in result]
        if missing:
            raise GenerationError(
                f"column {self.column!r}: the function returned a row without "
                f"{', '.join(map(repr, missing))} (set row[{missing[0]!r}] before returning it)",
                column=self.column,
                row_group=ctx.row_group,
            )
        self._warn_undeclared(set(result) - before - set(self.outputs))
        return {c: result[c] for c in self.outputs}

    def _warn_undeclared(self, undeclared: set[str]) -> None:
        if undeclared and not self._warned:
            self._warned = True
            log.warning(
                "column %r: the function created undeclared columns %s; they are dropped "
                "(declare them in side_effect_columns to keep them)",
                self.column,
                sorted(undeclared),
            )

    def _check_keys(self, keys: set[str], inputs: Set[str], ctx: BatchContext) -> None:
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
        kwargs: dict[str, Any]
        if self._takes_generator_params:
            kwargs = {"generator_params": self._dd_params}
        else:  # DD calls a decorated fn(row) with the row alone
            kwargs = {} if self._row_contract else dict(self.params)
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
        before = frozenset(row) if self._row_contract else None
        return self._cell_value(self.function(row, **self._kwargs(ctx, index)), row, before, ctx)

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        if not self._async:
            return self.generate_cell(row, ctx, index)
        before = frozenset(row) if self._row_contract else None
        return self._cell_value(await self._acall(row, ctx, index), row, before, ctx)

    def _block(self, result: Any, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        if self._row_contract and not isinstance(result, pd.DataFrame):
            raise GenerationError(
                f"column {self.column!r}: the function must return the DataFrame with column "
                f"{self.column!r} added, not {type(result).__name__}",
                column=self.column,
                row_group=ctx.row_group,
            )
        if self._row_contract:
            self._warn_undeclared(set(result.columns) - set(frame.columns) - set(self.outputs))
        elif self.side_effects:
            if not isinstance(result, pd.DataFrame):
                raise GenerationError(
                    f"column {self.column!r}: the function declares side_effect_columns, so "
                    f"it must return a DataFrame, not {type(result).__name__}",
                    column=self.column,
                    row_group=ctx.row_group,
                )
            self._check_keys(set(result.columns), set(frame.columns), ctx)
        if isinstance(result, pd.DataFrame):
            missing = [c for c in self.outputs if c not in result.columns]
            if missing:
                raise GenerationError(
                    f"column {self.column!r}: function returned a DataFrame without column(s) "
                    f"{', '.join(map(repr, missing))}",
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
        ConfigValidationError: a model alias is not configured, the function takes
            ``models`` while the column lists no ``model_aliases`` (Data Designer's
            contract gets an empty dict), or ``params`` do not fit its ``generator_params``.
    """
    search_path = (context.source_dir,) if context.source_dir else ()
    function = resolve_function(config.function, column=config.name, search_path=search_path)
    models = {alias: context.config.model(alias) for alias in config.model_aliases}
    generator = CustomGenerator(config, function, context.reads, models, context.runtime)
    if generator._wants_models and not models and not generator._row_contract:
        raise ConfigValidationError(
            f"column {config.name!r}: the function takes 'models' but the column lists no "
            "model_aliases (name the models it may call)"
        )
    return generator
