"""CPU and memory of every process a run involves, sampled by a background thread.

Policy: the processes measured are this one and all its descendants (a LocalCluster's
workers, or the ``dask scheduler`` / ``dask worker`` processes the bench started), minus the
excluded trees (the mock LLM server). Every ``interval`` seconds the thread reads each known
process's CPU time (user + system, not its children's: those are known processes too) and
RSS; every ``rescan`` seconds it looks for new descendants.

State: ``_base`` (pid -> CPU seconds when first seen; 0 for processes born while
watching), ``_last`` (pid -> latest CPU seconds; a process that exits keeps its last
reading, so up to ``interval`` of its shutdown is missed), and the series of
(time, cumulative CPU, sampler thread CPU) from which ``cpu_between`` interpolates. The
sampler's own CPU is measured with ``time.thread_time`` and subtracted.

Example:
    >>> with ProcessMonitor(exclude=[server_pid]) as mon:  # doctest: +SKIP
    ...     work()
    >>> mon.cpu_seconds, mon.peak_rss  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Iterable
from typing import Self

import psutil

__all__ = ["ProcessMonitor"]


class ProcessMonitor:
    """Samples CPU seconds and summed RSS of this process tree (see the module docstring).

    Args:
        exclude: pids whose whole subtree is not measured.
        interval: seconds between samples.
        rescan: seconds between searches for new descendant processes.
    """

    def __init__(
        self, exclude: Iterable[int] = (), *, interval: float = 0.05, rescan: float = 0.5
    ) -> None:
        self.exclude = frozenset(exclude)
        self.interval = interval
        self.rescan = rescan
        self.peak_rss = 0
        self._procs: dict[int, psutil.Process] = {}
        self._roles: dict[int, str] = {}  # pid -> client | scheduler | workers | other
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._times: list[float] = []  # wall clock (time.time) of each sample
        self._cpu: list[float] = []  # cumulative CPU seconds at each sample
        self._own: list[float] = []  # sampler thread CPU seconds at each sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)

    def __enter__(self) -> Self:
        self._scan(initial=True)
        self._sample(own=0.0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds used by the measured processes while watching (sampler excluded)."""
        return self._cpu[-1] - self._own[-1]

    def by_role(self) -> dict[str, float]:
        """CPU seconds while watching, per role: ``client`` (this process, sampler
        excluded; with dagen's LocalCluster it also hosts the scheduler and the nannies),
        ``scheduler``, ``workers`` (and their nannies), ``other``."""
        roles = {"client": -self._own[-1]}
        for pid, last in self._last.items():
            role = self._roles.get(pid, "other")
            roles[role] = roles.get(role, 0.0) + last - self._base[pid]
        return roles

    def cpu_between(self, t0: float, t1: float) -> float:
        """CPU seconds used between two ``time.time()`` instants (interpolated)."""
        return (self._at(self._cpu, t1) - self._at(self._own, t1)) - (
            self._at(self._cpu, t0) - self._at(self._own, t0)
        )

    def _at(self, series: list[float], t: float) -> float:
        i = bisect.bisect_left(self._times, t)
        if i <= 0:
            return series[0]
        if i >= len(self._times):
            return series[-1]
        t_a, t_b = self._times[i - 1], self._times[i]
        share = (t - t_a) / (t_b - t_a) if t_b > t_a else 1.0
        return series[i - 1] + share * (series[i] - series[i - 1])

    def _run(self) -> None:
        own0 = time.thread_time()
        next_scan = time.monotonic() + self.rescan
        while not self._stop.wait(self.interval):
            if time.monotonic() >= next_scan:
                self._scan()
                next_scan = time.monotonic() + self.rescan
            self._sample(own=time.thread_time() - own0)
        self._scan()
        self._sample(own=time.thread_time() - own0)

    def _scan(self, initial: bool = False) -> None:
        """Add descendants not seen yet (their CPU counts from 0 unless already running)."""
        me = psutil.Process(os.getpid())
        found = [me]
        skip: set[int] = set()
        for child in me.children(recursive=True):
            try:
                if child.pid in self.exclude or child.ppid() in skip:
                    skip.add(child.pid)
                    continue
            except psutil.Error:
                continue
            found.append(child)
        for proc in found:
            if proc.pid in self._procs:
                continue
            self._procs[proc.pid] = proc
            self._roles[proc.pid] = _role(proc)
            self._base[proc.pid] = _cpu(proc) if initial else 0.0
            self._last[proc.pid] = self._base[proc.pid]

    def _sample(self, own: float) -> None:
        rss = 0
        for pid, proc in list(self._procs.items()):
            try:
                with proc.oneshot():
                    self._last[pid] = _cpu(proc)
                    rss += proc.memory_info().rss
            except psutil.Error:  # gone: keep its last reading, stop asking
                del self._procs[pid]
        self.peak_rss = max(self.peak_rss, rss)
        self._times.append(time.time())
        self._cpu.append(sum(self._last[p] - self._base[p] for p in self._last))
        self._own.append(own)


def _role(proc: psutil.Process) -> str:
    if proc.pid == os.getpid():
        return "client"
    try:
        argv = " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if "resource_tracker" in argv:
        return "other"
    if "scheduler" in argv:
        return "scheduler"
    return "workers" if "spawn_main" in argv or " worker " in argv else "other"


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)
