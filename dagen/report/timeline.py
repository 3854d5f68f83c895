"""The run over time, for the report: charts from ``metadata.json``'s ``"timeline"``.

The timeline holds one sample about every 2 s (its shape is in ``docs/architecture.md``,
``metadata.json`` "timeline"); counters in it are cumulative from the run's start, so a
rate is the difference of neighbouring samples over their distance in time (the first
sample's is taken from t = 0, where every counter was 0). A dataset written before dagen
recorded timelines, or a run stopped before its first sample, has none: the report then
says so instead of drawing.

Example:
    >>> timeline_charts(None)["missing"]
    True
    >>> tl = {"samples": [{"t": 2.0, "rows_written": 10, "rows_dropped": 0, "cells": {},
    ...        "models": {"m": {"in_flight": 3, "limit": 4, "requests": 8,
    ...                         "latency_p50": 0.2, "latency_p95": 0.3}}}],
    ...       "models": {"m": {"cap": 4}}, "columns": {}}
    >>> charts = timeline_charts(tl)
    >>> charts["models"]["m"]["peak_in_flight"], charts["models"]["m"]["requests_per_s"]
    (3, 4.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from dagen.report.svg import Series, lines

__all__ = ["timeline_charts"]

_ORIGIN: tuple[tuple[float, float | None], ...] = ((0.0, 0.0),)  # counters start at 0


def timeline_charts(timeline: Mapping[str, Any] | None) -> dict[str, Any]:
    """Charts and figures of a run over time (``missing`` when there is no timeline)."""
    samples = list((timeline or {}).get("samples") or [])
    if timeline is None or not samples:
        return {"missing": True}
    times = [float(s["t"]) for s in samples]
    planned = dict(timeline.get("columns", {}))
    cells = [
        Series(
            column,
            _ORIGIN
            + tuple(
                (t, 100.0 * s.get("cells", {}).get(column, 0) / total)
                for t, s in zip(times, samples, strict=True)
            ),
        )
        for column, total in planned.items()
        if total
    ]
    rows = [
        Series(
            name,
            _ORIGIN + tuple((t, float(s.get(key, 0))) for t, s in zip(times, samples, strict=True)),
        )
        for name, key in (("rows written", "rows_written"), ("rows dropped", "rows_dropped"))
    ]
    caps = {alias: m.get("cap") for alias, m in timeline.get("models", {}).items()}
    aliases = list(dict.fromkeys([*caps, *(a for s in samples for a in s.get("models", {}))]))
    return {
        "missing": False,
        "samples": len(samples),
        "interval": timeline.get("interval_seconds"),
        "started": timeline.get("started"),
        "seconds": times[-1],
        "rows": Markup(lines(rows)),
        "cells": Markup(lines(cells, unit=" %")),
        "models": {alias: _model(alias, caps.get(alias), times, samples) for alias in aliases},
    }


def _model(
    alias: str, cap: int | None, times: list[float], samples: list[dict[str, Any]]
) -> dict[str, Any]:
    """One model's charts: calls in flight against its limit and cap, latency, requests/s."""
    seen = [
        (t, s["models"][alias])
        for t, s in zip(times, samples, strict=True)
        if alias in s.get("models", {})
    ]
    if not seen:
        return {"seen": False, "cap": cap}
    in_flight = [(t, float(m.get("in_flight", 0))) for t, m in seen]
    flight = [
        Series("calls in flight", _ORIGIN + tuple(in_flight)),
        Series("adaptive limit", tuple((t, _num(m.get("limit"))) for t, m in seen)),
    ]
    if cap is not None:
        flight.append(
            Series(f"cap {cap}", ((0.0, float(cap)), (times[-1], float(cap))), dashed=True)
        )
    latency = [
        Series("p50 latency", tuple((t, _num(m.get("latency_p50"))) for t, m in seen)),
        Series("p95 latency", tuple((t, _num(m.get("latency_p95"))) for t, m in seen)),
    ]
    rates = [
        Series("requests/s", _rates(seen, "requests")),
        Series("429s/s", _rates(seen, "rate_limited")),
        Series("5xx/s", _rates(seen, "server_errors")),
    ]
    values = [v for _, v in in_flight]
    return {
        "seen": True,
        "cap": cap,
        "peak_in_flight": int(max(values)),
        "mean_in_flight": sum(values) / len(values),
        "requests_per_s": _overall_rate(seen, "requests"),
        "in_flight": Markup(lines(flight)),
        "latency": Markup(lines(latency, unit=" s")),
        "rates": Markup(lines(rates, unit="/s")),
    }


def _rates(
    seen: list[tuple[float, dict[str, Any]]], key: str
) -> tuple[tuple[float, float | None], ...]:
    """Per-second differences of a cumulative counter between neighbouring samples."""
    out: list[tuple[float, float | None]] = []
    before_t, before = 0.0, 0.0
    for t, m in seen:
        value = float(m.get(key, 0) or 0)
        span = t - before_t
        out.append((t, (value - before) / span if span > 0 else None))
        before_t, before = t, value
    return tuple(out)


def _overall_rate(seen: list[tuple[float, dict[str, Any]]], key: str) -> float | None:
    t, last = seen[-1]
    return float(last.get(key, 0) or 0) / t if t > 0 else None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
