"""How many rows each cell-by-cell task of a run takes, once the cluster is known.

Policy: ``chunk_sizes`` (``dagen.lowering.plan``) sizes each column's chunks from the
workers' shares of its model's cap; where workers run too few tasks at once for their
shares, model chunks are made coarser (``fit_to_slots``), unless the user set
``cells_per_task``; when even that cannot make room, a warning says that model calls will
wait for each other and how to start the workers instead. Pure: the run state calls it
with the split it installed and the workers' slots.

Example:
    >>> choose_chunking(spec, split, {"tcp://127.0.0.1:1": 8})  # doctest: +SKIP
    ({'topic': 1000, 'review': 8}, [])
"""

from __future__ import annotations

from collections.abc import Mapping

from dagen.lowering.admission import fit_to_slots, slots_needed
from dagen.lowering.plan import chunk_sizes
from dagen.lowering.shares import ShareSplit
from dagen.runner.spec import RunSpec

__all__ = ["choose_chunking"]


def choose_chunking(
    spec: RunSpec, split: ShareSplit, slots: Mapping[str, int]
) -> tuple[dict[str, int], list[str]]:
    """Rows per task of each cell-by-cell column of ``spec`` on workers with ``slots``
    (address -> ``nthreads``) and the models' caps split as ``split`` installed them;
    and the warnings for workers still short of slots."""
    settings = spec.settings
    chunking = chunk_sizes(
        spec.graph,
        settings.row_group_size,
        settings.cells_per_task,
        spec.async_columns,
        {c: split.min_share(a) for c, a in spec.column_models.items()},
    )
    if not spec.column_models:
        return chunking, []
    shares = split.installed
    if settings.cells_per_task is None:  # a chunk size the user set is kept
        chunking = fit_to_slots(
            chunking, spec.column_models, shares, slots, settings.row_group_size
        )
    warnings = []
    for worker, n in sorted(slots.items()):
        needed = slots_needed(chunking, spec.column_models, shares, worker)
        if n < needed:
            warnings.append(
                f"Dask worker {worker} runs {n} tasks at once; its share of the models' "
                f"caps needs {needed}: model calls will wait for each other. Start "
                f"workers with --nthreads {needed} (or lower max_parallel_requests)."
            )
    return chunking, warnings
