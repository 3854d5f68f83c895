"""The figures of a run as its watchers see them: models per worker, summed, with rates.

Pure bookkeeping, no I/O: fed with the messages workers publish about once per second
(``dagen.cluster.signals``), it answers what a model is doing now. Counters in the
messages are cumulative; rates and latency percentiles are differences over the last
``window`` seconds, so a lost or late message only blurs a rate, never a count.

State:

    latest[worker]   -> (time heard, {alias: figures})   the worker's last message
    history          -> deque of (time, {alias: totals}) the sums seen, about ``window`` s

Topics: workers and the client publish on ``FIGURES_TOPIC`` (internal); each row group
written is an event on ``EVENTS_TOPIC`` for anyone to subscribe to.

Example:
    >>> w = WorkerFigures()
    >>> w.update({"worker": "tcp://a", "models": {"writer": {"in_flight": 3, "limit": 8,
    ...     "ceiling": 8, "requests": 10, "latency": {"24": 10}}}}, now=1.0)
    >>> m = w.models(now=1.0, caps={"writer": 16})["writer"]
    >>> m.in_flight, m.cap, m.requests, m.workers
    (3, 16, 10, {'tcp://a': (3, 8, 8)})
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagen.inference.usage import ModelUsage, merge_counts, percentile, subtract_counts

__all__ = ["EVENTS_TOPIC", "FIGURES_TOPIC", "ModelFigures", "WorkerFigures"]

FIGURES_TOPIC = "dagen-figures"  # internal: workers' and clients' figures, ~1 message/s each
EVENTS_TOPIC = "dagen"  # public: one event per row group written
COUNTERS = tuple(ModelUsage().to_dict())  # requests, successes, ... completion_tokens
STALE_AFTER = 10.0  # seconds: a worker silent this long has no calls in flight


@dataclass(frozen=True)
class ModelFigures:
    """One model's figures in one run, summed over the workers.

    Attributes:
        alias: the model alias.
        cap: its ``max_parallel_requests`` over the cluster (0 when unknown).
        in_flight: calls in flight now.
        limit: the adaptive limiters' limits now (at most the sum of the ceilings).
        ceiling: the workers' shares of the cap.
        counters: cumulative ``ModelUsage`` counters (requests, rate_limited, ...).
        requests_per_s: HTTP attempts per second over the last window.
        latency_p50: median seconds of the attempts that ended in the window (None: none).
        latency_p95: 95th percentile, likewise.
        workers: worker -> (in flight, limit, ceiling).
    """

    alias: str
    cap: int = 0
    in_flight: int = 0
    limit: int = 0
    ceiling: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    requests_per_s: float = 0.0
    latency_p50: float | None = None
    latency_p95: float | None = None
    workers: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.counters.get("requests", 0)

    @property
    def rate_limited(self) -> int:
        return self.counters.get("rate_limited", 0)

    @property
    def server_errors(self) -> int:
        return self.counters.get("server_errors", 0)

    @property
    def retries(self) -> int:
        return self.counters.get("retries", 0)

    @property
    def tokens(self) -> int:
        return self.counters.get("prompt_tokens", 0) + self.counters.get("completion_tokens", 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for messages and ``metadata.json``)."""
        return {
            "alias": self.alias,
            "cap": self.cap,
            "in_flight": self.in_flight,
            "limit": self.limit,
            "ceiling": self.ceiling,
            **self.counters,
            "requests_per_s": round(self.requests_per_s, 3),
            "latency_p50": _round(self.latency_p50),
            "latency_p95": _round(self.latency_p95),
            "workers": {w: list(v) for w, v in self.workers.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelFigures:
        """The inverse of ``to_dict``."""
        return cls(
            alias=str(data["alias"]),
            cap=int(data.get("cap", 0)),
            in_flight=int(data.get("in_flight", 0)),
            limit=int(data.get("limit", 0)),
            ceiling=int(data.get("ceiling", 0)),
            counters={name: int(data.get(name, 0)) for name in COUNTERS},
            requests_per_s=float(data.get("requests_per_s", 0.0)),
            latency_p50=data.get("latency_p50"),
            latency_p95=data.get("latency_p95"),
            workers={w: (int(v[0]), int(v[1]), int(v[2])) for w, v in data["workers"].items()},
        )


class WorkerFigures:
    """The latest figures each worker published for one run, and rates over a window.

    Args:
        window: seconds over which rates and latency percentiles are taken.
    """

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.latest: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}
        self.history: deque[tuple[float, dict[str, dict[str, Any]]]] = deque()

    def update(self, message: Mapping[str, Any], now: float) -> None:
        """A worker's message: ``{"worker": address, "models": {alias: figures}}``."""
        self.latest[str(message["worker"])] = (now, dict(message.get("models") or {}))

    def totals(self) -> dict[str, dict[str, Any]]:
        """Cumulative counters and latency counts per alias, summed over the workers."""
        totals: dict[str, dict[str, Any]] = {}
        for _, models in self.latest.values():
            for alias, figures in models.items():
                into = totals.setdefault(alias, {n: 0 for n in COUNTERS} | {"latency": {}})
                for name in COUNTERS:
                    into[name] += int(figures.get(name, 0))
                into["latency"] = merge_counts([into["latency"], figures.get("latency") or {}])
        return totals

    def models(self, now: float, caps: Mapping[str, int]) -> dict[str, ModelFigures]:
        """Each model's figures now (every model of ``caps``, heard of or not)."""
        totals = self.totals()
        if not self.history or now - self.history[-1][0] >= 0.2:
            self.history.append((now, totals))
        while len(self.history) > 1 and now - self.history[1][0] >= self.window:
            self.history.popleft()
        then, before = self.history[0]
        found = {}
        for alias in sorted(set(caps) | set(totals)):
            total = totals.get(alias, {})
            old = before.get(alias, {})
            recent = subtract_counts(total.get("latency", {}), old.get("latency", {}))
            span = now - then
            found[alias] = ModelFigures(
                alias=alias,
                cap=int(caps.get(alias, 0)),
                counters={n: total.get(n, 0) for n in COUNTERS},
                requests_per_s=(total.get("requests", 0) - old.get("requests", 0)) / span
                if span > 0
                else 0.0,
                latency_p50=percentile(recent, 0.5),
                latency_p95=percentile(recent, 0.95),
                **self._live(alias, now),
            )
        return found

    def _live(self, alias: str, now: float) -> dict[str, Any]:
        workers = {
            worker: (
                int(models[alias].get("in_flight", 0)) if now - heard < STALE_AFTER else 0,
                int(models[alias].get("limit", 0)),
                int(models[alias].get("ceiling", 0)),
            )
            for worker, (heard, models) in sorted(self.latest.items())
            if alias in models
        }
        return {
            "workers": workers,
            "in_flight": sum(v[0] for v in workers.values()),
            "limit": sum(v[1] for v in workers.values()),
            "ceiling": sum(v[2] for v in workers.values()),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
