"""The run's ``metadata.json``: what was asked, what was written, what was dropped and why.

Rewritten (atomically) after every checkpointed row group, so that it always describes
exactly the files present; ``--resume`` trusts it.

Shape:

    {"dagen_version", "fingerprint", "seed", "config",
     "num_records": requested, "rows_written", "rows_dropped", "row_group_size",
     "exact": whether num_records counts rows written (``--exact``: row groups of varied
              sizes, written in index order),
     "row_groups": [{"index", "start", "size", "rows", "dropped", "file",     # written ones only
                     "bytes", "sha256"}],        # the file's size and digest (``checksum``)
     "schema": {"columns": {output column: Arrow type}, "arrow": exact schema, base64},
     "columns": {output column: non-null rows written},
     "dropped_rows": [{"row_group", "row", "global_row", "column", "error_type", "message"}],
     "drop_summary": [{"column", "error_type", "rows"}],
     "usage": {model alias: {...}},
     "timeline": {...},            # progress and models every ~2 s (docs/architecture.md)
     "timings": {"started", "finished", "wall_seconds", ...},
     "status": "running" | "complete" | "stopped", "stop_reason",
     "versions": {"python", "dask", "distributed", "pandas", "pyarrow", ...}}
"""

from __future__ import annotations

import datetime as dt
import functools
import platform
from collections import Counter
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

from dagen.generators.base import CellFailure
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.schema import ColumnTypes

__all__ = ["RunMetadata", "versions"]

MAX_DROPPED_LISTED = 100_000


@functools.cache
def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the output."""
    found = {"python": platform.python_version()}
    for name in ("dagen", "dask", "distributed", "pandas", "pyarrow", "pydantic", "numpy"):
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


class RunMetadata:
    """Accumulates a run's facts and renders them as the metadata document."""

    def __init__(
        self,
        *,
        config: dict[str, Any],
        fingerprint: str,
        seed: int,
        num_records: int,
        row_group_size: int,
        previous: dict[str, Any] | None = None,
        types: ColumnTypes | None = None,
        exact: bool = False,
    ) -> None:
        self.config = config
        self.fingerprint = fingerprint
        self.seed = seed
        self.num_records = num_records
        self.row_group_size = row_group_size
        self.exact = exact
        self.started = dt.datetime.now(dt.UTC)
        self.row_groups: dict[int, dict[str, Any]] = {}
        self.columns: Counter[str] = Counter()
        self.dropped: list[dict[str, Any]] = []
        self.usage: dict[str, Any] = {}
        self.status = "running"
        self.stop_reason: str | None = None
        self.timings: dict[str, float] = {}
        self.types = types or ColumnTypes()  # each output column's type, kept across resumes
        self.timeline: dict[str, Any] = {}  # this run's, set by the run loop
        if previous:
            for rg in previous.get("row_groups", []):
                self.row_groups[rg["index"]] = rg
            self.columns.update(previous.get("columns", {}))
            self.dropped.extend(previous.get("dropped_rows", []))
            self.usage = previous.get("usage", {})

    def add_row_group(
        self, result: RowGroupResult, file: str | Mapping[str, Any] | None, start_row: int
    ) -> None:
        """Record a checkpointed row group; ``file`` is what the sink's ``write`` returned
        (a name, or a record such as ``{"file", "bytes", "sha256"}``)."""
        record = dict(file) if isinstance(file, Mapping) else {"file": file}
        self.row_groups[result.row_group] = {
            "index": result.row_group,
            "start": start_row,
            "size": result.size,
            "rows": result.rows,
            "dropped": len(result.dropped),
            **record,
        }
        self.columns.update(result.counts)
        for row, failure in sorted(result.dropped.items()):
            if len(self.dropped) < MAX_DROPPED_LISTED:
                self.dropped.append(_dropped_row(failure, row, start_row))

    def add_usage(self, usage: dict[str, dict[str, int]]) -> None:
        """Add a run's model usage (per alias) to what earlier runs of this output used."""
        for alias, counts in usage.items():
            into = self.usage.setdefault(alias, {})
            for name, n in counts.items():
                into[name] = into.get(name, 0) + n

    @property
    def rows_written(self) -> int:
        return sum(rg["rows"] for rg in self.row_groups.values())

    def to_dict(self) -> dict[str, Any]:
        finished = dt.datetime.now(dt.UTC)
        summary = Counter((d["column"], d["error_type"]) for d in self.dropped)
        return {
            "dagen_version": versions().get("dagen", "unknown"),
            "status": self.status,
            "stop_reason": self.stop_reason,
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "num_records": self.num_records,
            "rows_written": self.rows_written,
            "rows_dropped": sum(rg["dropped"] for rg in self.row_groups.values()),
            "row_group_size": self.row_group_size,
            "exact": self.exact,
            "row_groups": [self.row_groups[i] for i in sorted(self.row_groups)],
            "columns": dict(self.columns),
            "drop_summary": [
                {"column": c, "error_type": e, "rows": n} for (c, e), n in summary.most_common()
            ],
            "dropped_rows": self.dropped,
            "usage": self.usage,
            "schema": self.types.to_dict(),
            "timeline": self.timeline,
            "timings": {
                "started": self.started.isoformat(),
                "finished": finished.isoformat(),
                "wall_seconds": round((finished - self.started).total_seconds(), 3),
                **self.timings,
            },
            "versions": versions(),
            "config": self.config,
        }


def _dropped_row(failure: CellFailure, row: int, start_row: int) -> dict[str, Any]:
    return {
        "row_group": failure.row_group,
        "row": row,
        "global_row": start_row + row,
        **failure.to_dict(),
    }
