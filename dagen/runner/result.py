"""What a run returns: where the data is, its metadata, and a way to read it back.

The run's sink stays private: ``to_pandas`` reads the dataset back through it when it is
readable (``dagen.sinks.base.ReadableSink``), and says so when it is write-only.

Example:
    >>> result = dagen.generate(config, 100)  # doctest: +SKIP
    >>> result.num_records, len(result.to_pandas())  # doctest: +SKIP
    (100, 100)
    >>> result.report()  # doctest: +SKIP
    PosixPath('out/report.html')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dagen.report import write_report
from dagen.sinks.base import Sink, read_back

__all__ = ["GenerationResult"]


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

    def report(self, path: str | Path | None = None) -> Path:
        """Write the run report (``dagen report``): one HTML file that opens offline.

        Args:
            path: where to write it (default: ``report.html`` in the output folder).

        Returns:
            the report's path.

        Raises:
            TypeError: the run wrote no output folder (the report reads one).
            OutputDirError: the folder cannot be read or the report cannot be written.
        """
        if self.output_dir is None:
            raise TypeError(
                "result.report() reads an output folder; this run had none "
                "(generate(..., output_dir=...) writes one)"
            )
        return write_report(self.output_dir, path)

    def to_pandas(self) -> pd.DataFrame:
        """The dataset, rows in declared order.

        Raises:
            TypeError: the run's sink is write-only (read the data where it wrote it).
        """
        return read_back(self._sink).to_pandas()
