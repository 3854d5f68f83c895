"""Seed datasets: rows of an existing file become columns of the generated dataset.

The seed (a parquet, CSV or JSON-lines file, a folder of them or a glob, read in name
order; or a DataFrame given from Python) is read once, where the run starts; the selected
rows and columns travel to the workers once per run, inside the run's generators (the
run plugin of ``dagen.cluster``), so workers of a remote cluster need no access to the
files and no task carries the data. ``selection_strategy`` keeps an index range or a
partition block of it before sampling. Which selected row lands on output row ``i``
depends only on ``i``, the sampling mode and the run seed, never on the cluster:

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

from dagen.config.columns import SeedDatasetColumnConfig
from dagen.config.seed_files import (
    directory_frame,
    read_seed_file,
    register_seed_reader,
    seed_files,
)
from dagen.errors import ConfigValidationError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator
from dagen.generators.samplers import column_rng

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["SeedDatasetGenerator", "build", "read_seed_dataset", "register_seed_reader"]


def _read(files: list[Path], config: SeedDatasetColumnConfig, where: str) -> pd.DataFrame:
    frames = []
    for file in files:
        frame = read_seed_file(file, where)
        missing = [c for c in config.columns if c not in frame.columns]
        if missing:
            raise ConfigValidationError(
                f"{where}: {file.name} has no column(s) {missing}; it has {list(frame.columns)}"
            )
        frames.append(frame[list(config.columns)])
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_seed_dataset(config: SeedDatasetColumnConfig, base: Path | None) -> pd.DataFrame:
    """The selected seed rows, with the configured columns, indexed from 0.

    Raises:
        ConfigValidationError: the seed is missing, unreadable, empty, lacks a column, or
            the selection does not fit it (naming the column and the field).
    """
    if config.dataframe is not None:
        where = f"column {config.name!r}: seed dataframe"
        frame = config.dataframe[list(config.columns)]
    else:
        path = Path(str(config.path))
        if not path.is_absolute() and base is not None:
            path = base / path
        where = f"column {config.name!r}: seed dataset {path}"
        if config.source == "files":
            frame = _read(seed_files(path, where), config, where)
        else:  # Data Designer's directory sources: a row per file
            encoding = config.encoding if config.source == "file_contents" else None
            frame = directory_frame(path, config.file_pattern, config.recursive, encoding, where)
            frame = frame[list(config.columns)]
    if frame.empty:
        raise ConfigValidationError(f"{where} has no rows")
    if config.selection_strategy is not None:
        try:
            rows = config.selection_strategy.rows(len(frame))
        except ValueError as exc:
            raise ConfigValidationError(f"{where}: field selection_strategy: {exc}") from None
        frame = frame.iloc[rows.start : rows.stop]
    return frame.reset_index(drop=True)


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
