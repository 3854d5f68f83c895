"""Samplers of instants, spans and identifiers: ``datetime``, ``timedelta`` and ``uuid``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> _draw_uuid(UuidParams(prefix="cus_", short_form=True), rng, 1, pd.DataFrame())
    ['cus_5f82c2d9cfeb']
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dagen.config.base import StrictModel
from dagen.config.samplers.registry import Sampler, register_sampler

__all__ = ["DatetimeParams", "TimedeltaParams", "UuidParams"]

_FLOOR = {"D": "D", "h": "h", "m": "min", "s": "s"}  # unit -> pandas frequency


class DatetimeParams(StrictModel):
    """A timestamp drawn uniformly between ``start`` and ``end``, truncated to ``unit``;
    with ``iso_text``, as ISO text (``2024-07-19T00:00:00``), as Data Designer gives it (set
    for DD files)."""

    start: dt.datetime
    end: dt.datetime
    unit: Literal["Y", "M", "D", "h", "m", "s"] = "D"
    iso_text: bool = False

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
    by_period = p.unit in ("Y", "M")
    stamps = stamps.to_period(p.unit).to_timestamp() if by_period else stamps.floor(_FLOOR[p.unit])
    return _iso_text(stamps) if p.iso_text else stamps


def _iso_text(stamps: Any) -> list[str | None]:
    """Timestamps as Data Designer's text (seconds, no zone); None for a missing one."""
    values = pd.DatetimeIndex(stamps)
    text = np.datetime_as_string(values.values.astype("datetime64[s]"), unit="s")
    return [None if missing else t for t, missing in zip(text.tolist(), values.isna(), strict=True)]


class TimedeltaParams(StrictModel):
    """The ``reference_column_name`` column's datetime plus a whole number of ``unit`` in
    [dt_min, dt_max)."""

    dt_min: int = Field(ge=0)
    dt_max: int = Field(gt=0)
    reference_column_name: str = Field(min_length=1)
    unit: Literal["D", "h", "m", "s"] = "D"
    iso_text: bool = False  # as DD gives it: ISO text (set for DD files)

    @model_validator(mode="after")
    def _ordered(self) -> TimedeltaParams:
        if self.dt_max <= self.dt_min:
            raise ValueError(f"dt_max ({self.dt_max}) must be greater than dt_min ({self.dt_min})")
        return self


def _draw_timedelta(
    p: TimedeltaParams, rng: np.random.Generator, n: int, frame: pd.DataFrame
) -> Any:
    offsets = rng.integers(p.dt_min, p.dt_max, size=n)
    reference = pd.to_datetime(frame[p.reference_column_name].reindex(range(n)))
    stamps = reference + pd.to_timedelta(offsets, unit=_FLOOR[p.unit])
    return _iso_text(stamps) if p.iso_text else stamps


def _reads_reference(p: TimedeltaParams) -> frozenset[str]:
    return frozenset({p.reference_column_name})


class UuidParams(StrictModel):
    """A random UUID4 string, optionally prefixed, shortened or upper-cased.

    Dashed (36 characters, 12 hex digits with ``short_form``) unless ``hex``: 32 hex digits
    without dashes (8 with ``short_form``), as Data Designer writes them (set for DD files).
    """

    prefix: str = ""
    short_form: bool = False
    uppercase: bool = False
    hex: bool = False


_DASHES = (8, 13, 18, 23)  # where a dashed UUID's dashes go
_HEX_AT = np.array([i for i in range(36) if i not in _DASHES])  # and its 32 hex digits


def _draw_uuid(p: UuidParams, rng: np.random.Generator, n: int, frame: pd.DataFrame) -> Any:
    """UUID4s from ``rng``'s bytes, as ``uuid.UUID(bytes=..., version=4)`` makes them,
    formatted for the whole batch at once (a ``UUID`` per row was a fifth of a sampler
    batch's time)."""
    made = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    made[:, 6] = (made[:, 6] & 0x0F) | 0x40  # version 4
    made[:, 8] = (made[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.frombuffer(made.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    if p.short_form:
        text = digits[:, : 8 if p.hex else 12]
    elif p.hex:
        text = digits
    else:
        text = np.full((n, 36), ord("-"), dtype=np.uint8)
        text[:, _HEX_AT] = digits
    width = text.shape[1]
    values = np.ascontiguousarray(text).view(f"S{width}").ravel().astype(f"U{width}")
    if p.uppercase:
        values = np.char.upper(values)
    if p.prefix:
        values = np.char.add(p.prefix, values)
    return values.tolist()


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
register_sampler(
    Sampler(
        "timedelta",
        TimedeltaParams,
        _draw_timedelta,
        reads=_reads_reference,
        example={"dt_min": 1, "dt_max": 30, "reference_column_name": "signup"},
        converts=_text_only,
    )
)
register_sampler(Sampler("uuid", UuidParams, _draw_uuid, example={}, converts=_text_only))
