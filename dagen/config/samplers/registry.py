"""The sampler registry: one entry per ``sampler_type``, holding everything about it.

A sampler is its params model (a strict pydantic model, validated when the config loads),
its draw function and the columns it reads, side by side in one ``Sampler`` entry. The
config layer validates ``sampler_type`` and ``params`` against this table; the generator
layer seeds a random generator and calls ``draw``. Nothing else names a sampler.

    draw(params, rng, n, frame) -> n values (array, list or Series), one per row of the
        row group; ``frame`` holds the columns the sampler reads, indexed by row position
        (only surviving rows: reindex to ``range(n)`` when reading it). Draw for every row
        so that dropped rows never shift the values of the others.
    reads(params) -> frozenset of the column names the sampler reads.
    converts(params) -> the ``convert_to`` targets its values allow (all by default).
    domain(params) -> the values it can draw when that is a known finite list, else None.
    check(params, domains) -> a problem with the columns it reads (``domains``: read
        column -> its known values, or None), or None; run when the config loads.

State: ``_SAMPLERS`` (name -> Sampler), filled at import by the built-in modules of this
package and by ``register_sampler`` calls in users' modules.

Example:
    >>> entry = get_sampler("subcategory")
    >>> entry.description
    "Pick a value from the list that ``values`` maps the ``category`` column's value to."
    >>> entry.reads(entry.params.model_validate({"category": "city", "values": {"Oslo": ["Frogner"]}}))
    frozenset({'city'})

    To add one (in any module imported before the config is loaded)::

        class ConstantParams(StrictModel):
            '''The same ``value`` in every row.'''
            value: int

        register_sampler(Sampler("constant", ConstantParams,
                                 lambda p, rng, n, frame: [p.value] * n, example={"value": 3}))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dagen.config.base import StrictModel
from dagen.errors import ConfigValidationError

__all__ = [
    "ANY_CONVERSION",
    "Check",
    "Converts",
    "Domain",
    "Draw",
    "Reads",
    "Sampler",
    "any_conversion",
    "get_sampler",
    "no_columns",
    "nothing_to_check",
    "register_sampler",
    "sampler_names",
    "samplers",
    "unknown_domain",
]

Draw = Callable[[Any, np.random.Generator, int, pd.DataFrame], Any]
Reads = Callable[[Any], frozenset[str]]
Converts = Callable[[Any], frozenset[str]]
Domain = Callable[[Any], list[Any] | None]
Check = Callable[[Any, Mapping[str, list[Any] | None]], str | None]

ANY_CONVERSION = frozenset({"int", "float", "str"})


def no_columns(params: Any) -> frozenset[str]:
    """What most samplers read: nothing."""
    return frozenset()


def any_conversion(params: Any) -> frozenset[str]:
    """What most (numeric) samplers allow as ``convert_to``: anything."""
    return ANY_CONVERSION


def unknown_domain(params: Any) -> list[Any] | None:
    """What most samplers can draw: too many values to list."""
    return None


def nothing_to_check(params: Any, domains: Mapping[str, list[Any] | None]) -> str | None:
    """What most samplers check against the columns they read: nothing."""
    return None


@dataclass(frozen=True)
class Sampler:
    """One sampler type.

    Attributes:
        name: the ``sampler_type`` that selects it.
        params: the params model (a ``StrictModel``; its docstring documents the sampler).
        draw: the draw function (see the module docstring).
        reads: the columns the sampler reads, from its validated params.
        example: minimal valid ``params``, used by docs and tests.
        converts: the ``convert_to`` targets its values allow.
        domain: the finite list of values it draws, when known.
        check: a problem with the values of the columns it reads, or None.
    """

    name: str
    params: type[StrictModel]
    draw: Draw
    reads: Reads = no_columns
    example: Mapping[str, Any] = field(default_factory=dict)
    converts: Converts = any_conversion
    domain: Domain = unknown_domain
    check: Check = nothing_to_check

    @property
    def description(self) -> str:
        """The first line of the params model's docstring."""
        doc = inspect.cleandoc(self.params.__doc__ or "")
        return doc.splitlines()[0] if doc else ""


_SAMPLERS: dict[str, Sampler] = {}  # sampler_type -> entry


def register_sampler(entry: Sampler) -> Sampler:
    """Add a sampler to the table (replacing one of the same name) and return it.

    Raises:
        TypeError: ``entry`` is not a ``Sampler`` or its params model is not a StrictModel.
        ValueError: the name is empty.
    """
    if not isinstance(entry, Sampler):
        raise TypeError(f"register_sampler takes a Sampler, not {type(entry).__name__}")
    if not (isinstance(entry.params, type) and issubclass(entry.params, StrictModel)):
        raise TypeError(f"sampler {entry.name!r}: params must be a StrictModel subclass")
    if not entry.name:
        raise ValueError("a sampler needs a name")
    _SAMPLERS[entry.name] = entry
    return entry


def sampler_names() -> list[str]:
    """The registered sampler types, sorted."""
    return sorted(_SAMPLERS)


def samplers() -> Iterator[Sampler]:
    """Every registered sampler, by name."""
    return (_SAMPLERS[name] for name in sampler_names())


def get_sampler(name: str) -> Sampler:
    """The sampler registered as ``name``.

    Raises:
        ConfigValidationError: no sampler has that name (the message lists the known ones).
    """
    try:
        return _SAMPLERS[name]
    except KeyError:
        known = ", ".join(sampler_names())
        raise ConfigValidationError(f"unknown sampler_type {name!r}; known: {known}") from None
