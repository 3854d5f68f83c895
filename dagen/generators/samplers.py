"""Sampler generators: vectorised draws, seeded by (run seed, column, first row of the group).

Each row group draws from its own ``numpy.random.Generator`` seeded with
``[seed, hash(column), start_row]``, so a row's value depends only on the run seed, the
column and the row's place in the dataset: not on the cluster size, the worker that ran
it or the order row groups finish in. Draws are made for every row of the row group and
then the surviving rows are picked, so dropped rows elsewhere do not shift values.

Example:
    >>> gen = SamplerGenerator.from_config(SamplerColumnConfig(name="n", sampler_type="bernoulli", params={"p": 1}))
    >>> ctx = BatchContext("n", 0, 0, 3, seed=7)
    >>> gen.run_batch(pd.DataFrame(index=range(3)), ctx).frame["n"].tolist()
    [1, 1, 1]
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dagen.config.columns import SamplerColumnConfig
from dagen.config.samplers import (
    BernoulliParams,
    CategoryParams,
    DatetimeParams,
    GaussianParams,
    PersonParams,
    PoissonParams,
    SubcategoryParams,
    UniformParams,
    UuidParams,
)
from dagen.generators import people
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator

__all__ = ["SamplerGenerator", "column_rng"]


def column_rng(seed: int, column: str, start_row: int) -> np.random.Generator:
    """The random generator of one column's row group (stable across processes)."""
    digest = int.from_bytes(hashlib.blake2b(column.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([seed, digest, start_row])


Draw = Callable[[Any, np.random.Generator, int, pd.DataFrame], Any]


def _category(p: CategoryParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    weights = None
    if p.weights is not None:
        total = sum(p.weights)
        weights = [w / total for w in p.weights]
    picks = rng.choice(len(p.values), size=n, p=weights)
    values = np.empty(len(p.values), dtype=object)
    values[:] = p.values
    return values[picks]


def _subcategory(
    p: SubcategoryParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    u = rng.random(n)
    out = np.empty(n, dtype=object)
    parents = frame[p.category].reindex(range(n))
    for i, parent in enumerate(parents):
        choices = p.values.get(str(parent)) if parent is not None else None
        if choices:
            out[i] = choices[int(u[i] * len(choices))]
        else:
            out[i] = None
    return out


def _uniform(p: UniformParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    values = rng.uniform(p.low, p.high, size=n)
    return np.round(values, p.decimal_places) if p.decimal_places is not None else values


def _gaussian(p: GaussianParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    values = rng.normal(p.mean, p.stddev, size=n)
    return np.round(values, p.decimal_places) if p.decimal_places is not None else values


def _bernoulli(p: BernoulliParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return (rng.random(n) < p.p).astype("int64")


def _poisson(p: PoissonParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return rng.poisson(p.mean, size=n).astype("int64")


def _datetime(p: DatetimeParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
    if p.unit in ("Y", "M"):
        first = start.to_period(p.unit).to_timestamp()
        start = first if first == start else (start.to_period(p.unit) + 1).to_timestamp()
    else:
        start = start.ceil({"D": "D", "h": "h", "m": "min", "s": "s"}[p.unit])
    span = max((end - start).value, 0)  # nanoseconds; values start on a whole unit >= start
    offsets = (rng.random(n) * span).astype("int64")
    stamps = pd.to_datetime(start.value + offsets)
    if p.unit in ("Y", "M"):
        return stamps.to_period(p.unit).to_timestamp()
    return stamps.floor({"D": "D", "h": "h", "m": "min", "s": "s"}[p.unit])


def _uuid(p: UuidParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    raw = rng.bytes(16 * n)
    out = []
    for i in range(n):
        text = str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4))
        if p.short_form:
            text = text.replace("-", "")[:12]
        if p.uppercase:
            text = text.upper()
        out.append(p.prefix + text)
    return out


def _person(p: PersonParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return people.draw_people(p, rng, n)


_DRAWS: dict[str, Draw] = {
    "bernoulli": _bernoulli,
    "category": _category,
    "datetime": _datetime,
    "gaussian": _gaussian,
    "person": _person,
    "poisson": _poisson,
    "subcategory": _subcategory,
    "uniform": _uniform,
    "uuid": _uuid,
}

_CONVERT = {"int": "int64", "float": "float64", "str": "str"}


class SamplerGenerator(ColumnGenerator):
    """A full-column generator drawing from one sampler."""

    def __init__(self, config: SamplerColumnConfig, reads: tuple[str, ...]) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.params = config.typed_params
        self.draw = _DRAWS[config.sampler_type]
        self.convert_to = config.convert_to

    @classmethod
    def from_config(cls, config: SamplerColumnConfig) -> SamplerGenerator:
        return cls(config, tuple(sorted(config.required_columns([]))))

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        rng = column_rng(ctx.seed, self.column, ctx.start_row)
        values = pd.Series(self.draw(self.params, rng, ctx.size, frame), index=range(ctx.size))
        if self.convert_to == "int":
            values = values.astype("float64").round().astype("int64")
        elif self.convert_to is not None:
            values = values.astype(_CONVERT[self.convert_to])
        return ColumnBlock(pd.DataFrame({self.column: values.loc[frame.index]}))
