"""Sinks: where finished row groups go (``base``: the protocol; ``parquet``: parquet and
memory; ``jsonl``: JSON lines; ``discard``: metadata only; ``folder``: local or fsspec)."""

from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import ReadableSink, Sink
from dagen.sinks.choice import choose_sink
from dagen.sinks.discard import DiscardSink
from dagen.sinks.jsonl import JsonlSink
from dagen.sinks.parquet import MemorySink, ParquetSink

__all__ = [
    "DiscardSink",
    "JsonlSink",
    "MemorySink",
    "ParquetSink",
    "ReadableSink",
    "RowGroupResult",
    "Sink",
    "choose_sink",
]
