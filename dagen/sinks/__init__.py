"""Sinks: where finished row groups go (``base``: the protocol; ``parquet``: parquet and
memory; ``jsonl``: JSON lines; ``discard``: metadata only;
``files``: parquet/JSONL on any fsspec URL, through ``folder``)."""

from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import ReadableSink, Sink
from dagen.sinks.choice import choose_sink
from dagen.sinks.discard import DiscardSink
from dagen.sinks.files import FolderSink
from dagen.sinks.jsonl import JsonlSink
from dagen.sinks.parquet import MemorySink, ParquetSink

__all__ = [
    "DiscardSink",
    "FolderSink",
    "JsonlSink",
    "MemorySink",
    "ParquetSink",
    "ReadableSink",
    "RowGroupResult",
    "Sink",
    "choose_sink",
]
