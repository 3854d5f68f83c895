"""A finished run's dataset as a Dask DataFrame, one partition per row group's file.

A file sink (``ParquetSink``, ``JsonlSink``, local or behind an fsspec URL) is read lazily
from its files, in row order; any other readable sink is read back once and split by row
group. The frame is computed by whatever Dask client is current, as any Dask collection.

Example:
    >>> frame = result.to_dask()  # doctest: +SKIP
    >>> frame.npartitions, len(frame)  # doctest: +SKIP
    (10, 10000)
"""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd

from dagen.sinks.base import Sink, read_back, unwrapped
from dagen.sinks.files import FolderSink
from dagen.sinks.parquet import DATA, ParquetSink

__all__ = ["dask_frame"]


def dask_frame(sink: Sink) -> dd.DataFrame:
    """The dataset ``sink`` holds, as a Dask DataFrame.

    Raises:
        TypeError: the sink is write-only.
    """
    inner = unwrapped(sink)
    if isinstance(inner, ParquetSink):
        parts = sorted(Path(inner.data_dir).glob("part-*.parquet"))
        if parts:
            return dd.read_parquet([str(p) for p in parts])
    if isinstance(inner, FolderSink):
        names = sorted(n for n in inner.folder.names(DATA) if n.startswith("part-"))
        names = [n for n in names if n.endswith(inner.SUFFIX)]
        if names:
            paths = [inner.path_of(n) for n in names]
            options = None if inner.folder.local else inner.folder.fs.storage_options
            if inner.SUFFIX == ".parquet":
                return dd.read_parquet(paths, storage_options=options)
            return dd.read_json(paths, lines=True, storage_options=options)
    table = read_back(sink)
    frame = table.to_pandas()
    return dd.from_pandas(frame, npartitions=max(1, min(len(frame), len(table.to_batches()))))
