"""The run report: one self-contained HTML page built from an output folder alone.

Policy: everything on the page comes from ``metadata.json`` and the parts it lists (read
column by column, ``dagen.report.stats``); charts are inline SVG (``dagen.report.svg``),
the style is inline, and there is no script and no external reference, so the file opens
offline, anywhere. Sections: the run (status, rows asked, written, dropped, timings), the
columns (nulls, distinct values, text lengths, numeric histograms, category bars), judge
scores against their rubric, drop reasons, the models (usage from the metadata; calls in
flight, latency and requests over time from its ``"timeline"``), and progress over time.
A dataset without a timeline (written before dagen recorded one) gets every section but
the charts over time, and says so.

Example:
    >>> path = write_report("out/reviews")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dagen.report import svg
from dagen.report.folder import OutputFolder
from dagen.report.stats import DISTINCT_LIMIT, DatasetStats, FieldStats
from dagen.report.timeline import timeline_charts
from dagen.sinks.ledger import Cost
from dagen.sinks.parquet import REPORT, atomic_write

__all__ = ["REPORT", "render_report", "write_report"]

DROPS_LISTED = 50  # dropped rows shown one by one (all of them are counted)
USAGE_FIELDS = (
    ("requests", "requests"),
    ("successes", "successes"),
    ("failures", "failures"),
    ("retries", "retries"),
    ("rate_limited", "429s"),
    ("server_errors", "5xx"),
    ("prompt_tokens", "prompt tokens"),
    ("completion_tokens", "completion tokens"),
)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("dagen.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["num"] = lambda v: (
    "—" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"
)


def write_report(output_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write the run report of ``output_dir`` (``OUT/report.html`` unless ``path`` is given).

    Args:
        output_dir: the folder ``dagen run -o`` (or ``generate(output_dir=...)``) wrote.
        path: where to write the HTML file.

    Returns:
        the report's path.

    Raises:
        OutputDirError: the folder is not a dagen output, a part cannot be read, or the
            report cannot be written.
    """
    from dagen.errors import OutputDirError

    folder = OutputFolder(output_dir)
    target = Path(path) if path is not None else folder.path / REPORT
    html = render_report(folder)
    try:
        atomic_write(target, html.encode())
    except OSError as exc:
        raise OutputDirError(f"cannot write the report {target}: {exc.strerror}") from exc
    return target


def render_report(folder: OutputFolder) -> str:
    """The report of ``folder`` as HTML text."""
    meta = folder.metadata
    stats = DatasetStats.from_parts(folder.schema, lambda: folder.columns())
    context = {
        "title": f"dagen run report: {folder.path.name}",
        "folder": str(folder.path),
        "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "meta": meta,
        "summary": _summary(meta),
        "columns": [_column(stats, s) for s in stats.columns()],
        "judges": _judges(meta, stats),
        "drops": meta.get("drop_summary", []),
        "dropped_rows": meta.get("dropped_rows", [])[:DROPS_LISTED],
        "models": _models(meta),
        "usage_fields": USAGE_FIELDS,
        "timeline": timeline_charts(meta.get("timeline")),
        "versions": meta.get("versions", {}),
        "distinct_limit": DISTINCT_LIMIT,
    }
    return _ENV.get_template("report.html.j2").render(**context)


def _summary(meta: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(test id, label, value) of the run's headline figures."""
    timings = meta.get("timings", {})
    return [
        ("status", "status", meta.get("status", "unknown")),
        ("num-records", "rows asked", meta["num_records"]),
        ("rows-written", "rows written", meta["rows_written"]),
        ("rows-dropped", "rows dropped", meta["rows_dropped"]),
        ("row-groups", "row groups written", len(meta["row_groups"])),
        ("wall-seconds", "wall time (s)", timings.get("wall_seconds")),
        ("started", "started", timings.get("started")),
        ("finished", "finished", timings.get("finished")),
        ("seed", "seed", meta.get("seed")),
        ("fingerprint", "config fingerprint", meta.get("fingerprint")),
        *([("cost", "cost (USD)", Cost.from_metadata(meta).summary())] if "cost" in meta else []),
    ]


def _column(stats: DatasetStats, column: FieldStats) -> dict[str, Any]:
    return {**_field(column), "fields": [_field(s) for s in stats.under(column.path)]}


def _field(s: FieldStats) -> dict[str, Any]:
    return {
        "path": s.path,
        "name": s.path.rsplit(".", 1)[-1],
        "depth": s.depth,
        "kind": s.kind,
        "type": s.type,
        "rows": s.rows,
        "nulls": s.nulls,
        "null_share": s.nulls / s.rows if s.rows else 0.0,
        "distinct": s.distinct,
        "counted": s.counted,
        "described": _described(s),
        "chart": Markup(_chart(s)),
    }


def _described(s: FieldStats) -> str:
    """A line on the measured values: range and mean, in the unit of the kind."""
    if s.kind == "bool" and s.counts is not None:
        return f"true {s.counts.get(True, 0):,}, false {s.counts.get(False, 0):,}"
    if s.low is None or s.high is None or s.mean is None:
        return ""
    unit = {"text": " characters", "list": " items"}.get(s.kind, "")
    line = f"{_short(s.low)} to {_short(s.high)}{unit}, mean {_short(s.mean)}"
    if s.non_finite:
        line += f"; {s.non_finite:,} NaN or infinite"
    return line


def _chart(s: FieldStats) -> str:
    """Category bars while a field has few values, else a histogram of what is measured."""
    if s.counts and s.kind in ("text", "number", "bool", "other"):
        items = sorted(s.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return svg.bars([(_label(k), n) for k, n in items])
    if s.bins:
        return svg.histogram(s.edges, s.bins)
    return ""


def _judges(meta: dict[str, Any], stats: DatasetStats) -> list[dict[str, Any]]:
    """Each judge column's scores: rows per rubric option (every option listed)."""
    found = []
    for column in meta.get("config", {}).get("columns", []):
        if column.get("column_type") != "llm-judge":
            continue
        for score in column.get("scores", []):
            s = stats.fields.get(f"{column['name']}.{score['name']}.score")
            if s is None:
                continue
            counts = {str(k): n for k, n in (s.counts or {}).items()}
            options = [(str(k), str(v)) for k, v in score.get("options", {}).items()]
            items = [(f"{k}: {v}", counts.pop(k, 0)) for k, v in options]
            items += [(f"{k} (not an option)", n) for k, n in sorted(counts.items())]
            found.append(
                {
                    "column": column["name"],
                    "score": score["name"],
                    "description": score.get("description", ""),
                    "rows": s.rows,
                    "nulls": s.nulls,
                    "mean": s.mean,
                    "items": items,
                    "chart": Markup(svg.bars(items) if s.counts is not None else _chart(s)),
                }
            )
    return found


def _models(meta: dict[str, Any]) -> list[dict[str, Any]]:
    configured = {m.get("alias"): m for m in meta.get("config", {}).get("models", [])}
    aliases = list(dict.fromkeys([*configured, *meta.get("usage", {})]))
    return [
        {
            "alias": alias,
            "model": configured.get(alias, {}).get("model", ""),
            "cap": configured.get(alias, {}).get("max_parallel_requests"),
            "usage": meta.get("usage", {}).get(alias, {}),
            "cost": _model_cost(meta.get("cost") or {}, alias),
        }
        for alias in aliases
    ]


def _model_cost(cost: dict[str, Any], alias: str) -> str:
    """What the dataset's calls of ``alias`` cost, or why that is not known."""
    if alias in cost.get("unpriced", ()):
        return "no pricing"
    usd = cost.get("by_model", {}).get(alias)
    return "" if usd is None else f"${usd:,.4f}"


def _short(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.4g}"


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return '""'
    return str(value)
