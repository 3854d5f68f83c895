"""Numeric samplers: ``uniform``, ``gaussian``, ``bernoulli``, ``binomial`` and ``poisson``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> _draw_bernoulli(BernoulliParams(p=1), rng, 3, pd.DataFrame()).tolist()
    [1, 1, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["BernoulliParams", "BinomialParams", "GaussianParams", "PoissonParams", "UniformParams"]


class UniformParams(StrictModel):
    """A uniform float in [low, high), rounded to ``decimal_places`` when given."""

    low: float
    high: float
    decimal_places: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> UniformParams:
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self


def _draw_uniform(p: UniformParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    values = rng.uniform(p.low, p.high, size=n)
    return np.round(values, p.decimal_places) if p.decimal_places is not None else values


class GaussianParams(StrictModel):
    """A normal draw with ``mean`` and ``stddev``."""

    mean: float = 0.0
    stddev: float = Field(default=1.0, ge=0)
    decimal_places: int | None = Field(default=None, ge=0)


def _draw_gaussian(p: GaussianParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    values = rng.normal(p.mean, p.stddev, size=n)
    return np.round(values, p.decimal_places) if p.decimal_places is not None else values


class BernoulliParams(StrictModel):
    """1 with probability ``p``, else 0."""

    p: float = Field(ge=0, le=1)


def _draw_bernoulli(
    p: BernoulliParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    return (rng.random(n) < p.p).astype("int64")


class BinomialParams(StrictModel):
    """The number of successes in ``n`` independent trials, each a success with probability ``p``."""

    n: int = Field(ge=0)
    p: float = Field(ge=0, le=1)


def _draw_binomial(p: BinomialParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return rng.binomial(p.n, p.p, size=n).astype("int64")


class PoissonParams(StrictModel):
    """A Poisson count with the given ``mean``."""

    mean: float = Field(gt=0)


def _draw_poisson(p: PoissonParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    return rng.poisson(p.mean, size=n).astype("int64")


register_sampler(Sampler("uniform", UniformParams, _draw_uniform, example={"low": 18, "high": 90}))
register_sampler(Sampler("gaussian", GaussianParams, _draw_gaussian, example={"mean": 100}))
register_sampler(Sampler("bernoulli", BernoulliParams, _draw_bernoulli, example={"p": 0.3}))
register_sampler(Sampler("binomial", BinomialParams, _draw_binomial, example={"n": 10, "p": 0.3}))
register_sampler(Sampler("poisson", PoissonParams, _draw_poisson, example={"mean": 4}))
