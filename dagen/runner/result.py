"""What a run returns: where the data is, its metadata, and a way to read it back.

The run's sink stays private: ``to_pandas`` reads the dataset back through it when it is
readable (``dagen.sinks.base.ReadableSink``), and says so when it is write-only.

Example:
    >>> result = dagen.generate(config, 100)  # doctest: +SKIP
    >>> result.num_records, len(result.to_pandas())  # doctest: +SKIP
    (100, 100)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dagen.sinks.base import Sink, read_back

__all__ = ["GenerationResult", "drop_reasons"]


def drop_reasons(metadata: dict[str, Any], limit: int = 3) -> list[str]:
    """The most frequent reasons rows were dropped, one line each, with an example message.

    Example:
        >>> drop_reasons({"drop_summary": [{"column": "n", "error_type": "ValueError", "rows": 4}],
        ...               "dropped_rows": [{"column": "n", "error_type": "ValueError",
        ...                                 "message": "bad int"}]})
        ["4 rows: column 'n', ValueError: bad int"]
    """
    examples: dict[tuple[str, str], str] = {}
    for row in metadata.get("dropped_rows", []):
        examples.setdefault((row["column"], row["error_type"]), row.get("message", ""))
    lines = []
    for entry in metadata.get("drop_summary", [])[:limit]:
        message = examples.get((entry["column"], entry["error_type"]), "")
        message = " ".join(message.split())  # one line, whatever the error's own layout
        if len(message) > 200:
            message = message[:197] + "..."
        detail = f": {message}" if message else ""
        lines.append(
            f"{entry['rows']} rows: column {entry['column']!r}, {entry['error_type']}{detail}"
        )
    return lines


@dataclass(frozen=True)
class GenerationResult:
    """The outcome of ``dagen.generate``.

    Attributes:
        output_dir: the output folder, or None for an in-memory run.
        metadata: the run's metadata (the content of ``metadata.json``).
    """

    output_dir: Path | None
    metadata: dict[str, Any]
    _sink: Sink = field(repr=False, compare=False)

    @property
    def num_records(self) -> int:
        """Rows written."""
        return int(self.metadata["rows_written"])

    @property
    def dropped(self) -> list[dict[str, Any]]:
        """One entry per dropped row: row group, row, column, error type, message."""
        return list(self.metadata["dropped_rows"])

    @property
    def usage(self) -> dict[str, Any]:
        """Model usage per alias: requests, failures, tokens."""
        return dict(self.metadata.get("usage", {}))

    def summary(self) -> dict[str, Any]:
        """The run in a few JSON-able fields: what orchestrators report after a task."""
        meta = self.metadata
        return {
            "output_dir": str(self.output_dir) if self.output_dir is not None else None,
            "rows_written": meta["rows_written"],
            "rows_dropped": meta["rows_dropped"],
            "fingerprint": meta["fingerprint"],
            "wall_seconds": meta["timings"]["wall_seconds"],
            "usage": meta.get("usage", {}),
            "status": meta["status"],
        }

    def to_pandas(self) -> pd.DataFrame:
        """The dataset, rows in declared order.

        Raises:
            TypeError: the run's sink is write-only (read the data where it wrote it).
        """
        return read_back(self._sink).to_pandas()
