"""Where a capacity-bound run loses time: the model's concurrency cap, used or idle, over time.

``python bench/utilisation.py SHAPE RECORDS [--cap C] [--cells-per-task N]`` runs one LLM
shape with dagen (its own LocalCluster) while a thread polls the mock server's ``/stats``
every 50 ms, then prints, per model: seconds until the cap is first reached (ramp-up),
the share of the run the cap was full, the mean calls in flight, and seconds from the last
moment the cap was full to the end (tail). A run is capacity-bound at the bound only if the
cap is full from start to end.

Diagnostic only: the poller's requests add a little load to the server and to this
process, so its figures are not the suite's.

Example:
    $ /tmp/venv/bin/python bench/utilisation.py narrow 400 --cells-per-task 20
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dagen  # noqa: E402
from bench.runner import LATENCY, RunSpec  # noqa: E402
from bench.shapes import SHAPES  # noqa: E402
from dagen.models.mock_server import MockServerSettings  # noqa: E402

try:  # where the process handle lives moved between dagen versions
    from dagen.models.mock_handles import MockServerProcess
except ImportError:  # pragma: no cover
    from dagen.models.mock_server import MockServerProcess  # type: ignore[attr-defined,no-redef]

__all__ = ["main", "summarise"]


def _poll(server: Any, stop: threading.Event, out: list[tuple[float, dict[str, int]]]) -> None:
    while not stop.wait(0.05):
        stats = server.stats()["by_model"]
        out.append((time.perf_counter(), {m: s["in_flight"] for m, s in stats.items()}))


def summarise(samples: list[tuple[float, dict[str, int]]], caps: dict[str, int]) -> list[str]:
    """One line per model: ramp-up, share of time at the cap, mean in flight, tail."""
    lines = []
    start, end = samples[0][0], samples[-1][0]
    for model, cap in caps.items():
        series = [(t, f.get(model, 0)) for t, f in samples]
        busy = [t for t, n in series if n > 0]
        if not busy:
            lines.append(f"{model}: no calls seen")
            continue
        active = [(t, n) for t, n in series if busy[0] <= t <= busy[-1]]
        full = [t for t, n in active if n >= cap]
        ramp = f"{full[0] - busy[0]:.1f}s" if full else "never"
        tail = busy[-1] - (full[-1] if full else busy[0])
        lines.append(
            f"{model}: calls from {busy[0] - start:.1f}s to {busy[-1] - start:.1f}s "
            f"of {end - start:.1f}s; ramp-up to the cap {ramp}; cap full in "
            f"{100 * len(full) / len(active):.0f}% of samples; mean in flight "
            f"{sum(n for _, n in active) / len(active):.1f}/{cap}; tail {tail:.1f}s"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="bench/utilisation.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("records", type=int)
    parser.add_argument("--cap", type=int, default=16)
    parser.add_argument("--cells-per-task", type=int, default=None)
    args = parser.parse_args(argv)
    spec = RunSpec("diagnostic", args.shape, args.records, args.cap, args.cells_per_task, "")
    samples: list[tuple[float, dict[str, int]]] = []
    with MockServerProcess(MockServerSettings(port=0, latency=LATENCY)) as server:
        config = spec.config(server.url)
        stop = threading.Event()
        poller = threading.Thread(target=_poll, args=(server, stop, samples), daemon=True)
        poller.start()
        started = time.perf_counter()
        result = dagen.generate(config, spec.num_records, None, settings=spec.settings())
        wall = time.perf_counter() - started
        stop.set()
        poller.join()
    bound = SHAPES[args.shape].bound(args.records, latency=LATENCY, caps=spec.caps()).seconds
    gen = result.metadata["timings"]["generation_seconds"]
    chunk = args.cells_per_task or "default"
    print(
        f"{args.shape} {args.records} cap {args.cap} cells/task {chunk}: "
        f"wall {wall:.1f}s gen {gen:.1f}s bound {bound:.1f}s"
    )
    for line in summarise(samples, spec.caps()):
        print("  " + line)


if __name__ == "__main__":
    main()
