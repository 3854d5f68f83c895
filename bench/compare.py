"""dagen side by side with the peer (Data Designer) and the bound, whole process each.

    python bench/compare.py                    # the four runs below, peer column included
    python bench/compare.py --quick            # a tenth of the rows (a smoke run)
    python bench/compare.py --peer-python PATH # the peer's Python (default: below)
    python bench/compare.py --only wide samplers --no-peer

Each run is one new process, timed from its start to its exit, as a user would see it:
``dagen run CONFIG -n N -o OUT -q`` (dagen starts its own LocalCluster), and for the peer
``PEER_PYTHON bench/peer_run.py SPEC`` (``DataDesigner.create``, one process, asyncio).
CPU seconds are the process's and its descendants' (polled, ``time_process``). Both talk to one
mock server process (``dagen.mock.server``, latency L = 0.2 s, no faults), which is
never counted.

    run        workload                                     last column
    dual       1,000 rows, bench.shapes "dual", cap 16       bound: max(depth x L, calls x L / cap)
    narrow     1,000 rows, "narrow", cap 16                   bound
    wide       5,000 rows, "wide", cap 256                    bound
    samplers   100,000 rows, 5 samplers + 1 expression        floor: bench/table_floor.py, one
                                                              numpy + pyarrow process writing the
                                                              same 6 columns as 1,000-row parts

The peer column appears when the peer's Python exists: ``--peer-python``, else the
``DAGEN_DATA_DESIGNER_PYTHON`` variable (as the tests read it, ``tests/peer.py``), else
``.venv-datadesigner/bin/python`` next to this folder; ``--no-peer`` leaves it out. A
peer named by the flag or the variable that does not exist is an error, not a silent
table without its column.

Example:
    $ python bench/compare.py --quick --only samplers
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``bench`` (and ``dagen``) importable
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.shapes import SHAPES, TOPICS  # noqa: E402
from dagen.mock.handles import MockServerProcess  # noqa: E402
from dagen.mock.server import MockServerSettings  # noqa: E402

__all__ = ["RUNS", "SAMPLER_COLUMNS", "Timed", "main", "time_process"]

LATENCY = 0.2
DEFAULT_PEER = ROOT / ".venv-datadesigner" / "bin" / "python"
PEER_VARIABLE = "DAGEN_DATA_DESIGNER_PYTHON"

# the sampler run's six columns (bench/peer_run.py builds the same with the peer's classes)
SAMPLER_COLUMNS: list[dict[str, Any]] = [
    {"name": "city", "column_type": "sampler", "sampler_type": "category",
     "params": {"values": ["Oslo", "Lima", "Pune", "Kyoto", "Accra"]}},
    {"name": "age", "column_type": "sampler", "sampler_type": "uniform",
     "params": {"low": 18, "high": 90}, "convert_to": "int"},
    {"name": "score", "column_type": "sampler", "sampler_type": "gaussian",
     "params": {"mean": 50, "stddev": 10}},
    {"name": "member", "column_type": "sampler", "sampler_type": "bernoulli", "params": {"p": 0.3}},
    {"name": "id", "column_type": "sampler", "sampler_type": "uuid", "params": {}},
    {"name": "label", "column_type": "expression", "expr": "{{ city }}-{{ age }}"},
]  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One row of the table: a shape (or the sampler config), rows and the cap."""

    name: str
    shape: str | None
    records: int
    cap: int


RUNS = {
    "dual": Run("dual", "dual", 1000, 16),
    "narrow": Run("narrow", "narrow", 1000, 16),
    "wide": Run("wide", "wide", 5000, 256),
    "samplers": Run("samplers", None, 100_000, 0),
}


@dataclass(frozen=True)
class Timed:
    """A process timed from start to exit: wall and CPU seconds (it and its descendants)."""

    wall: float
    cpu: float
    output: str


def time_process(argv: list[str], cwd: Path) -> Timed:
    """Run ``argv`` to its end; raise with its stderr if it fails.

    CPU is each process of its tree as last seen, polled every 20 ms: not the children's
    rusage, which misses what its own children do not wait for (dagen's forkserver and the
    workers forked from it). A process misses at most its last 20 ms, and one living less
    than that is not seen."""
    import psutil

    seen: dict[int, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, text=True)
        root = psutil.Process(child.pid)
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):
                for process in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = process.cpu_times()
                        seen[process.pid] = times.user + times.system
            time.sleep(0.02)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise RuntimeError(f"{argv[0]} ... failed ({child.returncode}):\n{stderr[-3000:]}")
    return Timed(wall, sum(seen.values()), stdout)


def _dagen_config(run: Run, url: str) -> dict[str, Any]:
    if run.shape is None:
        return {"seed": 7, "columns": SAMPLER_COLUMNS}
    shape = SHAPES[run.shape]
    return shape.config(url, dict.fromkeys(shape.models, run.cap)).to_dict()


def _peer_spec(run: Run, url: str, output: Path) -> dict[str, Any]:
    if run.shape is None:
        return {"kind": "samplers", "num_records": run.records, "output": str(output)}
    shape = SHAPES[run.shape]
    return {
        "kind": "llm",
        "url": url,
        "num_records": run.records,
        "output": str(output),
        "caps": dict.fromkeys(shape.models, run.cap),
        "topics": list(TOPICS),
        "columns": [
            {"name": c.name, "model": c.model, "prompt": c.template()} for c in shape.columns
        ],
    }


def _last_column(run: Run, records: int, work: Path) -> tuple[str, float]:
    if run.shape is None:
        floor = time_process(
            [
                sys.executable,
                str(ROOT / "bench" / "table_floor.py"),
                str(records),
                str(work / "floor"),
            ],
            ROOT,
        )
        return "floor", floor.wall
    shape = SHAPES[run.shape]
    bound = shape.bound(records, latency=LATENCY, caps=dict.fromkeys(shape.models, run.cap))
    return "bound", bound.seconds


def measure(run: Run, records: int, url: str, peer: Path | None, work: Path) -> dict[str, Any]:
    """One row: dagen's process, the peer's, and the bound or floor, in that order."""
    config = work / f"{run.name}.yaml"
    config.write_text(yaml.safe_dump(_dagen_config(run, url), sort_keys=False))
    dagen_cli = Path(sys.executable).parent / "dagen"
    out = work / f"{run.name}-dagen"
    argv = [str(dagen_cli), "run", str(config), "-n", str(records), "-o", str(out), "-q"]
    dagen = time_process(argv, ROOT)
    metadata = json.loads((out / "metadata.json").read_text())
    if metadata["rows_written"] != records:
        raise RuntimeError(f"dagen wrote {metadata['rows_written']} rows of {records}")
    row: dict[str, Any] = {
        "run": run.name,
        "records": records,
        "cap": run.cap,
        "dagen_wall": dagen.wall,
        "dagen_cpu": dagen.cpu,
        "dagen_gen": metadata["timings"]["generation_seconds"],
    }
    if peer is not None:
        spec = work / f"{run.name}-peer.json"
        spec.write_text(json.dumps(_peer_spec(run, url, work / f"{run.name}-peer")))
        timed = time_process([str(peer), str(ROOT / "bench" / "peer_run.py"), str(spec)], work)
        answer = json.loads(timed.output.strip().splitlines()[-1])
        if answer["rows"] != records:
            raise RuntimeError(f"the peer wrote {answer['rows']} rows of {records}")
        row.update(peer_wall=timed.wall, peer_cpu=timed.cpu)
    row["against"], row["against_seconds"] = _last_column(run, records, work)
    return row


def render(rows: list[dict[str, Any]]) -> str:
    """The table: whole-process seconds, CPU, and the ratios measured in this run."""
    peer = any("peer_wall" in r for r in rows)
    head = ["run", "dagen s (CPU s)", "gen s"]
    head += ["peer s (CPU s)", "dagen / peer"] if peer else []
    head += ["bound / floor s", "dagen / bound-or-floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cap = f" / {r['cap']}" if r["cap"] else ", no model"
        cells = [
            f"{r['run']} {r['records']:,}{cap}",
            f"{r['dagen_wall']:.1f} ({r['dagen_cpu']:.1f})",
        ]
        cells.append(f"{r['dagen_gen']:.1f}")
        if peer:
            if "peer_wall" in r:
                cells += [f"{r['peer_wall']:.1f} ({r['peer_cpu']:.1f})"]
                cells += [f"{r['dagen_wall'] / r['peer_wall']:.2f}"]
            else:
                cells += ["", ""]
        cells += [f"{r['against']} {r['against_seconds']:.2f}"]
        cells += [f"{r['dagen_wall'] / r['against_seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--only", nargs="+", choices=sorted(RUNS), default=list(RUNS))
    parser.add_argument(
        "--peer-python", type=Path, help=f"default: ${PEER_VARIABLE}, else {DEFAULT_PEER}"
    )
    parser.add_argument("--no-peer", action="store_true", help="leave the peer column out")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    return parser.parse_args(argv)


def peer_python(args: argparse.Namespace) -> Path | None:
    """The peer's Python: the flag, the variable, else the default venv if it exists.

    Raises:
        SystemExit: the flag or the variable names a file that does not exist.
    """
    if args.no_peer:
        return None
    named = args.peer_python or (
        Path(os.environ[PEER_VARIABLE]) if os.environ.get(PEER_VARIABLE) else None
    )
    if named is not None:
        if not named.is_file():
            raise SystemExit(f"no peer Python at {named} (--peer-python or ${PEER_VARIABLE})")
        return named
    if not DEFAULT_PEER.is_file():
        print(f"no peer at {DEFAULT_PEER} (--peer-python PATH): the peer column is left out")
        return None
    return DEFAULT_PEER


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    peer = peer_python(args)
    rows = []
    with (
        MockServerProcess(MockServerSettings(port=0, latency=LATENCY)) as server,
        tempfile.TemporaryDirectory(prefix="dagen-compare-") as tmp,
    ):
        for name in args.only:
            run = RUNS[name]
            records = max(run.records // 10, 100) if args.quick else run.records
            work = Path(tmp) / name
            work.mkdir()
            row = measure(run, records, server.url, peer, work)
            print(
                json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
            )
            rows.append(row)
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
