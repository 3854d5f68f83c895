"""The sampler generator: one for every sampler, seeded by (run seed, column, first row).

The samplers themselves (params model, draw function, the columns they read) are entries
of the registry in ``dagen.config.samplers``; this module only seeds a random generator,
calls the entry's ``draw`` and applies ``convert_to``.

Each row group draws from its own ``numpy.random.Generator`` seeded with
``[seed, hash(column), start_row]``, so a row's value depends only on the run seed, the
column and the row's place in the dataset: not on the cluster size, the worker that ran
it or the order row groups finish in. Draws are made for every row of the row group and
then the surviving rows are picked, so dropped rows elsewhere do not shift values.

Example:
    >>> config = SamplerColumnConfig(name="n", sampler_type="bernoulli", params={"p": 1})
    >>> gen = SamplerGenerator.from_config(config)
    >>> ctx = BatchContext("n", 0, 0, 3, seed=7)
    >>> gen.run_batch(pd.DataFrame(index=range(3)), ctx).frame["n"].tolist()
    [1, 1, 1]
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dagen.config.columns import SamplerColumnConfig
from dagen.config.samplers import get_sampler
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["SamplerGenerator", "build", "column_rng"]


def column_rng(seed: int, column: str, start_row: int) -> np.random.Generator:
    """The random generator of one column's row group (stable across processes)."""
    digest = int.from_bytes(hashlib.blake2b(column.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([seed, digest, start_row])


_CONVERT = {"int": "int64", "float": "float64", "str": "str"}


class SamplerGenerator(ColumnGenerator):
    """A full-column generator drawing from one sampler."""

    def __init__(self, config: SamplerColumnConfig, reads: tuple[str, ...]) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.params = config.typed_params
        self.draw = get_sampler(config.sampler_type).draw
        self.convert_to = config.convert_to

    @classmethod
    def from_config(cls, config: SamplerColumnConfig) -> SamplerGenerator:
        """The generator of ``config``, reading what its sampler reads."""
        return cls(config, tuple(sorted(config.required_columns([]))))

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        rng = column_rng(ctx.seed, self.column, ctx.start_row)
        values = pd.Series(self.draw(self.params, rng, ctx.size, frame), index=range(ctx.size))
        if self.convert_to == "int":
            values = values.astype("float64").round().astype("int64")
        elif self.convert_to is not None:
            values = values.astype(_CONVERT[self.convert_to])
        return ColumnBlock(pd.DataFrame({self.column: values.loc[frame.index]}))


def build(config: SamplerColumnConfig, context: BuildContext) -> SamplerGenerator:
    """The generator of a sampler column (the ``sampler`` column type's factory)."""
    return SamplerGenerator(config, context.reads)
