"""``dagen_*`` Prometheus metrics on the scheduler's ``/metrics``: the figures of the page.

One collector per process, registered with ``prometheus_client``'s default registry (the
one Dask's ``/metrics`` handler renders), reads every live ``FiguresBoard`` of the process
when scraped: nothing is computed between scrapes.

Metrics (labels ``run``, plus ``column`` / ``model`` / ``worker``): ``dagen_cells_done``,
``dagen_cells_planned``, ``dagen_rows_written``, ``dagen_rows_dropped``, ``dagen_rows_planned``,
``dagen_row_groups_in_flight``, ``dagen_rows_per_second``, ``dagen_eta_seconds``,
``dagen_run_running``, ``dagen_spent_usd`` (when the run's models have prices),
``dagen_model_calls_in_flight``, ``dagen_model_worker_calls_in_flight``,
``dagen_model_cap``, ``dagen_model_limit``, ``dagen_model_requests_per_second``,
``dagen_model_latency_seconds{quantile}``, and the counters ``dagen_model_requests_total``,
``dagen_model_rate_limited_total``, ``dagen_model_server_errors_total``,
``dagen_model_retries_total``, ``dagen_model_tokens_total{kind}``,
``dagen_dropped_rows_total{column,error_type}`` (the top reasons).

Example:
    >>> register(board)  # doctest: +SKIP
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dagen.dashboard.board import FiguresBoard, RunBoard

__all__ = ["DagenCollector", "register"]

_BOARDS: weakref.WeakSet[FiguresBoard] = weakref.WeakSet()
_COLLECTOR: DagenCollector | None = None


def register(board: FiguresBoard) -> None:
    """Serve ``board``'s figures on ``/metrics`` (the collector is registered once)."""
    global _COLLECTOR
    _BOARDS.add(board)
    if _COLLECTOR is None:
        _COLLECTOR = DagenCollector()
        REGISTRY.register(_COLLECTOR)


class DagenCollector:
    """A ``prometheus_client`` collector over the process's boards."""

    def describe(self) -> list[Metric]:
        return []  # collected on each scrape only

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        runs = [b for board in list(_BOARDS) for b in board.runs.values()]
        gauges = {
            name: GaugeMetricFamily(f"dagen_{name}", text, labels=labels)
            for name, text, labels in _GAUGES
        }
        counters = {
            name: CounterMetricFamily(f"dagen_{name}", text, labels=labels)
            for name, text, labels in _COUNTERS
        }
        for board in runs:
            _run_metrics(board, now, gauges, counters)
        yield from gauges.values()
        yield from counters.values()


_GAUGES = [
    ("cells_done", "Cells finished, per column", ["run", "column"]),
    ("cells_planned", "Cells planned over the whole run, per column", ["run", "column"]),
    ("rows_written", "Rows written to the sink", ["run"]),
    ("rows_dropped", "Rows dropped", ["run"]),
    ("rows_planned", "Rows the run generates", ["run"]),
    ("row_groups_in_flight", "Row groups handed to Dask, not yet written", ["run"]),
    ("rows_per_second", "Cells finished per second, in rows", ["run"]),
    ("eta_seconds", "Seconds left at the current rate (-1: unknown)", ["run"]),
    ("run_running", "1 while the run is running", ["run"]),
    ("spent_usd", "USD paid for the run's output so far (models with pricing)", ["run"]),
    ("model_calls_in_flight", "Model calls in flight", ["run", "model"]),
    (
        "model_worker_calls_in_flight",
        "Model calls in flight per worker",
        ["run", "model", "worker"],
    ),
    ("model_cap", "The model's max_parallel_requests", ["run", "model"]),
    ("model_limit", "The adaptive limits, summed over workers", ["run", "model"]),
    ("model_requests_per_second", "HTTP attempts per second", ["run", "model"]),
    ("model_latency_seconds", "Latency of recent attempts", ["run", "model", "quantile"]),
]
_COUNTERS = [
    ("model_requests", "HTTP attempts", ["run", "model"]),
    ("model_rate_limited", "429 answers", ["run", "model"]),
    ("model_server_errors", "5xx answers", ["run", "model"]),
    ("model_retries", "Attempts after a call's first", ["run", "model"]),
    ("model_tokens", "Tokens", ["run", "model", "kind"]),
    ("dropped_rows", "Rows dropped, by the most frequent reasons", ["run", "column", "error_type"]),
]


def _run_metrics(
    board: RunBoard,
    now: float,
    gauges: dict[str, GaugeMetricFamily],
    counters: dict[str, CounterMetricFamily],
) -> None:
    p, run = board.progress, board.run
    for column, (done, planned) in p.columns.items():
        gauges["cells_done"].add_metric([run, column], done)
        gauges["cells_planned"].add_metric([run, column], planned)
    gauges["rows_written"].add_metric([run], p.rows_written)
    gauges["rows_dropped"].add_metric([run], p.rows_dropped)
    gauges["rows_planned"].add_metric([run], p.rows_planned)
    gauges["row_groups_in_flight"].add_metric([run], p.row_groups_in_flight)
    gauges["rows_per_second"].add_metric([run], p.rows_per_s)
    gauges["eta_seconds"].add_metric([run], -1 if p.eta is None else p.eta)
    gauges["run_running"].add_metric([run], 1 if p.status == "running" else 0)
    if p.cost is not None:
        gauges["spent_usd"].add_metric([run], p.cost)
    for column, error_type, rows in p.drops:
        counters["dropped_rows"].add_metric([run, column, error_type], rows)
    for alias, m in board.models(now).items():
        labels = [run, alias]
        gauges["model_calls_in_flight"].add_metric(labels, m.in_flight)
        for worker, (in_flight, _, _) in m.workers.items():
            gauges["model_worker_calls_in_flight"].add_metric([*labels, worker], in_flight)
        gauges["model_cap"].add_metric(labels, m.cap)
        gauges["model_limit"].add_metric(labels, m.limit)
        gauges["model_requests_per_second"].add_metric(labels, m.requests_per_s)
        for q, value in (("0.5", m.latency_p50), ("0.95", m.latency_p95)):
            if value is not None:
                gauges["model_latency_seconds"].add_metric([*labels, q], value)
        counters["model_requests"].add_metric(labels, m.requests)
        counters["model_rate_limited"].add_metric(labels, m.rate_limited)
        counters["model_server_errors"].add_metric(labels, m.server_errors)
        counters["model_retries"].add_metric(labels, m.retries)
        for kind in ("prompt", "completion"):
            counters["model_tokens"].add_metric([*labels, kind], m.counters[f"{kind}_tokens"])
