"""Sinks: where finished row groups go (``base``: the protocol; ``parquet``: two sinks)."""

from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import ReadableSink, Sink
from dagen.sinks.choice import choose_sink
from dagen.sinks.parquet import MemorySink, ParquetSink

__all__ = ["MemorySink", "ParquetSink", "ReadableSink", "RowGroupResult", "Sink", "choose_sink"]
