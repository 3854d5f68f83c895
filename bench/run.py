"""Run dagen's benchmark suite: ``python bench/run.py [--quick] [--scheduler-processes] [--only NAME ...]``.

Starts dagen's mock LLM server as a separate process (latency 0.2 s, no faults), runs each
target's configurations (``bench.suite``) with every ``cells_per_task`` variant, measures
each run (``bench.runner``) and, for each LLM workload, the floor client once
(``bench.floor``), prints one line per run and a table per target, and appends a dated
section to ``bench/RESULTS.md``.

    --quick                 smaller record counts (a smoke run of a few minutes)
    --scheduler-processes   run on ``dask scheduler`` + 2 ``dask worker`` processes instead
                            of the LocalCluster dagen starts by default
    --only NAME ...         targets (capacity, concurrency, cpu, nomodel, window) or shapes
                            (narrow, deep, wide, dual: capacity runs of those shapes only)
    --cells-per-task N ...  variants to run besides the default, instead of the suite's
                            (given with no value: the default only)
    --no-write              print only; leave RESULTS.md alone
    --json PATH             also write every run's raw figures as JSON
    --render PATH           run nothing: print (and append) the section of a --json file

Example:
    $ /tmp/venv/bin/python bench/run.py --quick --only capacity --cells-per-task 100
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``bench`` (and ``dagen``) importable
    sys.path.insert(0, str(ROOT))

from dagen.mock.server import MockServerSettings  # noqa: E402

try:  # where the process handle lives moved between dagen versions
    from dagen.mock.handles import MockServerProcess
except ImportError:  # pragma: no cover
    from dagen.mock.server import MockServerProcess  # type: ignore[attr-defined,no-redef]

from bench import report, suite  # noqa: E402
from bench.clusters import idle_cpu_rate  # noqa: E402
from bench.runner import LATENCY, RunRecord, RunSpec, run_dagen, run_floor_for  # noqa: E402

__all__ = ["execute", "main", "render"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small record counts")
    parser.add_argument(
        "--scheduler-processes", action="store_true", help="separate dask scheduler/workers"
    )
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME")
    parser.add_argument("--cells-per-task", nargs="*", type=int, default=None, metavar="N")
    parser.add_argument("--no-write", action="store_true", help="do not append RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="raw figures as JSON")
    parser.add_argument(
        "--render", type=Path, default=None, help="no runs: the section of a --json file"
    )
    args = parser.parse_args(argv)
    known = set(suite.TARGETS) | set(suite.SHAPES)
    unknown = sorted(set(args.only) - known)
    if unknown:
        parser.error(f"unknown --only {unknown}; choose from {sorted(known)}")
    return args


def _only(names: list[str]) -> list[str]:
    """Derived targets need the runs they read: cpu the LLM ones, window all of them."""
    out = list(names)
    if "cpu" in names:
        out += ["capacity", "concurrency"]
    if "window" in names:
        out += list(suite.RUN_TARGETS)
    return out


def _line(record: RunRecord, floors: report.Floors) -> str:
    f, s = record.figures, record.spec
    text = (
        f"{s.target:<11} {s.shape:<6} {s.num_records:>9,} cpt={s.label:<17} "
        f"wall {f['wall']:7.1f}s gen {f['gen']:7.1f}s "
    )
    if "bound" in f:
        floor = floors.get((s.shape, s.num_records, s.cap))
        text += f"bound {f['bound']:5.1f}s x{f['wall'] / f['bound']:.2f} "
        text += f"floor x{f['wall'] / floor['seconds']:.2f} " if floor else ""
        window = f["cpu_window_s"]
        text += f"CPU {1000 * window / f['llm_cells']:.2f} ms/cell " if window else ""
    else:
        text += f"{f['rows_per_s']:,.0f} rows/s "
    text += f"peak {f['peak_rss'] / report.MIB:,.0f} MiB tasks {f['tasks_counted']} "
    text += f"live {f['max_live_sched']}/{f['live_bound']}"
    return text


def run_suite(
    specs: list[RunSpec], *, processes: bool
) -> tuple[list[RunRecord], report.Floors, list[str]]:
    """Every run of ``specs`` against one mock server; floors measured once per workload."""
    records: list[RunRecord] = []
    floors: report.Floors = {}
    errors: list[str] = []
    with MockServerProcess(MockServerSettings(port=0, latency=LATENCY)) as server:
        for spec in specs:
            key = (spec.shape, spec.num_records, spec.cap)
            try:
                if spec.is_llm and key not in floors:
                    floors[key] = run_floor_for(spec, server)
                    print(
                        f"{'floor':<11} {spec.shape:<6} {spec.num_records:>9,} cap={spec.cap:<13} "
                        f"wall {floors[key]['seconds']:7.1f}s "
                        f"CPU {floors[key]['cpu_ms_per_call']:.2f} ms/call",
                        flush=True,
                    )
                record = run_dagen(spec, server, processes=processes)
            except Exception as exc:  # keep going: one broken run must not hide the rest
                errors.append(f"{spec}: {type(exc).__name__}: {exc}")
                print(f"FAILED {spec}: {type(exc).__name__}: {exc}", flush=True)
                continue
            records.append(record)
            print(_line(record, floors), flush=True)
    return records, floors, errors


def _scope(args: argparse.Namespace) -> str:
    """What a partial run left out, for its section title."""
    parts = [f"--only {' '.join(args.only)}"] if args.only else []
    if args.cells_per_task is not None:
        chosen = " ".join(map(str, args.cells_per_task))
        parts.append(f"--cells-per-task {chosen}" if chosen else "default cells per task only")
    return f" ({'; '.join(parts)})" if parts else ""


def execute(args: argparse.Namespace) -> dict[str, Any]:
    """Run the suite the arguments ask for; its raw figures (what ``--json`` writes)."""
    specs = suite.plan(_only(args.only), quick=args.quick, variants=args.cells_per_task)
    mode = ("quick" if args.quick else "full") + _scope(args)
    cluster = (
        "dask scheduler + 2 worker processes"
        if args.scheduler_processes
        else "local cluster started by dagen (default)"
    )
    print(f"dagen bench: {mode}, {cluster}, {len(specs)} runs", flush=True)
    info = report.machine(ROOT)  # the commit the runs start from
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.perf_counter()
    idle = idle_cpu_rate(args.scheduler_processes)
    print(f"idle cluster: {idle:.3f} CPU s per second", flush=True)
    records, floors, errors = run_suite(specs, processes=args.scheduler_processes)
    return {
        "mode": mode,
        "when": when,
        "cluster": cluster,
        "machine": info,
        "idle_cpu_per_s": idle,
        "minutes": (time.perf_counter() - started) / 60,
        "load_end": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "errors": errors,
        "runs": [dataclasses.asdict(r) for r in records],
        "floors": [{"workload": list(k), **v} for k, v in floors.items()],
    }


def render(raw: dict[str, Any]) -> str:
    """The RESULTS.md section of a suite's raw figures."""
    records = [RunRecord(RunSpec(**r["spec"]), r["cluster"], r["figures"]) for r in raw["runs"]]
    floors = {tuple(f["workload"]): f for f in raw["floors"]}
    text = report.section(
        records,
        floors,  # type: ignore[arg-type]
        raw["machine"],
        mode=raw["mode"],
        cluster=raw["cluster"],
        idle=raw["idle_cpu_per_s"],
        when=raw.get("when"),
    )
    text += f"\nSuite time: {raw['minutes']:.1f} min; load average at the end {raw['load_end']}.\n"
    if raw["errors"]:
        text += "\nFailed runs:\n\n" + "\n".join(f"- {e}" for e in raw["errors"]) + "\n"
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message="Port .* is already in use")
    raw = json.loads(args.render.read_text()) if args.render else execute(args)
    text = render(raw)
    print("\n" + text)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(("\n" if RESULTS.exists() and RESULTS.stat().st_size else "") + text)
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 1 if raw["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
