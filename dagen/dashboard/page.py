"""The dagen page of the Dask dashboard (``/dagen``), built with Bokeh like Dask's own.

It shows the current run (the one running that reported last, else the latest) and the
recent ones, refreshed every ``REFRESH_MS``: per column, cells done vs planned over the
whole run (a bar chart and a table); rows written, dropped and planned, rows/s, ETA and
row groups in flight; per model, calls in flight against the cap (and per worker against
its share), the adaptive limit, requests/s, latency p50/p95, 429s, 5xx, retries and
tokens, with calls in flight over time; the most frequent reasons rows were dropped.

Numbers are in plain HTML tables whose cells carry ids and ``data-`` attributes
(``#dagen-rows-written``, ``tr[data-column=…] .done``, ``tr[data-model=…] .in-flight``), so
that a browser test, or a person, reads exactly what the run reported.

Example:
    >>> add_page(scheduler, board)  # doctest: +SKIP
"""

from __future__ import annotations

import html
import time
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, FactorRange, Range1d
from bokeh.models.widgets import Div
from bokeh.plotting import figure
from distributed.dashboard.components.scheduler import BOKEH_THEME, env

from dagen.dashboard.board import FiguresBoard, RunBoard
from dagen.tracking.figures import ModelFigures

__all__ = ["REFRESH_MS", "DagenPage", "add_page"]

REFRESH_MS = 1000
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def add_page(scheduler: Any, board: FiguresBoard) -> bool:
    """Serve the page at ``/dagen`` on the scheduler's running dashboard and list it in the
    dashboard's menu; False when the scheduler has no Bokeh dashboard."""
    from bokeh.server.server import BokehTornado
    from distributed.dashboard import scheduler as dashboard
    from distributed.dashboard.core import BokehApplication
    from tornado.ioloop import IOLoop

    http = getattr(scheduler, "http_application", None)
    if http is None or not any(isinstance(a, BokehTornado) for a in http.applications):
        return False
    variables = dashboard.template_variables(scheduler)  # memoized: the menu of every page
    if "dagen" not in variables["pages"]:
        variables["pages"].append("dagen")
    prefix = next(a.prefix for a in http.applications if isinstance(a, BokehTornado))

    def make(scheduler: Any, extra: dict[str, Any], doc: Any) -> None:
        DagenPage(board).attach(doc, extra)

    app = BokehApplication({"/dagen": make}, scheduler, prefix=prefix, template_variables=variables)
    http.add_application(app)
    app.initialize(IOLoop.current())
    app.start()
    return True


class DagenPage:
    """One browser tab's view of the board."""

    def __init__(self, board: FiguresBoard) -> None:
        self.board = board
        self.summary = Div(
            text="<p>No dagen run has reported yet.</p>", sizing_mode="stretch_width"
        )
        self.columns = Div(sizing_mode="stretch_width")
        self.models = Div(sizing_mode="stretch_width")
        self.drops = Div(sizing_mode="stretch_width")
        self.runs = Div(sizing_mode="stretch_width")
        self.bars = ColumnDataSource({"column": [], "fraction": [], "label": []})
        self.progress_plot = figure(
            title="Cells done / planned, whole run", y_range=FactorRange(), x_range=Range1d(start=0, end=1),
            height=220, sizing_mode="stretch_width", tools="", toolbar_location=None,
        )  # fmt: skip
        self.progress_plot.hbar(y="column", right="fraction", height=0.7, source=self.bars)
        self.in_flight = ColumnDataSource({"t": []})
        self.in_flight_plot = figure(
            title="Model calls in flight", height=220, sizing_mode="stretch_width",
            tools="", toolbar_location=None, x_axis_label="seconds",
        )  # fmt: skip
        self.lines: set[str] = set()
        self.shown_run: str | None = None

    def attach(self, doc: Any, extra: dict[str, Any]) -> None:
        doc.title = "Dask: dagen"
        doc.add_root(
            column(
                self.summary,
                row(self.progress_plot, self.in_flight_plot, sizing_mode="stretch_width"),
                self.columns,
                self.models,
                self.drops,
                self.runs,
                sizing_mode="stretch_width",
            )
        )
        doc.template = env.get_template("simple.html")
        doc.template_variables.update(extra)
        doc.theme = BOKEH_THEME
        self.update()
        doc.add_periodic_callback(self.update, REFRESH_MS)

    def update(self) -> None:
        board = self.board.current()
        self.runs.text = _runs_table(self.board)
        if board is None:
            return
        now = time.monotonic()
        models = board.models(now)
        self.summary.text = _summary(board)
        self.columns.text = _columns_table(board)
        self.models.text = _models_table(models)
        self.drops.text = _drops_table(board)
        self._update_plots(board, models)

    def _update_plots(self, board: RunBoard, models: dict[str, ModelFigures]) -> None:
        p = board.progress
        names = list(p.columns)
        y_range = self.progress_plot.y_range
        if isinstance(y_range, FactorRange) and list(y_range.factors) != names[::-1]:
            y_range.factors = names[::-1]
        self.bars.data = {
            "column": names,
            "fraction": [d / n if n else 0 for d, n in p.columns.values()],
            "label": [f"{d}/{n}" for d, n in p.columns.values()],
        }
        if board.run != self.shown_run:  # a new run: a new series
            self.shown_run = board.run
            self.in_flight.data = {"t": [], **{a: [] for a in self.lines}}
        for index, alias in enumerate(sorted(models)):
            if alias not in self.lines:
                self.lines.add(alias)
                self.in_flight.data = {
                    **self.in_flight.data,
                    alias: [0] * len(self.in_flight.data["t"]),
                }
                color = PALETTE[index % len(PALETTE)]
                self.in_flight_plot.line(
                    "t", alias, source=self.in_flight, color=color, legend_label=alias
                )
        point = {
            "t": [p.elapsed],
            **{a: [models[a].in_flight if a in models else 0] for a in self.lines},
        }
        self.in_flight.stream(point, rollover=600)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(name: str, value: Any) -> str:
    return f'<td class="{name}">{_e(value)}</td>'


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _summary(board: RunBoard) -> str:
    p = board.progress
    eta = p.status if p.status == "stopped" else "estimating" if p.eta is None else f"{p.eta:.0f} s"
    items = [
        ("run", p.run), ("status", p.status), ("percent", f"{p.fraction:.1%}"),
        ("rows-written", p.rows_written), ("rows-planned", p.rows_planned),
        ("rows-dropped", p.rows_dropped), ("rows-per-s", f"{p.rows_per_s:.1f}"),
        ("cells-per-s", f"{p.cells_per_s:.1f}"), ("eta", eta),
        ("row-groups-written", f"{p.row_groups_written}/{p.row_groups_total}"),
        ("row-groups-in-flight", p.row_groups_in_flight), ("elapsed", f"{p.elapsed:.0f} s"),
    ]  # fmt: skip
    if p.cost is not None:  # the models it calls have prices
        items.append(("spent", f"${p.cost:.4f}"))
    cells = "".join(
        f'<td><div style="color:#777">{_e(k.replace("-", " "))}</div>'
        f'<b id="dagen-{k}">{_e(v)}</b></td>'
        for k, v in items
    )
    title = f"dagen run {_e(p.name or p.run)}"
    return f'<h3>{title}</h3><table id="dagen-summary" style="width:100%"><tr>{cells}</tr></table>'


def _columns_table(board: RunBoard) -> str:
    rows = "".join(
        f'<tr data-column="{_e(c)}">{_cell("name", c)}{_cell("done", d)}{_cell("planned", n)}'
        f"{_cell('percent', f'{d / n:.1%}' if n else '-')}</tr>"
        for c, (d, n) in board.progress.columns.items()
    )
    head = "<tr><th>column</th><th>cells done</th><th>planned</th><th></th></tr>"
    return f'<h4>Columns</h4><table id="dagen-columns">{head}{rows}</table>'


def _models_table(models: dict[str, ModelFigures]) -> str:
    head = (
        "<tr><th>model</th><th>in flight</th><th>cap</th><th>limit</th><th>requests/s</th>"
        "<th>p50</th><th>p95</th><th>requests</th><th>429s</th><th>5xx</th><th>retries</th>"
        "<th>tokens</th></tr>"
    )
    rows = []
    for a, m in models.items():
        rows.append(
            f'<tr data-model="{_e(a)}">{_cell("name", a)}{_cell("in-flight", m.in_flight)}'
            f"{_cell('cap', m.cap)}{_cell('limit', m.limit)}"
            f"{_cell('requests-per-s', f'{m.requests_per_s:.1f}')}"
            f"{_cell('p50', _seconds(m.latency_p50))}{_cell('p95', _seconds(m.latency_p95))}"
            f"{_cell('requests', m.requests)}{_cell('rate-limited', m.rate_limited)}"
            f"{_cell('server-errors', m.server_errors)}{_cell('retries', m.retries)}"
            f"{_cell('tokens', m.tokens)}</tr>"
        )
        for w, (in_flight, limit, share) in m.workers.items():
            rows.append(
                f'<tr data-model="{_e(a)}" data-worker="{_e(w)}" style="color:#555">'
                f"{_cell('name', '  ' + w)}{_cell('in-flight', in_flight)}"
                f"{_cell('cap', share)}{_cell('limit', limit)}</tr>"
            )
    if not rows:
        return "<h4>Models</h4><p>No model calls yet.</p>"
    return f'<h4>Models</h4><table id="dagen-models">{head}{"".join(rows)}</table>'


def _drops_table(board: RunBoard) -> str:
    drops = board.progress.drops
    if not drops:
        return '<h4>Dropped rows</h4><p id="dagen-drops">none</p>'
    rows = "".join(
        f"<tr>{_cell('column', c)}{_cell('error', e)}{_cell('rows', n)}</tr>" for c, e, n in drops
    )
    head = "<tr><th>column</th><th>reason</th><th>rows</th></tr>"
    return f'<h4>Dropped rows</h4><table id="dagen-drops">{head}{rows}</table>'


def _runs_table(board: FiguresBoard) -> str:
    rows = "".join(
        f'<tr data-run="{_e(b.run)}">{_cell("run", b.progress.name or b.run)}'
        f"{_cell('status', b.progress.status)}"
        f"{_cell('rows', f'{b.progress.rows_written}/{b.progress.rows_planned}')}"
        f"{_cell('elapsed', f'{b.progress.elapsed:.0f} s')}</tr>"
        for b in reversed(board.runs.values())
        if b.heard
    )
    head = "<tr><th>run</th><th>status</th><th>rows written</th><th>elapsed</th></tr>"
    return f'<h4>Recent runs</h4><table id="dagen-runs">{head}{rows}</table>'
