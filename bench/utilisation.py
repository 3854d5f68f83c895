"""Where a capacity-bound run loses time: the model's concurrency cap, used or idle, over time.

``python bench/utilisation.py SHAPE RECORDS [--cap C] [--cells-per-task N]`` runs one LLM
shape (or a config file, every model pointed at the mock server, caps as the file sets
them) with dagen (its own LocalCluster) while a thread polls the mock server's ``/stats``
every 50 ms, then prints, per model: seconds until the cap is first reached (ramp-up),
the share of the run the cap was full, the mean calls in flight, and seconds from the last
moment the cap was full to the end (tail). A run is capacity-bound at the bound only if the
cap is full from start to end.

Diagnostic only: the poller's requests add a little load to the server and to this
process, so its figures are not the suite's.

Example:
    $ python bench/utilisation.py narrow 400 --cells-per-task 20
    $ python bench/utilisation.py examples/reviews.yaml 1000
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
from dagen.graph import ColumnGraph  # noqa: E402
from dagen.mock.server import MockServerSettings  # noqa: E402

try:  # where the process handle lives moved between dagen versions
    from dagen.mock.handles import MockServerProcess
except ImportError:  # pragma: no cover
    from dagen.mock.server import MockServerProcess  # type: ignore[attr-defined,no-redef]

__all__ = ["config_bound", "main", "summarise"]


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


def _pointed_at(config: dagen.DatasetConfig, endpoint: str) -> dagen.DatasetConfig:
    """``config`` with every model served by the mock server at ``endpoint``."""
    raw = config.to_dict()
    for model in raw["models"]:
        model["endpoint"] = endpoint
        model.pop("api_key_env", None)
    return dagen.DatasetConfig.from_dict(raw)


def config_bound(config: dagen.DatasetConfig, records: int, latency: float) -> float:
    """The design's bound for a config whose LLM columns make one call per row each:
    max(LLM calls on the longest chain x L, for each model: calls x L / cap)."""
    graph = ColumnGraph.from_config(config)
    model_of = {c.name: c.model_alias for c in config.columns if c.model_alias is not None}
    depth = max(graph.depth(lambda c: 1.0 if c in model_of else 0.0).values())
    caps = {m.alias: m.max_parallel_requests for m in config.models}
    per_model = [
        records * sum(a == alias for a in model_of.values()) * latency / cap
        for alias, cap in caps.items()
    ]
    return max(depth * latency, *per_model)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="bench/utilisation.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("shape", help=f"one of {', '.join(sorted(SHAPES))}, or a config file")
    parser.add_argument("records", type=int)
    parser.add_argument("--cap", type=int, default=16)
    parser.add_argument("--cells-per-task", type=int, default=None)
    args = parser.parse_args(argv)
    spec = RunSpec("diagnostic", args.shape, args.records, args.cap, args.cells_per_task, "")
    samples: list[tuple[float, dict[str, int]]] = []
    with MockServerProcess(MockServerSettings(port=0, latency=LATENCY)) as server:
        if args.shape in SHAPES:
            config = spec.config(server.url)
            caps = spec.caps()
            bound = SHAPES[args.shape].bound(args.records, latency=LATENCY, caps=caps).seconds
        else:
            config = _pointed_at(dagen.load_config(args.shape), server.url)
            caps = {m.model: m.max_parallel_requests for m in config.models}
            bound = config_bound(config, args.records, LATENCY)
        stop = threading.Event()
        poller = threading.Thread(target=_poll, args=(server, stop, samples), daemon=True)
        poller.start()
        started = time.perf_counter()
        result = dagen.generate(config, spec.num_records, None, settings=spec.settings())
        wall = time.perf_counter() - started
        stop.set()
        poller.join()
    gen = result.metadata["timings"]["generation_seconds"]
    chunk = args.cells_per_task or "default"
    print(
        f"{args.shape} {args.records} cap {args.cap} cells/task {chunk}: "
        f"wall {wall:.1f}s gen {gen:.1f}s bound {bound:.1f}s"
    )
    for line in summarise(samples, caps):
        print("  " + line)


if __name__ == "__main__":
    main()
