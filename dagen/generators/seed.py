"""Seed datasets: rows of an existing file become columns of the generated dataset.

The file (parquet, CSV or JSON lines) is read once, where the run starts, and travels to
the workers with the run's generators, so workers of a remote cluster need no access to
it. Which seed row lands on output row ``i`` depends only on ``i``, the sampling mode and
the run seed, never on the cluster:

    ordered   seed row i mod N
    shuffle   a permutation of the N seed rows, seeded by the run seed, repeated
    random    independent draws with replacement, seeded per row group

Example:
    >>> gen = SeedDatasetGenerator(SeedDatasetColumnConfig(name="s", path="q.csv", columns=["q"]),
    ...                            pd.DataFrame({"q": ["a", "b", "c"]}))
    >>> gen.run_batch(pd.DataFrame(index=range(4)), BatchContext("s", 0, 0, 4, seed=1)).frame["q"].tolist()
    ['a', 'b', 'c', 'a']
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dagen.config.columns import SeedDatasetColumnConfig
from dagen.errors import ConfigValidationError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator
from dagen.generators.samplers import column_rng

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["SeedDatasetGenerator", "build", "read_seed_dataset"]


def read_seed_dataset(config: SeedDatasetColumnConfig, base: Path | None) -> pd.DataFrame:
    """The seed rows, with the configured columns.

    Raises:
        ConfigValidationError: the file is missing, unreadable, empty, or lacks a column.
    """
    path = Path(config.path)
    if not path.is_absolute() and base is not None:
        path = base / path
    where = f"column {config.name!r}: seed dataset {path}"
    if not path.is_file():
        raise ConfigValidationError(f"{where} not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pq.read_table(path).to_pandas()
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=suffix == ".jsonl")
        else:
            raise ConfigValidationError(
                f"{where}: unsupported format {suffix!r} (parquet, csv, jsonl, json)"
            )
    except (OSError, ValueError) as exc:
        raise ConfigValidationError(f"{where} cannot be read: {exc}") from exc
    missing = [c for c in config.columns if c not in frame.columns]
    if missing:
        raise ConfigValidationError(
            f"{where} has no column(s) {missing}; it has {list(frame.columns)}"
        )
    if frame.empty:
        raise ConfigValidationError(f"{where} has no rows")
    return frame[list(config.columns)].reset_index(drop=True)


class SeedDatasetGenerator(ColumnGenerator):
    """A full-column generator taking rows from a seed dataset."""

    def __init__(self, config: SeedDatasetColumnConfig, data: pd.DataFrame) -> None:
        super().__init__(config.name, tuple(config.columns), ())
        self.data = data
        self.sampling = config.sampling

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        n = len(self.data)
        rows = np.arange(ctx.start_row, ctx.start_row + ctx.size)
        if self.sampling == "ordered":
            picks = rows % n
        elif self.sampling == "shuffle":
            picks = column_rng(ctx.seed, self.column + "/shuffle", 0).permutation(n)[rows % n]
        else:
            picks = column_rng(ctx.seed, self.column, ctx.start_row).integers(0, n, size=ctx.size)
        values = self.data.iloc[picks].set_axis(pd.RangeIndex(ctx.size))
        return ColumnBlock(values.loc[frame.index])


def build(config: SeedDatasetColumnConfig, context: BuildContext) -> SeedDatasetGenerator:
    """The generator of a seed-dataset column, its file read now (relative to the config's
    folder) so that workers need no access to it.

    Raises:
        ConfigValidationError: the file is missing, unreadable, empty, or lacks a column.
    """
    return SeedDatasetGenerator(config, read_seed_dataset(config, context.source_dir))
