"""Samplers of instants and identifiers: ``datetime`` and ``uuid``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> _draw_uuid(UuidParams(prefix="cus_", short_form=True), rng, 1, pd.DataFrame())
    ['cus_5f82c2d9cfeb']
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["DatetimeParams", "UuidParams"]

_FLOOR = {"D": "D", "h": "h", "m": "min", "s": "s"}  # unit -> pandas frequency


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


def _draw_datetime(p: DatetimeParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
    if p.unit in ("Y", "M"):
        first = start.to_period(p.unit).to_timestamp()
        start = first if first == start else (start.to_period(p.unit) + 1).to_timestamp()
    else:
        start = start.ceil(_FLOOR[p.unit])
    span = max((end - start).value, 0)  # nanoseconds; values start on a whole unit >= start
    offsets = (rng.random(n) * span).astype("int64")
    stamps = pd.to_datetime(start.value + offsets)
    if p.unit in ("Y", "M"):
        return stamps.to_period(p.unit).to_timestamp()
    return stamps.floor(_FLOOR[p.unit])


class UuidParams(StrictModel):
    """A random UUID4 string, optionally prefixed, shortened or upper-cased."""

    prefix: str = ""
    short_form: bool = False
    uppercase: bool = False


def _draw_uuid(p: UuidParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
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


def _text_only(params: Any) -> frozenset[str]:
    """Dates and ids convert to text, not to numbers."""
    return frozenset({"str"})


register_sampler(
    Sampler(
        "datetime",
        DatetimeParams,
        _draw_datetime,
        example={"start": "2021-01-01", "end": "2025-12-31"},
        converts=_text_only,
    )
)
register_sampler(Sampler("uuid", UuidParams, _draw_uuid, example={}, converts=_text_only))
