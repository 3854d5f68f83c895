"""Samplers backed by ``scipy.stats``: ``scipy`` (any univariate distribution) and
``bernoulli_mixture`` (0, or a draw from a distribution with probability ``p``).

``dist_name`` names a distribution object of ``scipy.stats`` (``norm``, ``gamma``,
``lognorm``, ``poisson``...) and ``dist_params`` its keyword arguments (shape parameters,
``loc``, ``scale``). Both are checked when the config loads, by freezing the distribution
and drawing one value: an unknown name, an unknown parameter or a parameter outside the
distribution's domain is an error naming the column and ``params.dist_name`` or
``params.dist_params``. ``scipy.stats`` is imported on first use (it takes a while).

Example:
    >>> p = ScipyParams(dist_name="gamma", dist_params={"a": 2, "scale": 3}, decimal_places=1)
    >>> values = _draw_scipy(p, np.random.default_rng(0), 4, pd.DataFrame())
    >>> len(values), bool((values > 0).all())
    (4, True)
    >>> ScipyParams(dist_name="gama", dist_params={})
    Traceback (most recent call last):
    ...
    dagen.errors.ConfigValidationError: ScipyParams: invalid config
      dist_name: scipy.stats has no distribution 'gama' (did you mean 'gamma'?)
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["BernoulliMixtureParams", "ScipyParams", "scipy_distribution"]


def _stats() -> Any:
    import scipy.stats

    return scipy.stats


def _distribution_names() -> list[str]:
    stats = _stats()
    kinds = (stats.rv_continuous, stats.rv_discrete)
    return sorted(n for n in dir(stats) if isinstance(getattr(stats, n, None), kinds))


def _check_dist_name(value: str) -> str:
    names = _distribution_names()
    if value not in names:
        close = difflib.get_close_matches(value, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"scipy.stats has no distribution {value!r}{hint}")
    return value


def scipy_distribution(dist_name: str, dist_params: dict[str, Any]) -> Any:
    """The frozen ``scipy.stats`` distribution ``dist_name(**dist_params)``.

    Raises:
        ValueError: the distribution does not accept the parameters (unknown name, missing
            shape parameter, a value outside its domain).
    """
    dist = getattr(_stats(), dist_name)
    try:
        frozen = dist(**dist_params)
        sample = frozen.rvs(size=1, random_state=np.random.default_rng(0))
    except (TypeError, ValueError) as exc:
        shapes = f"shape parameters: {dist.shapes}; " if dist.shapes else ""
        raise ValueError(
            f"scipy.stats.{dist_name} does not accept {dist_params}: {exc} "
            f"({shapes}also loc, scale)"
        ) from None
    if not np.all(np.isfinite(sample)):
        raise ValueError(f"scipy.stats.{dist_name} with {dist_params} draws {sample[0]}")
    return frozen


def _check_dist_params(value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
    name = info.data.get("dist_name")
    if name is not None:  # None: the name itself is invalid, reported there
        scipy_distribution(name, value)
    return value


class ScipyParams(StrictModel):
    """A draw from any ``scipy.stats`` distribution: ``dist_name`` with ``dist_params``."""

    dist_name: str = Field(min_length=1)
    dist_params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    decimal_places: int | None = Field(default=None, ge=0)

    _name = field_validator("dist_name")(_check_dist_name)
    _params = field_validator("dist_params")(_check_dist_params)


def _draw_scipy(p: ScipyParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    values = np.asarray(
        scipy_distribution(p.dist_name, p.dist_params).rvs(size=n, random_state=rng)
    )
    return np.round(values, p.decimal_places) if p.decimal_places is not None else values


class BernoulliMixtureParams(StrictModel):
    """0 with probability 1 - ``p``, else a draw from ``scipy.stats`` ``dist_name``."""

    p: float = Field(ge=0, le=1)
    dist_name: str = Field(min_length=1)
    dist_params: dict[str, Any] = Field(default_factory=dict, validate_default=True)

    _name = field_validator("dist_name")(_check_dist_name)
    _params = field_validator("dist_params")(_check_dist_params)


def _draw_bernoulli_mixture(
    p: BernoulliMixtureParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    success = rng.random(n) < p.p
    dist = scipy_distribution(p.dist_name, p.dist_params)
    values = np.asarray(dist.rvs(size=n, random_state=rng), dtype="float64")
    return np.where(success, values, 0.0)


register_sampler(
    Sampler(
        "scipy",
        ScipyParams,
        _draw_scipy,
        example={"dist_name": "beta", "dist_params": {"a": 2, "b": 5}},
    )
)
register_sampler(
    Sampler(
        "bernoulli_mixture",
        BernoulliMixtureParams,
        _draw_bernoulli_mixture,
        example={"p": 0.3, "dist_name": "expon", "dist_params": {"scale": 50}},
    )
)
