"""Which sink a run writes to: the user's, or the default for where the rows should go.

The one place that names the concrete default sinks; the engine only sees a ``Sink``
(``dagen.sinks.base``), already wrapped so that a sink's own errors become dagen's.

    output_dir given    ParquetSink(output_dir)   parquet files + metadata.json
    output_dir a URL    FolderSink(output_dir)     the same files on any fsspec filesystem
    sink given          that sink                  (output_dir and sink exclude each other)
    neither             MemorySink()               rows kept for ``to_pandas``

Example:
    >>> type(choose_sink(None, None).inner).__name__
    'MemorySink'
"""

from __future__ import annotations

from pathlib import Path

from dagen.sinks.base import Sink, guarded
from dagen.sinks.files import FolderSink
from dagen.sinks.parquet import MemorySink, ParquetSink

__all__ = ["choose_sink"]


def choose_sink(output_dir: str | Path | None, sink: Sink | None) -> Sink:
    """The sink of a run, guarded (see the module docstring).

    Raises:
        ValueError: both ``output_dir`` and ``sink`` are given.
        TypeError: ``sink`` is not a ``Sink``.
    """
    if output_dir is not None and sink is not None:
        raise ValueError(
            "give output_dir or sink, not both: output_dir is a shorthand for "
            "sink=ParquetSink(output_dir)"
        )
    if sink is None:
        if output_dir is None:
            sink = MemorySink()
        elif "://" in str(output_dir):
            sink = FolderSink(output_dir)
        else:
            sink = ParquetSink(output_dir)
    return guarded(sink)
