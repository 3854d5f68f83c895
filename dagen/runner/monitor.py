"""The run's watcher on the client: progress, published figures, the timeline.

The run loop calls ``tick`` once per turn and ``row_group_written`` once per row group;
``tick`` does its work at most once per ``FIGURES_INTERVAL`` (never per cell): it reads
the workers' figures the session received, builds a ``RunProgress`` from the tracker,
publishes it to the scheduler (the dagen page, the metrics), hands it to the ``progress``
callback (the CLI's bar), offers it to the ``Timeline`` of ``metadata.json``, and logs a
progress line every ``progress_interval``.

State: the workers' figures (``WorkerFigures``), the cells rate (``RateMeter``), the
timeline, and the last time each job ran.

Example:
    >>> monitor = RunMonitor(spec, tracker, session, progress=print)  # doctest: +SKIP
    >>> monitor.tick(in_flight=4)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from dagen.cluster.session import RunSession
from dagen.runner.spec import RunSpec
from dagen.tracking.figures import WorkerFigures
from dagen.tracking.progress import RateMeter, RunProgress
from dagen.tracking.timeline import Timeline
from dagen.tracking.tracker import CompletionTracker

__all__ = ["FIGURES_INTERVAL", "ProgressCallback", "RunMonitor"]

log = logging.getLogger("dagen")

FIGURES_INTERVAL = 1.0  # seconds between two progress snapshots (published, called back)
TOP_DROPS = 5  # drop reasons shown

ProgressCallback = Callable[[RunProgress], Any]


class RunMonitor:
    """Watches one run for its loop (see the module docstring).

    Args:
        spec: the run.
        tracker: the loop's completion tracker (read only).
        session: publishes figures and receives the workers'.
        progress: called with each snapshot, about once per second, and with the last.
        name: a label for the run on the dashboard (the output folder).
    """

    def __init__(
        self,
        spec: RunSpec,
        tracker: CompletionTracker,
        session: RunSession,
        progress: ProgressCallback | None = None,
        name: str = "",
    ) -> None:
        self.spec = spec
        self.tracker = tracker
        self.session = session
        self.progress = progress
        self.name = name
        rows = spec.row_groups.rows  # computed: any -n, even 10**12 rows, at once
        if spec.exact:  # rows to write, not to generate (which the keep rate decides)
            rows = spec.num_records - (spec.previous.rows_recorded if spec.previous else 0)
        self.rows_planned = rows
        # column -> cells planned
        self.planned = (
            dict.fromkeys(spec.graph.columns, rows) if spec.exact else spec.cells_planned()
        )
        self.caps = dict(spec.context.caps)
        # the live spend: earlier runs' (the dataset kept and what they discarded), then
        # this run's tokens at the prices of the models it calls that have one
        self.prices = {m.alias: m.pricing for m in spec.config.models if m.alias in self.caps}
        self.spent_before = float(spec.previous.cost.get("spent", 0.0) if spec.previous else 0.0)
        self.workers = WorkerFigures(window=2.0)
        self.meter = RateMeter()
        self.rows_meter = RateMeter()  # rows written: an exact run's progress
        self.meters = {c: RateMeter() for c in self.planned}  # column -> its cells' rate
        self.started = time.perf_counter()
        started = dt.datetime.now(dt.UTC).isoformat()
        self.timeline = Timeline(self.planned, self.caps, started=started)
        self.last: RunProgress | None = None
        self.last_figures = self.last_log = self.started
        self.meter.add(self.started, 0)
        self.rows_meter.add(self.started, 0)
        for meter in self.meters.values():
            meter.add(self.started, 0)

    def tick(self, in_flight: int, now: float | None = None) -> None:
        """Once per turn of the loop; works once per ``FIGURES_INTERVAL``."""
        now = time.perf_counter() if now is None else now
        if now - self.last_figures < FIGURES_INTERVAL:
            return
        self.last_figures = now
        self._report(self.snapshot(in_flight, now=now))
        interval = self.spec.settings.progress_interval
        if interval is not None and now - self.last_log >= interval:
            self.last_log = now
            self.log_line()

    def log_line(self, progress: RunProgress | None = None) -> None:
        """The progress line (INFO), and each model's figures (DEBUG: ``dagen -v``)."""
        progress = progress or self.last
        if progress is None:
            return
        log.info("%s", progress.line())
        for m in progress.models.values():
            log.debug(
                "  %s: %d/%d calls in flight (limit %d), %.1f requests/s, p50 %s, p95 %s, "
                "%d requests, %d x 429, %d x 5xx, %d retries, %d tokens",
                m.alias, m.in_flight, m.cap, m.limit, m.requests_per_s, _ms(m.latency_p50),
                _ms(m.latency_p95), m.requests, m.rate_limited, m.server_errors, m.retries,
                m.tokens,
            )  # fmt: skip

    def snapshot(
        self, in_flight: int, status: str = "running", now: float | None = None
    ) -> RunProgress:
        """The run's progress now."""
        now = time.perf_counter() if now is None else now
        for message in self.session.worker_figures():
            self.workers.update(message, now)
        t = self.tracker
        if self.spec.exact:  # the cells of the row groups admitted so far
            columns = {c: (t.done[c], max(t.done[c], t.total[c])) for c in self.planned}
        else:
            columns = {c: (min(t.done[c], n), n) for c, n in self.planned.items()}
        self.rows_meter.add(now, t.rows_written)
        self.meter.add(now, sum(done for done, _ in columns.values()))
        for column, (done, _) in columns.items():
            self.meters[column].add(now, done)
        self.last = RunProgress(
            run=self.spec.run_id,
            name=self.name,
            status=status,
            elapsed=now - self.started,
            columns=columns,
            rows_planned=self.rows_planned,
            rows_written=t.rows_written,
            rows_dropped=t.rows_dropped,
            row_groups_written=len(t.written),
            row_groups_total=len(self.spec.row_groups),
            row_groups_in_flight=in_flight,
            cells_per_s=self.meter.rate(now),
            rates={c: meter.rate(now) for c, meter in self.meters.items()},
            drops=tuple((c, e, n) for (c, e), n in t.drop_reasons().most_common(TOP_DROPS)),
            models=self.workers.models(now, self.caps),
            exact=self.spec.exact,
            rows_rate=self.rows_meter.rate(now),
        )
        self.last = replace(self.last, cost=self._spent(self.last))
        return self.last

    def _spent(self, progress: RunProgress) -> float | None:
        """USD spent so far (see ``RunProgress.cost``)."""
        if not any(self.prices.values()):
            return None
        spent = self.spent_before
        for alias, figures in progress.models.items():
            pricing = self.prices.get(alias)
            if pricing is not None:
                counters = figures.counters
                spent += pricing.cost(
                    counters.get("prompt_tokens", 0), counters.get("completion_tokens", 0)
                )
        return spent

    def row_group_written(self, row_group: int, rows: int, dropped: int, file: str | None) -> None:
        """A row group reached the sink: the public event."""
        self.session.publish_row_group(
            {
                "run": self.spec.run_id,
                "row_group": row_group,
                "rows": rows,
                "dropped": dropped,
                "file": file,
                "rows_written": self.tracker.rows_written,
                "num_records": self.spec.num_records,
            }
        )

    def finish(
        self, status: str, usage: Mapping[str, Mapping[str, int]] | None = None
    ) -> RunProgress:
        """The run ended: the last snapshot, reported everywhere and kept in the timeline.

        Args:
            status: how the run ended.
            usage: the run's exact usage per model, collected from the workers as it ended:
                its counters replace the last ones published (up to a second old).
        """
        final = self.snapshot(0, status=status)
        models = {  # the run has ended: nothing is in flight, whatever was last published
            alias: replace(
                figures,
                counters={**figures.counters, **(usage or {}).get(alias, {})},
                in_flight=0,
                workers={
                    w: (0, limit, ceiling) for w, (_, limit, ceiling) in figures.workers.items()
                },
            )
            for alias, figures in final.models.items()
        }
        final = replace(final, models=models)
        final = self.last = replace(final, cost=self._spent(final))
        self._report(final, final=True)
        return final

    def timeline_dict(self) -> dict[str, Any]:
        return self.timeline.to_dict()

    def _report(self, progress: RunProgress, final: bool = False) -> None:
        self.timeline.offer(progress, final=final)
        try:
            self.session.publish(progress.to_message())
        except Exception:  # a scheduler going away must not stop the run
            log.debug("cannot publish the run's figures", exc_info=True)
        if self.progress is not None:
            self.progress(progress)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
