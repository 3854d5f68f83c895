"""``JsonlSink``: the output folder of ``FolderSink``, with JSON lines instead of parquet.

    OUT/data/part-000000.jsonl      one JSON object per row, one file per row group
    OUT/metadata.json               the same metadata document

Same guarantees as ``FolderSink`` (atomic files, resume, a local path or any fsspec
URL); values JSON cannot hold (bytes, say) are a ``CheckpointError`` naming the row group;
dates and times are written as ISO strings.

Example:
    >>> import pyarrow as pa
    >>> print(_to_jsonl(pa.table({"city": ["Oslo", "Lima"], "age": [31, 47]})).decode(), end="")
    {"city": "Oslo", "age": 31}
    {"city": "Lima", "age": 47}
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from dagen.errors import CheckpointError
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.files import FolderSink

__all__ = ["JsonlSink"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_jsonl(table: pa.Table) -> bytes:
    lines = (json.dumps(row, default=_default, ensure_ascii=False) for row in table.to_pylist())
    return "".join(f"{line}\n" for line in lines).encode()


class JsonlSink(FolderSink):
    """Writes row groups as JSON-lines files (see the module docstring)."""

    SUFFIX = ".jsonl"
    PART_FORMAT = None  # JSON lines are made here, from the table

    def encode(self, result: RowGroupResult) -> bytes:
        """A row group as JSON lines.

        Raises:
            CheckpointError: a value JSON cannot hold.
        """
        try:
            return _to_jsonl(result.table)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(
                f"row group {result.row_group}: values cannot be stored as JSON: {exc}"
            ) from exc

    def decode(self, file: str) -> pa.Table:
        """A JSON-lines file, read back (types as JSON gives them)."""
        with self.folder.open("data", file) as fh:
            payload = fh.read()
        if not payload:
            return pa.table({})
        return pajson.read_json(io.BytesIO(payload))
