"""What a run returns: where the data is, its metadata, and a way to read it back.

The run's sink stays private: ``to_arrow`` and ``to_pandas`` read the dataset back through
it when it is readable (``dagen.sinks.base.ReadableSink``), and say so when it is
write-only; ``to_dask`` is a Dask DataFrame over the written files. The ``repr`` is one
line (status, rows, where) and ``_repr_html_`` a small table for notebooks: never the
metadata document, which grows with the dropped rows.

Example:
    >>> result = dagen.generate(config, 100)  # doctest: +SKIP
    >>> result.num_records, len(result.to_pandas())  # doctest: +SKIP
    (100, 100)
    >>> result.report()  # doctest: +SKIP
    PosixPath('out/report.html')
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from dagen.report import write_report
from dagen.sinks.base import Sink, read_back
from dagen.sinks.ledger import Cost

if TYPE_CHECKING:
    import dask.dataframe as dd

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
        output_dir: the output folder (a ``Path``, or the URL of a remote folder), or None
            for a run without one.
        metadata: the run's metadata (the content of ``metadata.json``).
    """

    output_dir: Path | str | None
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

    @property
    def cost(self) -> Cost:
        """What the dataset's model calls cost in USD (``total``, ``by_model``,
        ``by_column``; ``discarded``: calls paid whose rows it does not hold), at the
        prices in the config's ``pricing``; ``unpriced`` names the models without one."""
        return Cost.from_metadata(self.metadata)

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
            "cost": self.cost.total,
            "status": meta["status"],
        }

    def to_arrow(self) -> pa.Table:
        """The dataset as one Arrow table, rows in declared order.

        Raises:
            TypeError: the run's sink is write-only (read the data where it wrote it).
        """
        return read_back(self._sink)

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
        return self.to_arrow().to_pandas()

    def to_dask(self) -> dd.DataFrame:
        """The dataset as a Dask DataFrame, one partition per row group's file (lazy).

        Raises:
            TypeError: the run's sink is write-only.
        """
        from dagen.cluster.frames import dask_frame  # dask.dataframe only when asked

        return dask_frame(self._sink)

    def __repr__(self) -> str:
        meta = self.metadata
        where = f", output_dir={str(self.output_dir)!r}" if self.output_dir is not None else ""
        return (
            f"<GenerationResult {meta.get('status', '?')}: {meta['rows_written']:,} rows "
            f"written, {meta['rows_dropped']:,} dropped, {len(meta.get('row_groups', []))} "
            f"row groups{self._cost_text()}{where}>"
        )

    def _cost_text(self) -> str:
        cost = self.cost
        if not cost.by_model and not cost.unpriced:
            return ""  # no model was called
        return f", cost {cost.summary()}"

    def _repr_html_(self) -> str:
        summary = self.summary()
        rows = [
            ("status", summary["status"]),
            ("rows written", f"{summary['rows_written']:,}"),
            ("rows dropped", f"{summary['rows_dropped']:,}"),
            ("row groups", len(self.metadata.get("row_groups", []))),
            ("output", summary["output_dir"] or "(in memory)"),
            ("wall time", f"{summary['wall_seconds']} s"),
            ("models", ", ".join(sorted(summary["usage"])) or "none"),
            ("cost (USD)", self.cost.summary()),
            ("fingerprint", summary["fingerprint"]),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>dagen GenerationResult</caption>{cells}</table>"
