"""Tables of a suite's runs, one per target, with pass/fail marks, and the RESULTS.md section.

    capacity     wall / bound            <= 1.08
    concurrency  wall / floor            <= 1.25
    cpu          CPU ms per LLM cell     <= 1.0   (run window: first task to last task)
    nomodel      peak RSS                <= 1.5 GiB, and big / small peak <= 1.3
    window       scheduler's peak live   <= max_concurrent_row_groups x tasks per row group

Example:
    >>> print(section(records, floors, machine, mode="quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import distributed
import psutil

from bench.runner import RunRecord

__all__ = ["LIMITS", "machine", "section", "tables"]

LIMITS = {"capacity": 1.08, "concurrency": 1.25, "cpu_ms": 1.0, "gib": 1.5, "growth": 1.3}
GIB = 1024**3
MIB = 1024**2
Floors = dict[tuple[str, int, int], dict[str, Any]]  # (shape, records, cap) -> floor figures


def machine(root: Path) -> dict[str, str]:
    """What the figures were measured on."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "dagen"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "ram": f"{psutil.virtual_memory().total / GIB:.1f} GiB",
        "python": platform.python_version(),
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "commit": commit + (" (dagen/ modified)" if dirty else ""),
        "load average": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_ms(r: RunRecord, key: str = "cpu_window_s") -> float | None:
    cells = r.figures.get("llm_cells") or 0
    value = r.figures.get(key)
    return None if not cells or value is None else 1000 * value / cells


def _floor_ratio(r: RunRecord, floors: Floors) -> float | None:
    floor = floors.get((r.spec.shape, r.spec.num_records, r.spec.cap))
    return None if floor is None else r.figures["wall"] / floor["seconds"]


def _llm_row(r: RunRecord, floors: Floors, verdict: str) -> list[str]:
    fig = r.figures
    floor = floors.get((r.spec.shape, r.spec.num_records, r.spec.cap))
    return [
        r.spec.shape,
        f"{r.spec.num_records:,}",
        r.spec.label,
        _f(fig["wall"], 1),
        _f(fig["gen"], 1),
        _f(fig["bound"], 1),
        _f(fig["wall"] / fig["bound"]),
        _f(fig["gen"] / fig["bound"]),
        _f(floor["seconds"], 1) if floor else "-",
        _f(_floor_ratio(r, floors)),
        _f(_cpu_ms(r)),
        _f(_cpu_ms(r, "cpu_total_s")),
        f"{fig['peak_rss'] / MIB:.0f}",
        f"{fig['tasks_planned']:,} / {fig['tasks_counted'] or 0:,}",
        f"{fig['max_live_meta']:,} / {fig['max_live_sched'] or 0:,}",
        verdict,
    ]


_LLM_HEADER = [
    "shape", "records", "cells/task", "wall s", "gen s", "bound s", "wall/bound", "gen/bound",
    "floor s", "dagen/floor", "CPU ms/cell (run)", "CPU ms/cell (call)", "peak RSS MiB",
    "tasks planned / counted", "max live (meta / sched)",
]  # fmt: skip


def capacity_table(records: list[RunRecord], floors: Floors) -> str:
    rows = []
    for r in records:
        ok = r.figures["wall"] / r.figures["bound"] <= LIMITS["capacity"]
        rows.append(_llm_row(r, floors, _mark(ok)))
    return _table([*_LLM_HEADER, "wall <= 1.08 x bound"], rows)


def concurrency_table(records: list[RunRecord], floors: Floors) -> str:
    rows = []
    for r in records:
        ratio = _floor_ratio(r, floors)
        rows.append(_llm_row(r, floors, _mark(None if ratio is None else ratio <= 1.25)))
    return _table([*_LLM_HEADER, "wall <= 1.25 x floor"], rows)


def _above_idle(r: RunRecord, idle: float | None) -> float | None:
    fig = r.figures
    if idle is None or fig.get("cpu_window_s") is None or not fig.get("llm_cells"):
        return None
    return 1000 * (fig["cpu_window_s"] - idle * fig["window_s"]) / fig["llm_cells"]


def _roles(r: RunRecord) -> str:
    cells = r.figures.get("llm_cells") or 1
    roles = r.figures.get("cpu_by_role", {})
    return " / ".join(
        f"{1000 * roles.get(role, 0.0) / cells:.2f}" for role in ("client", "scheduler", "workers")
    )


def cpu_table(records: list[RunRecord], floors: Floors, idle: float | None) -> str:
    rows = []
    for r in records:
        run_ms = _cpu_ms(r)
        floor = floors.get((r.spec.shape, r.spec.num_records, r.spec.cap))
        rows.append([
            r.spec.target, r.spec.shape, f"{r.spec.num_records:,}", r.spec.label,
            f"{r.figures['llm_cells']:,}", _f(r.figures["window_s"], 1),
            _f(r.figures["cpu_window_s"], 1), _f(run_ms), _f(_above_idle(r, idle)),
            _f(_cpu_ms(r, "cpu_total_s")), _roles(r),
            _f(floor["cpu_ms_per_call"]) if floor else "-",
            _mark(None if run_ms is None else run_ms <= LIMITS["cpu_ms"]),
        ])  # fmt: skip
    header = [
        "target", "shape", "records", "cells/task", "LLM cells", "run window s",
        "CPU s (run)", "CPU ms/cell (run)", "ms/cell above idle cluster",
        "CPU ms/cell (whole call)",
        "whole call ms/cell: client (+ in-process scheduler, nannies) / scheduler / workers",
        "floor client CPU ms/call", "<= 1 ms/cell (run)",
    ]  # fmt: skip
    return _table(header, rows)


def nomodel_table(records: list[RunRecord]) -> str:
    by_variant: dict[str, list[RunRecord]] = {}
    for r in records:
        by_variant.setdefault(r.spec.label, []).append(r)
    rows = []
    for runs in by_variant.values():
        runs.sort(key=lambda r: -r.spec.num_records)
        big_peak = runs[0].figures["peak_rss"]
        small_peak = runs[-1].figures["peak_rss"] if len(runs) > 1 else None
        growth = big_peak / small_peak if small_peak else None
        for r in runs:
            fig = r.figures
            is_big = r is runs[0]
            ok = fig["peak_rss"] <= LIMITS["gib"] * GIB and (
                not is_big or growth is None or growth <= LIMITS["growth"]
            )
            rows.append([
                f"{r.spec.num_records:,}", r.spec.label, _f(fig["wall"], 1), _f(fig["gen"], 1),
                f"{fig['rows_per_s']:,.0f}", f"{fig['rows'] / fig['gen']:,.0f}",
                f"{fig['peak_rss'] / MIB:,.0f}", _f(growth) if is_big else "",
                _f(fig["cpu_total_s"], 1), f"{fig['tasks_planned']:,} / {fig['tasks_counted'] or 0:,}",
                f"{fig['max_live_meta']:,} / {fig['max_live_sched'] or 0:,}",
                _mark(ok), r.spec.note,
            ])  # fmt: skip
    header = [
        "records", "cells/task", "wall s", "gen s", "rows/s (wall)", "rows/s (gen)",
        "peak RSS MiB", "peak vs 10x smaller", "CPU s", "tasks planned / counted",
        "max live (meta / sched)", "<= 1.5 GiB, <= 1.3x", "note",
    ]  # fmt: skip
    return _table(header, rows)


def window_table(records: list[RunRecord]) -> str:
    rows = []
    for r in records:
        fig = r.figures
        live = max(fig["max_live_meta"], fig["max_live_sched"] or 0)
        rows.append([
            r.spec.target, r.spec.shape, f"{r.spec.num_records:,}", r.spec.label,
            f"{fig['row_groups']:,}", f"{fig['max_live_meta']:,}",
            f"{fig['max_live_sched'] or 0:,}",
            f"{fig.get('peak_live_row_groups') or 0} / {fig['window_row_groups']}",
            f"{fig['live_bound']:,}",
            _mark(live <= fig["live_bound"]),
        ])  # fmt: skip
    header = [
        "target", "shape", "records", "cells/task", "row groups", "max_live_tasks (meta)",
        "peak live keys (scheduler)", "row groups live at that peak / window",
        "window x tasks/row group", "within",
    ]  # fmt: skip
    return _table(header, rows)


def tables(records: list[RunRecord], floors: Floors, idle: float | None) -> dict[str, str]:
    """One markdown table per target that has runs."""
    of = {t: [r for r in records if r.spec.target == t] for t in ("capacity", "concurrency")}
    llm = of["capacity"] + of["concurrency"]
    nomodel = [r for r in records if r.spec.target == "nomodel"]
    out = {}
    if of["capacity"]:
        out["1. Capacity-bound: wall <= 1.08 x bound"] = capacity_table(of["capacity"], floors)
    if of["concurrency"]:
        out["2. High concurrency: wall <= 1.25 x floor"] = concurrency_table(
            of["concurrency"], floors
        )
    if llm:
        out["3. CPU per LLM cell <= 1 ms"] = cpu_table(llm, floors, idle)
    if nomodel:
        out["4. No model: peak memory and throughput"] = nomodel_table(nomodel)
    if records:
        out["5. Live tasks within the row-group window"] = window_table(records)
    return out


def section(
    records: list[RunRecord],
    floors: Floors,
    info: dict[str, str],
    *,
    mode: str,
    cluster: str,
    idle: float | None,
    when: str | None = None,
) -> str:
    """A dated RESULTS.md section: machine, how it ran, one table per target.

    Args:
        mode: what ran, e.g. "full" or "quick, --only capacity".
        when: when the runs started (now by default).
    """
    when = when or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        f"## {when}: {mode} run, {cluster}",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "Mock server: separate process, latency 0.2 s, no faults. Tasks counted on the "
        "scheduler by the `bench.taskcount` preload plugin.",
        f"An idle cluster of this kind burns {_f(idle, 3)} CPU s per second "
        "(measured before the runs): at cap 16 and L = 0.2 s (80 calls/s at best) that alone "
        f"is {_f(None if idle is None else 1000 * idle / 80)} ms per LLM cell.",
        "",
    ]
    body = [f"### {title}\n\n{table}\n" for title, table in tables(records, floors, idle).items()]
    return "\n".join(head) + "\n" + "\n".join(body)
