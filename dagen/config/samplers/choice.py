"""Choice samplers: ``category`` (one of a list) and ``subcategory`` (one of a list per value
of another column).

Example:
    >>> rng = np.random.default_rng(0)
    >>> _draw_category(CategoryParams(values=["a", "b"], weights=[1, 0]), rng, 3, pd.DataFrame()).tolist()
    ['a', 'a', 'a']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import ANY_CONVERSION, Sampler, register_sampler

__all__ = ["CategoryParams", "SubcategoryParams"]


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


def _draw_category(p: CategoryParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    weights = None
    if p.weights is not None:
        total = sum(p.weights)
        weights = [w / total for w in p.weights]
    picks = rng.choice(len(p.values), size=n, p=weights)
    values = np.empty(len(p.values), dtype=object)
    values[:] = p.values
    return values[picks]


class SubcategoryParams(StrictModel):
    """Pick a value from the list that ``values`` maps the ``category`` column's value to."""

    category: str = Field(min_length=1)
    values: dict[str, list[Any]] = Field(min_length=1)


def _draw_subcategory(
    p: SubcategoryParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    u = rng.random(n)
    out = np.empty(n, dtype=object)
    parents = frame[p.category].reindex(range(n))
    for i, parent in enumerate(parents):
        # a value with no list has no subcategory (a config whose category column is a
        # sampler with a known list of values is refused when it loads: ``_parents_mapped``)
        choices = p.values.get(str(parent)) if parent is not None else None
        if choices:
            out[i] = choices[int(u[i] * len(choices))]
        else:
            out[i] = None
    return out


def _reads_category(p: SubcategoryParams) -> frozenset[str]:
    return frozenset({p.category})


def _numeric(value: Any) -> bool:
    """Whether ``value`` converts to a finite number (``3``, ``2.5``, ``"7"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _conversions(values: list[Any]) -> frozenset[str]:
    return ANY_CONVERSION if all(_numeric(v) for v in values) else frozenset({"str"})


def _category_domain(p: CategoryParams) -> list[Any]:
    return list(p.values)


def _subcategory_domain(p: SubcategoryParams) -> list[Any]:
    return [v for choices in p.values.values() for v in choices]


def _parents_mapped(p: SubcategoryParams, domains: Mapping[str, list[Any] | None]) -> str | None:
    """Every value the category column can take must have a list (else a row would be null)."""
    parents = domains.get(p.category)
    if parents is None:
        return None
    missing = sorted({str(v) for v in parents} - {k for k, v in p.values.items() if v})
    if missing:
        return (
            f"params.values has no (non-empty) list for {', '.join(map(repr, missing))}, "
            f"value(s) of column {p.category!r}"
        )
    return None


register_sampler(
    Sampler(
        "category",
        CategoryParams,
        _draw_category,
        example={"values": ["Oslo", "Lima"]},
        converts=lambda p: _conversions(p.values),
        domain=_category_domain,
    )
)
register_sampler(
    Sampler(
        "subcategory",
        SubcategoryParams,
        _draw_subcategory,
        reads=_reads_category,
        example={"category": "city", "values": {"Oslo": ["Frogner", "Sagene"]}},
        converts=lambda p: _conversions(_subcategory_domain(p)),
        domain=_subcategory_domain,
        check=_parents_mapped,
    )
)
