"""One measured benchmark run: a dagen run or a floor run, and the figures it yields.

A dagen run, in order:

    1. build the config (``bench.shapes``) and ``dagen.describe`` it: planned tasks,
       LLM critical path, tasks of one full row group;
    2. open the cluster (``bench.clusters``): dagen's own LocalCluster, or separately
       started processes (opened before measuring, so their start-up is not in the run);
    3. reset the mock server's counters, start a ``ProcessMonitor`` (this process and its
       descendants, not the mock server), time ``dagen.generate`` into a temporary folder;
    4. read the scheduler's task counter and the server's stats.

Figures (``RunRecord.figures``): ``wall`` around ``generate``; ``gen`` the engine's
``generation_seconds``; ``bound``; CPU over the whole call and over the run window (first
task transition to last task finished, from the scheduler's counter): only the window is
per-cell engine cost, the rest is cluster start and stop; peak summed RSS; tasks planned
(``describe``) and counted (scheduler); ``max_live_tasks`` (metadata) and the scheduler's
peak of live keys against the window's implied bound (``max_concurrent_row_groups`` x the
tasks of one row group, as described or, when the engine made more, as counted).

Example:
    >>> spec = RunSpec("capacity", "narrow", 200, 16, 1, "1")
    >>> record = run_dagen(spec, server, processes=False)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagen
from bench.clusters import LocalDefault, SchedulerProcesses, Target
from bench.floor import run_floor
from bench.probe import ProcessMonitor
from bench.shapes import SHAPES, people_config

__all__ = ["LATENCY", "RunRecord", "RunSpec", "run_dagen", "run_floor_for"]

LATENCY = 0.2  # seconds per call of the mock server


@dataclass(frozen=True)
class RunSpec:
    """What to run: the target it serves, a shape (or ``people``), rows, cap, cells per task.

    ``cap`` is every model's ``max_parallel_requests``; ``cells_per_task`` None leaves the
    engine's default; ``note`` says why a run is smaller than its target asks for.
    """

    target: str
    shape: str
    num_records: int
    cap: int
    cells_per_task: int | None
    label: str
    note: str = ""

    @property
    def is_llm(self) -> bool:
        return self.shape in SHAPES

    def caps(self) -> dict[str, int]:
        return {m: self.cap for m in SHAPES[self.shape].models} if self.is_llm else {}

    def config(self, endpoint: str) -> dagen.DatasetConfig:
        if self.is_llm:
            return SHAPES[self.shape].config(endpoint, self.caps())
        return people_config()

    def settings(self) -> dagen.RunSettings:
        settings = dagen.RunSettings(
            progress_interval=None, cluster=dagen.ClusterSettings(dashboard_address=None)
        )
        if self.cells_per_task is None:  # the engine's default, whatever it is
            return settings
        return dataclasses.replace(settings, cells_per_task=self.cells_per_task)


@dataclass
class RunRecord:
    """A finished run: its spec, what ran it, and its figures (see the module docstring)."""

    spec: RunSpec
    cluster: str
    figures: dict[str, Any] = field(default_factory=dict)


def run_floor_for(spec: RunSpec, server: Any) -> dict[str, Any]:
    """The floor of an LLM run's workload, measured now against the same server."""
    shape = SHAPES[spec.shape]
    server.reset()
    floor = run_floor(server.url, shape, spec.num_records, spec.caps())
    calls = sum(floor.calls.values())
    return {
        "seconds": floor.seconds,
        "calls": calls,
        "failures": floor.failures,
        "cpu_ms_per_call": 1000 * floor.cpu_seconds / max(calls, 1),
        "peak_concurrency": server.stats()["peak_concurrency"],
    }


def run_dagen(spec: RunSpec, server: Any, *, processes: bool) -> RunRecord:
    """Run ``spec`` with dagen and measure it (see the module docstring)."""
    config = spec.config(server.url)
    settings = spec.settings()
    planned = dagen.describe(config, spec.num_records, settings)
    per_group = dagen.describe(config, settings.row_group_size, settings)["tasks_total"]
    with _cluster(spec, processes) as target, tempfile.TemporaryDirectory() as tmp:
        server.reset()
        with ProcessMonitor(exclude=[server.process.pid]) as monitor:
            started = time.perf_counter()
            result = dagen.generate(
                config,
                spec.num_records,
                f"{tmp}/out",
                settings=settings,
                **target.generate_kwargs,
            )
            wall = time.perf_counter() - started
        counts = target.counts()
    record = RunRecord(spec, target.kind)
    timings = result.metadata["timings"]
    cells = _llm_cells(spec)
    window = _window_cpu(monitor, counts)
    record.figures = {
        "wall": wall,
        "gen": timings["generation_seconds"],
        "rows": result.num_records,
        "dropped": len(result.dropped),
        "rows_per_s": spec.num_records / wall,
        "cpu_total_s": monitor.cpu_seconds,
        "cpu_window_s": window,
        "cpu_by_role": monitor.by_role(),
        "window_s": _window_seconds(counts),
        "llm_cells": cells,
        "peak_rss": monitor.peak_rss,
        "tasks_planned": planned["tasks_total"],
        "tasks_counted": counts.get("tasks"),
        "tasks_erred": counts.get("erred"),
        "max_live_meta": timings["max_live_tasks"],
        "max_live_sched": counts.get("peak_live"),
        "peak_live_row_groups": counts.get("peak_live_row_groups"),
        "window_row_groups": settings.max_concurrent_row_groups,
        "live_bound": settings.max_concurrent_row_groups * _per_group(per_group, counts, planned),
        "row_groups": planned["row_groups"],
    }
    if spec.is_llm:
        record.figures.update(_llm_figures(spec, planned, result, server.stats()))
    return record


@contextlib.contextmanager
def _cluster(spec: RunSpec, processes: bool) -> Iterator[Target]:
    if not processes:
        with LocalDefault() as target:
            yield target
        return
    caps = sum(spec.caps().values())
    nthreads = math.ceil(caps / 2) + 4 if caps else 2
    with SchedulerProcesses(nthreads=nthreads) as target:
        yield target


def _llm_cells(spec: RunSpec) -> int:
    return sum(SHAPES[spec.shape].calls(spec.num_records).values()) if spec.is_llm else 0


def _window_cpu(monitor: ProcessMonitor, counts: dict[str, Any]) -> float | None:
    first, last = counts.get("first"), counts.get("last_final")
    if first is None or last is None:
        return None
    return monitor.cpu_between(first, last)


def _per_group(described: int, counts: dict[str, Any], planned: dict[str, Any]) -> int:
    """Tasks of one row group: as described, or as counted when the engine made more
    (``describe`` and the engine can disagree on chunking: the tables show both counts)."""
    counted = counts.get("tasks") or 0
    return max(described, -(-counted // max(planned["row_groups"], 1)))


def _window_seconds(counts: dict[str, Any]) -> float | None:
    first, last = counts.get("first"), counts.get("last_final")
    return None if first is None or last is None else last - first


def _llm_figures(
    spec: RunSpec, planned: dict[str, Any], result: Any, stats: dict[str, Any]
) -> dict[str, Any]:
    shape = SHAPES[spec.shape]
    bound = shape.bound(spec.num_records, latency=LATENCY, caps=spec.caps())
    if len(planned["llm_critical_path"]) != shape.depth():  # dagen and the bench disagree
        raise AssertionError(f"{spec.shape}: dagen's LLM path {planned['llm_critical_path']}")
    return {
        "bound": bound.seconds,
        "bound_terms": {"depth": bound.depth_seconds, **bound.model_seconds},
        "requests": {alias: u.get("requests", 0) for alias, u in result.usage.items()},
        "server_requests": stats["requests"],
        "server_peak": {m: s["peak_concurrency"] for m, s in stats["by_model"].items()},
        "rate_limited": stats["rate_limited"],
    }
