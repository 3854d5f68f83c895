"""The cap-share rule: each model's cap split over the workers present, changed safely.

A model's ``max_parallel_requests`` is a cap on the whole cluster; each worker enforces its
share of it (its limiter's ceiling and a Dask resource, ``dagen.cluster.tasks``). When
workers come or go, the split changes, and for the sum over workers never to exceed the
cap while it does, it changes in two steps:

    1. shrink   the shares that get smaller are installed at once (a worker that joins
                has 0 until step 2)
    2. grow     the shares that get larger are installed once every shrunk worker still
                present has no more calls in flight than its new share (calls already
                sent are never cut off: they finish first)

Pure arithmetic and bookkeeping: the run state feeds it the workers present and the calls
in flight the cluster reports, and it answers with the installs to carry out (one
``Install`` per worker whose share changes). Nothing here talks to the cluster.

State:

    target[alias][worker]     the split wanted over the workers present
    installed[alias][worker]  the split installed now (below the target while growing)
    shrunk                    workers whose calls must fit before shares grow

Example: cap 4 on one worker, then a second joins:

    >>> split = ShareSplit({"m": 4})
    >>> split.workers_changed(("w1",))
    [Install(worker='w1', shares={'m': 4})]
    >>> split.workers_changed(("w1", "w2"))  # w1 shrinks now; w2 waits for its calls
    [Install(worker='w1', shares={'m': 2})]
    >>> split.growing, split.asks
    (True, ('w1',))
    >>> split.calls_reported({"w1": {"m": 3}})  # 3 calls in flight > 2: not yet
    []
    >>> split.calls_reported({"w1": {"m": 2}})
    [Install(worker='w2', shares={'m': 2})]
    >>> split.installed
    {'m': {'w1': 2, 'w2': 2}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Install", "ShareSplit", "shares"]


def shares(cap: int, workers: int) -> list[int]:
    """``cap`` split over ``workers`` as evenly as possible (some may get 0).

    >>> shares(10, 4)
    [3, 3, 2, 2]
    """
    base, extra = divmod(cap, workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]


@dataclass(frozen=True)
class Install:
    """Give ``worker`` these shares (model alias -> its share of the model's cap)."""

    worker: str
    shares: dict[str, int]


class ShareSplit:
    """The two-step split of the models' caps over the workers (module docstring).

    Args:
        caps: model alias -> its cap (calls in flight on the whole cluster).
    """

    def __init__(self, caps: Mapping[str, int]) -> None:
        self.caps = dict(caps)
        self.workers: tuple[str, ...] = ()  # the workers the split is over, sorted
        self.target: dict[str, dict[str, int]] = {}  # alias -> worker -> share wanted
        self.installed: dict[str, dict[str, int]] = {}  # alias -> worker -> share now
        self.shrunk: set[str] = set()  # workers whose calls must fit before shares grow

    @property
    def growing(self) -> bool:
        """Whether some shares wait to grow until shrunk workers' calls fit (step 2)."""
        return self.installed != self.target

    @property
    def asks(self) -> tuple[str, ...]:
        """The shrunk workers whose calls in flight step 2 waits to hear about."""
        return tuple(sorted(w for w in self.shrunk if w in self.workers)) if self.growing else ()

    def min_share(self, alias: str) -> int:
        """The smallest positive per-worker share of a model's cap (1 before any split)."""
        return min((s for s in self.target.get(alias, {}).values() if s > 0), default=1)

    def workers_changed(self, workers: Sequence[str]) -> list[Install]:
        """The workers present now: the installs of step 1 (and of step 2 when nothing
        shrank). No worker at all changes nothing: the old split waits for them."""
        present = tuple(sorted(workers))
        if not self.caps or not present or present == self.workers:
            return []
        self.workers = present
        self.target = {
            alias: dict(zip(present, shares(cap, len(present)), strict=True))
            for alias, cap in self.caps.items()
        }
        lower = {
            alias: {w: min(n, self._share(alias, w)) for w, n in per_worker.items()}
            for alias, per_worker in self.target.items()
        }
        installs, shrunk = self._install(lower)
        self.shrunk = {w for w in self.shrunk | shrunk if w in present}
        return installs + self.calls_reported({})

    def calls_reported(self, found: Mapping[str, Mapping[str, int] | None]) -> list[Install]:
        """Calls in flight on shrunk workers (worker -> alias -> calls; None for a worker
        that left meanwhile): the installs of step 2 once every one fits its share."""
        if not self.growing:
            return []
        for worker in self.asks:
            if worker not in found:
                return []  # not heard of yet
            calls = found[worker]
            if calls is not None and any(n > self._share(a, worker) for a, n in calls.items()):
                return []
        self.shrunk = set()
        installs, _ = self._install(self.target)
        return installs

    def _share(self, alias: str, worker: str) -> int:
        return self.installed.get(alias, {}).get(worker, 0)

    def _install(self, split: dict[str, dict[str, int]]) -> tuple[list[Install], set[str]]:
        """Install ``split`` where it differs from what is installed: the installs, and the
        workers whose share of some model got smaller."""
        installs, shrunk = [], set()
        for worker in sorted({w for per_worker in split.values() for w in per_worker}):
            share = {alias: per_worker[worker] for alias, per_worker in split.items()}
            before = {alias: self._share(alias, worker) for alias in split}
            if share == before:  # a worker joining gets nothing until its share grows
                continue
            installs.append(Install(worker, share))
            if any(n < before[alias] for alias, n in share.items()):
                shrunk.add(worker)
        self.installed = {alias: dict(per_worker) for alias, per_worker in split.items()}
        return installs, shrunk
