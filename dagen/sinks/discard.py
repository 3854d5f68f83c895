"""``DiscardSink``: keeps the run's metadata and nothing else.

The sink of a streaming run (``dagen.iter_row_groups``) without an output folder: the rows
go to the consumer, and memory stays bounded by the row-group window. Write-only.

Example:
    >>> sink = DiscardSink()
    >>> sink.open(); sink.written_row_groups()
    set()
"""

from __future__ import annotations

from typing import Any

from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.base import Sink

__all__ = ["DiscardSink"]


class DiscardSink(Sink):
    """Drops every row group; remembers the last metadata document."""

    def __init__(self) -> None:
        self.metadata: dict[str, Any] | None = None

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        """Nothing to prepare."""

    def read_metadata(self) -> dict[str, Any] | None:
        return self.metadata

    def written_row_groups(self) -> set[int]:
        return set()

    def write(self, result: RowGroupResult) -> str | None:
        return None

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def remove(self, row_group: int) -> None:
        """Nothing is held."""

    def close(self) -> None:
        """Nothing to release."""
