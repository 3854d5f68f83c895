"""The generator layer: plain-Python code that produces column values.

``build_generators`` turns a config into one generator per column; the engine calls
``run_cell``/``run_batch`` on them inside Dask tasks.
"""

from __future__ import annotations

from dagen.config.columns import (
    CustomColumnConfig,
    ExpressionColumnConfig,
    SamplerColumnConfig,
    SeedDatasetColumnConfig,
)
from dagen.config.dataset import DatasetConfig
from dagen.config.functions import resolve_function
from dagen.generators.base import (
    BatchContext,
    CellFailure,
    ColumnBlock,
    ColumnGenerator,
    FailedBlock,
)
from dagen.generators.custom import CustomGenerator
from dagen.generators.expression import ExpressionGenerator
from dagen.generators.llm import ModelRuntime, build_llm_generator
from dagen.generators.samplers import SamplerGenerator
from dagen.generators.seed import SeedDatasetGenerator, read_seed_dataset
from dagen.graph import ColumnGraph

__all__ = [
    "BatchContext",
    "CellFailure",
    "ColumnBlock",
    "ColumnGenerator",
    "FailedBlock",
    "ModelRuntime",
    "build_generators",
]


def build_generators(
    config: DatasetConfig,
    graph: ColumnGraph,
    runtime: ModelRuntime | None = None,
) -> dict[str, ColumnGenerator]:
    """One generator per column of ``config``, keyed by column name.

    Args:
        config: the dataset config.
        graph: its column graph (for what each column reads).
        runtime: what the run's LLM generators share (one object for all of them).
    """
    runtime = runtime or ModelRuntime()
    search_path = [config.source_dir] if config.source_dir else []
    generators: dict[str, ColumnGenerator] = {}
    for col in config.columns:
        reads = tuple(sorted(graph.reads.get(col.name, ())))
        if isinstance(col, SamplerColumnConfig):
            generators[col.name] = SamplerGenerator(col, reads)
        elif isinstance(col, ExpressionColumnConfig):
            generators[col.name] = ExpressionGenerator(col, reads)
        elif isinstance(col, SeedDatasetColumnConfig):
            generators[col.name] = SeedDatasetGenerator(
                col, read_seed_dataset(col, config.source_dir)
            )
        elif isinstance(col, CustomColumnConfig):
            function = resolve_function(col.function, column=col.name, search_path=search_path)
            generators[col.name] = CustomGenerator(col, function, reads)
        else:
            generators[col.name] = build_llm_generator(col, config, reads, runtime)
    return generators
