"""Previews and dry views: a few rows without writing, and the shape of a run.

``preview`` runs the real engine on a handful of rows, in memory. With no client given it
uses a small in-process cluster (threads, no dashboard), so it starts in about a second and
exercises exactly the lowering a full run uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from dagen.config.dataset import DatasetConfig
from dagen.config.run import ClusterSettings, RunSettings
from dagen.generators import build_generators
from dagen.graph import ColumnGraph
from dagen.lowering.plan import chunk_sizes, fused_columns
from dagen.runner.arguments import check_config, check_records, check_type
from dagen.runner.engine import generate
from dagen.runner.result import GenerationResult
from dagen.runner.spec import fusable_columns

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["describe", "preview", "preview_result"]


def preview(
    config: DatasetConfig, n: int = 5, *, client: Client | None = None, seed: int | None = None
) -> pd.DataFrame:
    """``n`` rows of ``config``, generated for real and kept in memory.

    Rows a column failed for are left out (``preview_result`` tells why).

    Raises:
        TypeError: ``config`` is not a ``DatasetConfig`` (a path: use ``dagen.load_config``),
            or ``n`` or ``seed`` is not an int.
        ValueError: ``n`` is less than 1.
        ConfigError, GenerationError, RunError: as ``dagen.generate``.
    """
    return preview_result(config, n, client=client, seed=seed).to_pandas()


def preview_result(
    config: DatasetConfig, n: int = 5, *, client: Client | None = None, seed: int | None = None
) -> GenerationResult:
    """Like ``preview``, the whole result: the rows and the metadata (why rows were dropped).

    Raises:
        TypeError, ValueError, ConfigError, GenerationError, RunError: as ``preview``.
    """
    check_config("preview", config)
    check_records("preview", "n", n)
    check_type("preview", "seed", seed, (int,))
    settings = RunSettings(
        row_group_size=n,
        max_concurrent_row_groups=1,
        seed=seed,
        cluster=ClusterSettings(n_workers=1, processes=False, dashboard_address=None),
        progress_interval=None,
    )
    return generate(config, n, None, client=client, settings=settings)


def describe(
    config: DatasetConfig, num_records: int, settings: RunSettings, workers: int | None = None
) -> dict[str, Any]:
    """The column DAG of ``config`` as facts: order, critical path, task counts.

    Args:
        config: the dataset config.
        num_records: rows of the run to describe.
        settings: the run's settings.
        workers: workers the run will have (model caps are split over them, which sets
            the default chunk size of model columns); default: the local cluster's.

    Raises:
        TypeError: an argument has the wrong type (a path for ``config``: use
            ``dagen.load_config``).
        ValueError: ``num_records`` or ``workers`` is less than 1.
        ConfigError: the config is invalid.
    """
    check_config("describe", config)
    check_records("describe", "num_records", num_records)
    if not isinstance(settings, RunSettings):
        raise TypeError(
            f"describe(): settings must be a RunSettings, got {type(settings).__name__}"
        )
    if workers is not None:
        check_records("describe", "workers", workers)
    graph = ColumnGraph.from_config(config)
    generators = build_generators(config, graph)
    async_columns = {c for c, g in generators.items() if g.is_async}
    n = workers or settings.cluster.workers
    model_shares = {
        c.name: max(1, config.model(c.model_alias).max_parallel_requests // n)
        for c in config.columns
        if c.model_alias is not None
    }
    chunking = chunk_sizes(
        graph, settings.row_group_size, settings.cells_per_task, async_columns, model_shares
    )
    counts = graph.task_counts(num_records, settings.row_group_size, chunking)
    n_groups = -(-num_records // settings.row_group_size)
    fused = fused_columns(graph, fusable_columns(config, graph, generators))
    llm = {c.name for c in config.columns if c.model_alias is not None}
    return {
        "columns": [
            {
                "name": col,
                "strategy": graph.strategy[col].value,
                "reads": sorted(graph.reads.get(col, ())),
                "tasks": counts[col],
                "cells_per_task": chunking[col] if graph.is_cell(col) else None,
                "fused_with": [c for c in fused if c != col] if col in fused else [],
            }
            for col in graph.order
        ],
        "critical_path": list(graph.critical_path()),
        "llm_critical_path": [
            c for c in graph.critical_path(lambda c: 1.0 if c in llm else 0.0) if c in llm
        ],
        "row_groups": n_groups,
        # fused columns share one task per row group; one checkpoint per row group
        "tasks_total": sum(counts.values()) - len(fused[1:]) * n_groups + n_groups,
        "mermaid": graph.to_mermaid(),
    }
