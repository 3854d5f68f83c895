"""Charts of the run report as inline SVG text: horizontal bars, histograms, lines over time.

Policy: every chart is a small self-contained ``<svg>`` element with a ``viewBox`` (it
scales with the page), labels escaped, no script, no external reference, so the report
opens offline and prints. Each bar and point carries a ``<title>`` (the exact figure, shown
on hover). Charts draw what they are given; choosing what to draw is ``dagen.report.page``'s.

Example:
    >>> svg = bars([("kettle", 8), ("backpack", 16)])
    >>> svg.startswith("<svg") and "backpack" in svg and "<title>kettle: 8" in svg
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Series", "bars", "histogram", "lines"]

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac")
_LEGEND_PER_ROW = 3
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _fmt(value: float) -> str:
    """A number as a short label: whole numbers with separators, others to 3 significant digits."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.3g}"


def bars(items: Sequence[tuple[str, int]], *, width: int = 360) -> str:
    """Horizontal bars, one per ``(label, count)``, in the order given."""
    if not items:
        return ""
    row, label_w, count_w = 18, 120, 60
    top = max(n for _, n in items) or 1
    span = width - label_w - count_w
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {row * len(items) + 4}" '
        f'width="{width}" {_FONT} role="img">'
    ]
    for i, (label, n) in enumerate(items):
        y, w = i * row + 2, max(1.0, span * n / top) if n else 0.0
        text = escape(label if len(label) <= 18 else label[:17] + "…")
        parts.append(
            f"<g><title>{escape(label)}: {n:,}</title>"
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{text}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{n:,}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(edges: Sequence[float], counts: Sequence[int], *, width: int = 360) -> str:
    """Vertical bars over ``len(counts)`` bins with the given edges; the range labelled below."""
    if not counts:
        return ""
    height, base = 90, 72
    top = max(counts) or 1
    bar_w = (width - 2) / len(counts)
    parts = [
        f'<svg class="chart histogram" viewBox="0 0 {width} {height}" width="{width}" '
        f'{_FONT} role="img">'
    ]
    for i, n in enumerate(counts):
        h = (base - 4) * n / top
        lo, hi = _fmt(edges[i]), _fmt(edges[i + 1])
        parts.append(
            f"<g><title>[{lo}, {hi}): {n:,}</title>"
            f'<rect x="{1 + i * bar_w:.1f}" y="{base - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"/></g>'
        )
    parts.append(f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>')
    parts.append(f'<text x="1" y="{base + 14}">{_fmt(edges[0])}</text>')
    parts.append(
        f'<text x="{width - 1}" y="{base + 14}" text-anchor="end">{_fmt(edges[-1])}</text>'
    )
    parts.append(f'<text x="{width / 2}" y="{base + 14}" text-anchor="middle">max {top:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    """A line of a chart over time: ``points`` are ``(t, value)``; None leaves a gap."""

    name: str
    points: tuple[tuple[float, float | None], ...]
    dashed: bool = False


def lines(series: Sequence[Series], *, unit: str = "", width: int = 400) -> str:
    """Lines over time (seconds on x), y from 0 to the largest value, a legend on top."""
    values = [v for s in series for _, v in s.points if v is not None and math.isfinite(v)]
    times = [t for s in series for t, _ in s.points]
    if not values or not times:
        return ""
    legend_rows = math.ceil(len(series) / _LEGEND_PER_ROW)
    left, top = 48, 10 + 14 * legend_rows
    bottom = top + 138
    height = bottom + 30
    t_max = max(times) or 1.0
    y_max = max(values) or 1.0
    plot_w = width - left - 10

    def x(t: float) -> float:
        return left + plot_w * t / t_max

    def y(v: float) -> float:
        return bottom - (bottom - top) * v / y_max

    parts = [
        f'<svg class="chart lines" viewBox="0 0 {width} {height}" width="{width}" {_FONT} role="img">',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_fmt(y_max)}{escape(unit)}</text>',
        f'<text x="{left - 4}" y="{bottom + 4}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{bottom + 16}">0 s</text>',
        f'<text x="{width - 10}" y="{bottom + 16}" text-anchor="end">{_fmt(round(t_max, 1))} s</text>',
    ]
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        for run in _runs(s.points):
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"{dash}>'
                f"<title>{escape(s.name)}</title></polyline>"
            )
            if len(run) == 1:
                ((t, v),) = run
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
        lx, ly = left + (i % _LEGEND_PER_ROW) * 116, 2 + 14 * (i // _LEGEND_PER_ROW)
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{ly + 9}">{escape(s.name[:16])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The stretches of consecutive known values (a None or a non-finite value breaks a line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None or not math.isfinite(v):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((t, v))
    return [r for r in runs if r]
