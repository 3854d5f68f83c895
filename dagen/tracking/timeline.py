"""The run's timeline: a compact sample of its progress and models every ~2 s.

Written into ``metadata.json`` under ``"timeline"`` (the exact shape is in
``docs/architecture.md``, "Watching a run"), for the offline run report. Bounded: when
it reaches ``max_samples`` samples, every other sample is dropped and the interval
doubles, so a ten-hour run keeps as many samples as a one-hour run.

Example:
    >>> tl = Timeline({"a": 10}, {"m": 4}, started="2026-01-01T00:00:00+00:00")
    >>> tl.offer(RunProgress(run="r", elapsed=2.0, columns={"a": (5, 10)}))
    True
    >>> tl.offer(RunProgress(run="r", elapsed=3.0, columns={"a": (6, 10)}))  # too soon
    False
    >>> tl.to_dict()["samples"][0]["cells"]
    {'a': 5}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagen.tracking.progress import RunProgress

__all__ = ["Timeline"]

MODEL_FIELDS = (
    "requests",
    "rate_limited",
    "server_errors",
    "retries",
    "prompt_tokens",
    "completion_tokens",
)


class Timeline:
    """Samples of a run's progress (see the module docstring).

    Args:
        planned: column -> cells planned over the run.
        caps: model alias -> ``max_parallel_requests``.
        started: the run's start, ISO 8601.
        interval: seconds between samples, at first.
        max_samples: when reached, every other sample goes and the interval doubles.
    """

    def __init__(
        self,
        planned: Mapping[str, int],
        caps: Mapping[str, int],
        *,
        started: str,
        interval: float = 2.0,
        max_samples: int = 1800,
    ) -> None:
        self.planned = dict(planned)
        self.caps = dict(caps)
        self.started = started
        self.interval = interval
        self.max_samples = max_samples
        self.samples: list[dict[str, Any]] = []

    def offer(self, progress: RunProgress, *, final: bool = False) -> bool:
        """Record ``progress`` when an interval passed since the last sample (or ``final``).

        Returns:
            whether it was recorded.
        """
        last = self.samples[-1]["t"] if self.samples else 0.0
        if not final and progress.elapsed - last < self.interval - 1e-6:
            return False
        if final and self.samples and progress.elapsed - last < 1e-3:
            self.samples.pop()
        self.samples.append(_sample(progress))
        if len(self.samples) >= self.max_samples:
            self.samples = self.samples[1::2]
            self.interval *= 2
        return True

    def to_dict(self) -> dict[str, Any]:
        """The ``"timeline"`` entry of ``metadata.json``."""
        return {
            "interval_seconds": self.interval,
            "started": self.started,
            "columns": dict(self.planned),
            "models": {alias: {"cap": cap} for alias, cap in self.caps.items()},
            "samples": list(self.samples),
        }


def _sample(p: RunProgress) -> dict[str, Any]:
    return {
        "t": round(p.elapsed, 3),
        "rows_written": p.rows_written,
        "rows_dropped": p.rows_dropped,
        "row_groups_in_flight": p.row_groups_in_flight,
        "cells": {c: done for c, (done, _) in p.columns.items()},
        "models": {
            alias: {
                "in_flight": m.in_flight,
                "limit": m.limit,
                **{name: m.counters.get(name, 0) for name in MODEL_FIELDS},
                "latency_p50": None if m.latency_p50 is None else round(m.latency_p50, 4),
                "latency_p95": None if m.latency_p95 is None else round(m.latency_p95, 4),
            }
            for alias, m in p.models.items()
        },
    }
