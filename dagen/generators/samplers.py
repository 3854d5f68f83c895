"""The sampler generator: one for every sampler, seeded by (run seed, column, first row).

The samplers themselves (params model, draw function, the columns they read) are entries
of the registry in ``dagen.config.samplers``; this module only seeds a random generator,
calls the entry's ``draw`` and applies ``convert_to``.

Each row group draws from its own ``numpy.random.Generator`` seeded with
``[seed, hash(column), start_row]``, so a row's value depends only on the run seed, the
column and the row's place in the dataset: not on the cluster size, the worker that ran
it or the order row groups finish in. Draws are made for every row of the row group and
then the surviving rows are picked, so dropped rows elsewhere do not shift values.

Conditional params (``conditional_params``): the column is drawn with ``params``, then once
more per condition with that condition's params, and each condition's draw replaces the
values of the rows where the condition (a Jinja expression over the row) is true; the last
condition listed wins. Constraints (``dagen.config.constraints``): the surviving rows that
violate one are drawn again (all of the above, with the same generator, so the result
still depends only on the seed) until none does; after ``MAX_REJECTION_ROUNDS`` rounds a
``ConstraintError`` names the constraint and stops the run.

Example:
    >>> config = SamplerColumnConfig(name="n", sampler_type="bernoulli", params={"p": 1})
    >>> gen = SamplerGenerator.from_config(config)
    >>> ctx = BatchContext("n", 0, 0, 3, seed=7)
    >>> gen.run_batch(pd.DataFrame(index=range(3)), ctx).frame["n"].tolist()
    [1, 1, 1]
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dagen.config.columns import SamplerColumnConfig
from dagen.config.constraints import MAX_REJECTION_ROUNDS
from dagen.config.samplers import get_sampler
from dagen.errors import ConstraintError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["SamplerGenerator", "build", "column_rng"]


def column_rng(seed: int, column: str, start_row: int) -> np.random.Generator:
    """The random generator of one column's row group (stable across processes)."""
    digest = int.from_bytes(hashlib.blake2b(column.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([seed, digest, start_row])


_CONVERT = {"int": "int64", "float": "float64", "str": "str"}


_ENV = ImmutableSandboxedEnvironment()


@functools.lru_cache(maxsize=256)
def _compiled(condition: str) -> Any:
    return _ENV.compile_expression(condition)


def _plain(value: Any) -> Any:
    """A value as a condition sees it (DD: instants as ISO text)."""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    return value


def condition_mask(condition: str, frame: pd.DataFrame, n: int) -> np.ndarray:
    """Which of the ``n`` rows satisfy ``condition`` (only rows of ``frame`` can)."""
    expression = _compiled(condition)
    mask = np.zeros(n, dtype=bool)
    for index, row in zip(frame.index, frame.to_dict(orient="records"), strict=True):
        result = expression(**{k: _plain(v) for k, v in row.items()})
        mask[int(index)] = isinstance(result, (bool, np.bool_)) and bool(result)
    return mask


class SamplerGenerator(ColumnGenerator):
    """A full-column generator drawing from one sampler."""

    def __init__(
        self,
        config: SamplerColumnConfig,
        reads: tuple[str, ...],
        constraints: Sequence[Any] = (),
    ) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.sampler_type = config.sampler_type
        self.params = config.typed_params
        self.conditional = tuple(config.typed_conditional_params.items())  # (condition, params)
        self.draw = get_sampler(config.sampler_type).draw
        self.convert_to = config.convert_to
        self.constraints = tuple(constraints)

    @classmethod
    def from_config(
        cls, config: SamplerColumnConfig, constraints: Sequence[Any] = ()
    ) -> SamplerGenerator:
        """The generator of ``config``, reading what its sampler and constraints read."""
        reads = set(config.required_columns([]))
        reads |= {c.rhs for c in constraints if isinstance(c.rhs, str)}
        return cls(config, tuple(sorted(reads)), constraints)

    def _draw_all(
        self, rng: np.random.Generator, n: int, frame: pd.DataFrame, masks: list[Any]
    ) -> pd.Series:
        """Every row drawn once: with ``params``, then each condition's rows with its own."""
        values = pd.Series(self.draw(self.params, rng, n, frame), index=range(n))
        for (_, params), mask in zip(self.conditional, masks, strict=True):
            other = pd.Series(self.draw(params, rng, n, frame), index=range(n))
            if mask.any():
                values = other.where(mask, values) if mask.all() else values.where(~mask, other)
        if self.convert_to == "int":
            values = values.astype("float64").round().astype("int64")
        elif self.convert_to in _CONVERT:
            values = values.astype(_CONVERT[self.convert_to])
        elif self.convert_to is not None:  # a strftime format (datetime, timedelta)
            values = pd.to_datetime(values).dt.strftime(self.convert_to)
        return values

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        rng = column_rng(ctx.seed, self.column, ctx.start_row)
        masks = [condition_mask(cond, frame, ctx.size) for cond, _ in self.conditional]
        values = self._draw_all(rng, ctx.size, frame, masks)
        if self.constraints:
            values = self._enforce(values, rng, frame, masks, ctx)
        if not values.index.equals(frame.index):  # rows dropped upstream leave this one
            values = values.loc[frame.index]
        return ColumnBlock(pd.DataFrame({self.column: values}))

    def _violations(
        self, values: pd.Series, frame: pd.DataFrame, alive: np.ndarray
    ) -> list[np.ndarray]:
        """Per constraint, which surviving rows violate it."""
        return [~c.holds(values, frame) & alive for c in self.constraints]

    def _enforce(
        self,
        values: pd.Series,
        rng: np.random.Generator,
        frame: pd.DataFrame,
        masks: list[Any],
        ctx: BatchContext,
    ) -> pd.Series:
        """``values`` with the rows that violate a constraint drawn again until none does.

        Raises:
            ConstraintError: rows still violate a constraint after the last round.
        """
        alive = np.zeros(ctx.size, dtype=bool)
        alive[frame.index.to_numpy(dtype="int64")] = True
        for _ in range(MAX_REJECTION_ROUNDS):
            bad = np.logical_or.reduce(self._violations(values, frame, alive))
            if not bad.any():
                return values
            values = values.where(~bad, self._draw_all(rng, ctx.size, frame, masks))
        violations = self._violations(values, frame, alive)
        if not np.logical_or.reduce(violations).any():
            return values
        counts = [int(v.sum()) for v in violations]
        worst = self.constraints[int(np.argmax(counts))]
        raise ConstraintError(
            f"column {self.column!r}, row group {ctx.row_group}: constraint "
            f"{worst.describe()} still fails for {max(counts)} of {int(alive.sum())} rows after "
            f"{MAX_REJECTION_ROUNDS} redraws; sampler {self.sampler_type!r} with these params "
            "cannot (or can hardly) meet it",
            column=self.column,
            row_group=ctx.row_group,
        )


def build(config: SamplerColumnConfig, context: BuildContext) -> SamplerGenerator:
    """The generator of a sampler column (the ``sampler`` column type's factory)."""
    return SamplerGenerator(config, context.reads, context.config.constraints_on(config.name))
