"""Sinks: where finished row groups go (``base``: the protocol and the capabilities a sink
may add; ``record``: an output's metadata read back; ``parquet``: parquet and
memory; ``jsonl``: JSON lines; ``discard``: metadata only;
``files``: parquet/JSONL on any fsspec URL, through ``folder``)."""

from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import ClaimableSink, LocatingSink, ReadableSink, Sink, UpdatableSink
from dagen.sinks.choice import choose_sink
from dagen.sinks.discard import DiscardSink
from dagen.sinks.files import FolderSink
from dagen.sinks.jsonl import JsonlSink
from dagen.sinks.parquet import MemorySink, ParquetSink

__all__ = [
    "ClaimableSink",
    "DiscardSink",
    "FolderSink",
    "JsonlSink",
    "LocatingSink",
    "MemorySink",
    "ParquetSink",
    "ReadableSink",
    "RowGroupResult",
    "Sink",
    "UpdatableSink",
    "choose_sink",
]
