"""Counters of a model client's calls (``ModelUsage``) and their latencies (``LatencyHistogram``).

Both are cumulative, cheap to update once per HTTP attempt (a few integer additions, no
allocation) and mergeable across the clients of one worker and across workers, which is
how they are published: a worker sends its cumulative figures about once per second
(``dagen.cluster.signals``), and whoever reads them takes differences of neighbouring
samples for rates and for the latency percentiles of an interval.

Latency buckets are geometric, ``BUCKET_RATIO`` apart from ``FIRST_BUCKET`` seconds on
(about 1 ms to 10 min in 60 buckets): a percentile is known to within ~12 %.

Example:
    >>> h = LatencyHistogram()
    >>> for seconds in (0.1, 0.2, 0.2, 0.3):
    ...     h.add(seconds)
    >>> round(percentile(h.counts, 0.5), 2), h.total
    (0.19, 4)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields

__all__ = [
    "BUCKETS",
    "BUCKET_RATIO",
    "FIRST_BUCKET",
    "LatencyHistogram",
    "ModelUsage",
    "merge_counts",
    "percentile",
    "subtract_counts",
]

FIRST_BUCKET = 0.001  # seconds: the upper bound of bucket 0
BUCKET_RATIO = 1.25  # each bucket's upper bound is this times the previous one's
BUCKETS = 60  # the last bucket takes everything above ~0.001 * 1.25**59 (~520 s)
_LOG_RATIO = math.log(BUCKET_RATIO)


@dataclass
class ModelUsage:
    """Counters of a client's calls; picklable, mergeable across workers.

    Attributes:
        requests: HTTP attempts sent.
        successes: calls that returned a ``ChatResult``.
        failures: calls that raised.
        retries: attempts after the first of a call.
        rate_limited: 429 answers received.
        server_errors: 5xx answers received.
        prompt_tokens: prompt tokens of successful calls.
        completion_tokens: completion tokens of successful calls.
    """

    requests: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def merge(self, other: ModelUsage) -> ModelUsage:
        """Add ``other``'s counters to this one in place; return self."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def to_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> ModelUsage:
        """Rebuild usage from ``to_dict()`` output (unknown keys are ignored)."""
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


class LatencyHistogram:
    """Cumulative counts of call latencies in geometric buckets (see the module docstring).

    Attributes:
        counts: calls per bucket (index -> count), only the buckets used.
        total: calls counted.
    """

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}  # bucket index -> calls
        self.total = 0

    def add(self, seconds: float) -> None:
        """Count one call that took ``seconds``."""
        index = bucket(seconds)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.total += 1


def bucket(seconds: float) -> int:
    """The bucket a latency falls in."""
    if not seconds > FIRST_BUCKET:  # also NaN
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(seconds / FIRST_BUCKET) / _LOG_RATIO - 1e-9))


def merge_counts(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Bucket counts summed over histograms."""
    total: dict[int, int] = {}
    for counts in histograms:
        for index, n in counts.items():
            total[int(index)] = total.get(int(index), 0) + n
    return total


def subtract_counts(now: Mapping[int, int], before: Mapping[int, int]) -> dict[int, int]:
    """The calls counted between two cumulative samples, per bucket."""
    return {index: n - before.get(index, 0) for index, n in now.items() if n > before.get(index, 0)}


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) of bucket counts, as the geometric middle of its
    bucket (seconds); None when there are no calls."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            upper = FIRST_BUCKET * BUCKET_RATIO**index
            return upper / math.sqrt(BUCKET_RATIO) if index else FIRST_BUCKET
    return FIRST_BUCKET * BUCKET_RATIO ** max(counts)  # pragma: no cover (rounding)
