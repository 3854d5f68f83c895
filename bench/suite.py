"""The benchmark targets: which runs each one needs, at full size and with ``--quick``.

    capacity     1. all four shapes, cap 16: wall <= 1.08 x bound
    concurrency  2. wide, cap 256: wall <= 1.25 x floor
    cpu          3. CPU per LLM cell (client + scheduler + workers) <= 1 ms  (from 1 and 2)
    nomodel      4. samplers, an expression, a cell-by-cell function: peak memory <= 1.5 GiB
                    and within 1.3x of the run 10x smaller; throughput in rows/s
    window       5. live tasks <= max_concurrent_row_groups x tasks per row group (all runs)

Each run-making target runs once per ``cells_per_task`` variant: the engine's default
(passed as "not set", whatever the engine then chooses), 1 (one task per cell) and coarser
ones. Variants that plan the same runs (same records and Dask task counts, e.g. a default
that is a whole row group) run once, their labels joined. A non-default no-model variant
planning more tasks than the suite affords (one task per cell at 1,000,000 rows is about
1,000,000 tasks, ~40 minutes here) runs at a reduced size, both of its runs alike, noted in
its row; the default always runs at the target's size.

Example:
    >>> [s.label for s in plan(["narrow"], quick=True, variants=[100])]
    ['default', '100']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import dagen
from bench.runner import RunSpec
from bench.shapes import SHAPES

__all__ = ["FULL", "QUICK", "RUN_TARGETS", "SHAPES", "TARGETS", "Sizes", "plan"]

TARGETS = ("capacity", "concurrency", "cpu", "nomodel", "window")
RUN_TARGETS = ("capacity", "concurrency", "nomodel")  # cpu and window read their runs
ROW_GROUP = dagen.RunSettings().row_group_size
PLANNING_ENDPOINT = "http://127.0.0.1:9/v1"  # configs are only described with it, never run

Variant = int | str | None  # None: the engine's default; "rg": a whole row group


@dataclass(frozen=True)
class Sizes:
    """Records per run and ``cells_per_task`` variants per target, full or quick."""

    capacity: int
    concurrency: int
    nomodel: tuple[int, int]  # (big, small): the memory check compares them
    max_tasks: int  # a non-default no-model variant planning more tasks is shrunk
    variants: dict[str, tuple[Variant, ...]]


FULL = Sizes(
    1000,
    5000,
    (1_000_000, 100_000),
    max_tasks=4_000,
    variants={
        "capacity": (None, 1, 100),
        "concurrency": (None, 1, 100, "rg"),
        "nomodel": (None, 1, 100, "rg"),
    },
)
QUICK = Sizes(
    200,
    1000,
    (20_000, 2_000),
    max_tasks=2_500,
    variants={"capacity": (None,), "concurrency": (None, 1), "nomodel": (None,)},
)


def plan(only: Sequence[str], *, quick: bool, variants: Sequence[int] | None) -> list[RunSpec]:
    """The dagen runs of the targets in ``only`` (target or shape names; empty: all).

    Args:
        only: targets and shapes to run; shapes alone mean capacity runs of those shapes.
        quick: the quick sizes and variants.
        variants: ``cells_per_task`` values to run besides the default, instead of the
            suite's (an empty list: the default only).
    """
    sizes = QUICK if quick else FULL
    shapes = [s for s in SHAPES if s in only] or list(SHAPES)
    named = [t for t in RUN_TARGETS if t in only]
    targets = named or (["capacity"] if set(only) & set(SHAPES) else list(RUN_TARGETS))
    specs: list[RunSpec] = []
    for target in targets:
        wanted = [None, *variants] if variants is not None else list(sizes.variants[target])
        groups = [_specs(target, v, sizes, shapes) for v in dict.fromkeys(wanted)]
        for group in _merge_same(groups):
            specs += _reduced(group, sizes.max_tasks)
    return specs


def _specs(target: str, variant: Variant, sizes: Sizes, shapes: list[str]) -> list[RunSpec]:
    cpt = ROW_GROUP if variant == "rg" else variant
    label = "default" if variant is None else f"{cpt} (row group)" if variant == "rg" else str(cpt)
    assert cpt is None or isinstance(cpt, int)
    if target == "capacity":
        return [RunSpec(target, s, sizes.capacity, 16, cpt, label) for s in shapes]
    if target == "concurrency":
        return [RunSpec(target, "wide", sizes.concurrency, 256, cpt, label)]
    return [RunSpec(target, "people", n, 0, cpt, label) for n in sizes.nomodel]


def _merge_same(groups: list[list[RunSpec]]) -> list[list[RunSpec]]:
    """Variants that plan the same runs run once, with their labels joined."""
    kept: dict[tuple[int, ...], list[RunSpec]] = {}
    for runs in groups:
        signature = tuple(x for r in runs for x in (r.num_records, _tasks(r)))
        first = kept.get(signature)
        if first is None:
            kept[signature] = runs
        else:
            label = f"{first[0].label} = {runs[0].label}"
            kept[signature] = [dataclasses.replace(r, label=label) for r in first]
    return list(kept.values())


def _reduced(runs: list[RunSpec], max_tasks: int) -> list[RunSpec]:
    """A non-default no-model variant shrunk (all its runs by one factor) to ``max_tasks``."""
    big = max(runs, key=lambda r: r.num_records)
    if big.target != "nomodel" or big.cells_per_task is None:
        return runs
    tasks = _tasks(big)
    if tasks <= max_tasks:
        return runs
    factor = tasks / max_tasks
    sizes = " / ".join(f"{r.num_records:,}" for r in runs)
    note = f"reduced from {sizes} rows ({tasks:,} tasks at full size)"
    return [
        dataclasses.replace(r, num_records=_round(r.num_records / factor), note=note) for r in runs
    ]


def _tasks(spec: RunSpec) -> int:
    planned = dagen.describe(spec.config(PLANNING_ENDPOINT), spec.num_records, spec.settings())
    return int(planned["tasks_total"])


def _round(n: float) -> int:
    """Whole row groups, at least one."""
    return max(ROW_GROUP, int(n) // ROW_GROUP * ROW_GROUP)
