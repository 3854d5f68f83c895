"""Start and stop: from ``dagen run`` to the first task, and from the last row group to exit.

    python bench/startstop.py                       # 5 runs of 1,000 sampler-only rows
    python bench/startstop.py --records 100000 --repeats 3
    python bench/startstop.py --against OTHER_CHECKOUT   # before / after, interleaved

Each run is one new process of the ``dagen`` console script, ``dagen run CONFIG -n N -o
OUT -q`` on the sampler columns of ``bench/compare.py`` (no model), dagen starting its own
LocalCluster, timed as a user sees it. The phases are split by wall-clock timestamps: the
bench's own just before it starts the process and just after it exits, and the run's in
its ``metadata.json``: ``timings.started`` (the run loop starting: the first tasks are
submitted in that same step) and ``timings.finished`` (the metadata written after the last
row group).

    start -> first task        interpreter, imports, config, cluster start, worker checks
    generation                 the run loop: first task to the last row group's metadata
    last row group -> exit     closing the run session, the cluster and the interpreter

The import of the commands alone (``python -c "import dagen.cli.commands"`` less a bare
``python -c pass``) is measured once per checkout, as part of the first phase. With
``--against DIR`` the runs alternate between this checkout and DIR (each put first on the
child's ``PYTHONPATH``), so before and after share the machine's load; the medians are
printed as a markdown table, and the targets (each phase <= 1 s) are marked.

Example:
    $ python bench/startstop.py --repeats 3 --against ../main
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bench.compare import SAMPLER_COLUMNS  # noqa: E402

__all__ = ["Phases", "main", "run_once"]

TARGET = 1.0  # seconds, for each of the start and the stop phase (issue 24, target 4)


@dataclass(frozen=True)
class Phases:
    """One run split at the run loop's start and end (seconds)."""

    start: float
    generation: float
    stop: float

    @property
    def whole(self) -> float:
        return self.start + self.generation + self.stop


def _env(source: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def run_once(source: Path, config: Path, records: int, out: Path) -> Phases:
    """One ``dagen run`` of ``config`` with ``source``'s dagen; raise with its stderr if
    it fails or writes fewer rows."""
    dagen_cli = Path(sys.executable).parent / "dagen"  # the console script a user runs
    argv = [str(dagen_cli), "run", str(config), "-n", str(records)]
    argv += ["-o", str(out), "-q"]
    begun = time.time()
    done = subprocess.run(argv, cwd=source, env=_env(source), capture_output=True, text=True)
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"dagen run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    metadata = json.loads((out / "metadata.json").read_text())
    if metadata["rows_written"] != records:
        raise RuntimeError(f"dagen wrote {metadata['rows_written']} rows of {records}")
    started, finished = (_stamp(metadata["timings"][k]) for k in ("started", "finished"))
    return Phases(start=started - begun, generation=finished - started, stop=ended - finished)


def import_seconds(source: Path, repeats: int = 3) -> float:
    """The median wall of importing the commands (``dagen.cli.commands``, or ``dagen.cli``
    in a checkout from before they were split off) in a new interpreter, less a bare one's."""

    def wall(code: str) -> float:
        begun = time.perf_counter()
        # run in ``source``: ``-c`` puts the working folder first on ``sys.path``
        subprocess.run([sys.executable, "-c", code], cwd=source, env=_env(source), check=True)
        return time.perf_counter() - begun

    bare = statistics.median(wall("pass") for _ in range(repeats))
    code = (
        "import importlib.util as u; import dagen.cli; "
        "u.find_spec('dagen.cli.commands') and __import__('dagen.cli.commands')"
    )
    return statistics.median(wall(code) for _ in range(repeats)) - bare


def _row(label: str, imported: float, runs: list[Phases]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    start, stop = med([r.start for r in runs]), med([r.stop for r in runs])
    cells = [
        label,
        f"{imported:.2f}",
        f"{start:.2f} ({min(r.start for r in runs):.2f}-{max(r.start for r in runs):.2f})",
        f"{med([r.generation for r in runs]):.2f}",
        f"{stop:.2f} ({min(r.stop for r in runs):.2f}-{max(r.stop for r in runs):.2f})",
        f"{med([r.whole for r in runs]):.2f}",
        "PASS" if start <= TARGET and stop <= TARGET else "FAIL",
    ]
    return "| " + " | ".join(cells) + " |"


def render(records: int, repeats: int, rows: list[tuple[str, float, list[Phases]]]) -> str:
    """The table: medians (and ranges) of each phase over the repeats."""
    head = [
        f"checkout ({records:,} rows, {repeats} runs)",
        "import commands s",
        "start -> first task s (range)",
        "generation s",
        "last row group -> exit s (range)",
        "whole s",
        f"each <= {TARGET:g} s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + [_row(*row) for row in rows])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout, run alternately")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sources = {"this checkout": ROOT}
    if args.against is not None:
        sources[str(args.against)] = args.against.resolve()
    runs: dict[str, list[Phases]] = {label: [] for label in sources}
    with tempfile.TemporaryDirectory(prefix="dagen-startstop-") as tmp:
        config = Path(tmp) / "samplers.yaml"
        config.write_text(yaml.safe_dump({"seed": 7, "columns": SAMPLER_COLUMNS}, sort_keys=False))
        for repeat in range(args.repeats):
            for label, source in sources.items():
                out = Path(tmp) / f"out-{len(runs[label])}-{abs(hash(label))}"
                phases = run_once(source, config, args.records, out)
                runs[label].append(phases)
                print(json.dumps({"checkout": label, "repeat": repeat, **phases.__dict__}))
        imported = {label: import_seconds(source) for label, source in sources.items()}
    rows = [(label, imported[label], runs[label]) for label in sources]
    print(render(args.records, args.repeats, rows))
    if args.json:
        raw = {label: [r.__dict__ for r in phases] for label, phases in runs.items()}
        args.json.write_text(json.dumps({"imports": imported, "runs": raw}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
