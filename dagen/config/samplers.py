"""Sampler parameters: one strict pydantic model per ``sampler_type``.

A sampler column names its sampler and gives ``params``; the params are validated by the
model registered for that sampler type here, so an unknown or misspelled parameter is an
error that names the column, the sampler and the field.

Example:
    >>> params_model("category").model_validate({"values": ["a", "b"], "weights": [3, 1]})
    CategoryParams(values=['a', 'b'], weights=[3.0, 1.0])
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator

from dagen.config.base import StrictModel

__all__ = [
    "SAMPLER_PARAMS",
    "BernoulliParams",
    "CategoryParams",
    "DatetimeParams",
    "GaussianParams",
    "PersonParams",
    "PoissonParams",
    "SubcategoryParams",
    "UniformParams",
    "UuidParams",
    "params_model",
]


class CategoryParams(StrictModel):
    """Pick one of ``values``, with optional relative ``weights``."""

    values: list[Any] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match_values(self) -> CategoryParams:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and not all zero")
        return self


class SubcategoryParams(StrictModel):
    """Pick a value from the list that ``values`` maps the ``category`` column's value to."""

    category: str = Field(min_length=1)
    values: dict[str, list[Any]] = Field(min_length=1)


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


class GaussianParams(StrictModel):
    """A normal draw with ``mean`` and ``stddev``."""

    mean: float = 0.0
    stddev: float = Field(default=1.0, ge=0)
    decimal_places: int | None = Field(default=None, ge=0)


class BernoulliParams(StrictModel):
    """1 with probability ``p``, else 0."""

    p: float = Field(ge=0, le=1)


class PoissonParams(StrictModel):
    """A Poisson count with the given ``mean``."""

    mean: float = Field(gt=0)


class DatetimeParams(StrictModel):
    """A timestamp drawn uniformly between ``start`` and ``end``, truncated to ``unit``."""

    start: dt.datetime
    end: dt.datetime
    unit: Literal["Y", "M", "D", "h", "m", "s"] = "D"

    @model_validator(mode="after")
    def _ordered(self) -> DatetimeParams:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class UuidParams(StrictModel):
    """A random UUID4 string, optionally prefixed, shortened or upper-cased."""

    prefix: str = ""
    short_form: bool = False
    uppercase: bool = False


class PersonParams(StrictModel):
    """A synthetic person as an object with name, sex, age, email and city.

    Fields of the object are reachable in templates as ``{{ person.first_name }}``.
    """

    sex: Literal["female", "male"] | None = None
    age_range: tuple[int, int] = (18, 90)
    cities: list[str] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PersonParams:
        low, high = self.age_range
        if not 0 <= low <= high:
            raise ValueError(f"age_range {self.age_range} must be 0 <= low <= high")
        return self


SAMPLER_PARAMS: dict[str, type[StrictModel]] = {
    "bernoulli": BernoulliParams,
    "category": CategoryParams,
    "datetime": DatetimeParams,
    "gaussian": GaussianParams,
    "person": PersonParams,
    "poisson": PoissonParams,
    "subcategory": SubcategoryParams,
    "uniform": UniformParams,
    "uuid": UuidParams,
}


def params_model(sampler_type: str) -> type[StrictModel]:
    """The params model of a sampler type.

    Raises:
        KeyError: the sampler type is unknown (the column model turns this into a
            validation error that lists the known types).
    """
    return SAMPLER_PARAMS[sampler_type]
