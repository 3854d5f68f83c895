"""The generator layer: plain-Python code that produces column values.

``build_generators`` turns a config into one generator per column, each through the
factory its column type registers; the engine calls ``run_cell``/``run_batch`` on them
inside Dask tasks.
"""

from __future__ import annotations

from dagen.generators.base import (
    BatchContext,
    CellFailure,
    ColumnBlock,
    ColumnGenerator,
    FailedBlock,
)
from dagen.generators.build import BuildContext, ModelRuntime, build_generators
from dagen.generators.skip import SkippedCell, SkipRule, fill_skipped, typed_nulls

__all__ = [
    "BatchContext",
    "BuildContext",
    "CellFailure",
    "ColumnBlock",
    "ColumnGenerator",
    "FailedBlock",
    "ModelRuntime",
    "SkipRule",
    "SkippedCell",
    "build_generators",
    "fill_skipped",
    "typed_nulls",
]
