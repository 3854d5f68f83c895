"""A dagen output folder, read back: its ``metadata.json`` and its parts, column by column.

The folder is trusted as far as ``metadata.json`` goes: the parts read are the files its
``row_groups`` list, in row-group order (a file on disk that the metadata does not list is
a stray of an interrupted checkpoint, which ``--resume`` would delete, and is ignored).
Nothing is read whole: ``columns`` hands out one column of one part at a time, ``head``
reads the first rows only.

Example:
    >>> folder = OutputFolder("out/people")  # doctest: +SKIP
    >>> folder.metadata["rows_written"], folder.column_names  # doctest: +SKIP
    (10000, ['first_name', 'age', ...])
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import OutputDirError
from dagen.sinks.parquet import DATA, METADATA

__all__ = ["OutputFolder"]

_REQUIRED = ("rows_written", "rows_dropped", "num_records", "row_groups", "columns")


class OutputFolder:
    """The output folder of a dagen run (``ParquetSink``'s layout).

    Args:
        path: the folder ``dagen run -o`` wrote.

    Raises:
        OutputDirError: the folder is missing, holds no ``metadata.json``, or its metadata
            does not parse or lacks a field dagen writes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise OutputDirError(
                f"{self.path} is not a folder (give the folder dagen run -o wrote)"
            )
        meta_path = self.path / METADATA
        if not meta_path.is_file():
            raise OutputDirError(f"{self.path} holds no {METADATA}: not a dagen output folder")
        try:
            metadata = json.loads(meta_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise OutputDirError(f"{meta_path} is not valid JSON: {exc}") from exc
        missing = [k for k in _REQUIRED if not isinstance(metadata, dict) or k not in metadata]
        if missing:
            raise OutputDirError(f"{meta_path} lacks {', '.join(missing)}: not dagen's metadata")
        self.metadata: dict[str, Any] = metadata
        # (row group, path) of every part the metadata lists, in row order
        self.parts: list[tuple[int, Path]] = [
            (int(rg["index"]), self.path / DATA / str(rg["file"]))
            for rg in sorted(metadata["row_groups"], key=lambda rg: rg["index"])
            if rg.get("file")
        ]
        self.schema = self._schema()

    @property
    def column_names(self) -> list[str]:
        """The dataset's columns, in the order of the first part that has each."""
        return list(self.schema.names)

    def columns(self, names: Sequence[str] | None = None) -> Iterator[tuple[str, pa.Array]]:
        """One column of one part at a time, parts in row order: ``(name, values)``.

        A part without a column (written before a column was added) yields nothing for it.

        Raises:
            OutputDirError: a part cannot be read, naming the row group and file.
        """
        wanted = self.column_names if names is None else list(names)
        for row_group, path in self.parts:
            with _reading(row_group, path):
                part = pq.ParquetFile(path)
                present = set(part.schema_arrow.names)
                for name in wanted:
                    if name in present:
                        yield name, part.read(columns=[name]).column(0).combine_chunks()

    def head(self, n: int, *, offset: int = 0, names: Sequence[str] | None = None) -> pa.Table:
        """Rows ``offset`` to ``offset + n`` of the dataset (fewer at its end).

        Raises:
            OutputDirError: a part cannot be read, naming the row group and file.
        """
        wanted = self.column_names if names is None else list(names)
        tables: list[pa.Table] = []
        skip, left = offset, n
        for (row_group, path), rows in zip(self.parts, self._rows_per_part(), strict=True):
            if left <= 0:
                break
            if skip >= rows:
                skip -= rows
                continue
            with _reading(row_group, path):
                part = pq.ParquetFile(path)
                cols = [c for c in wanted if c in part.schema_arrow.names]
                table = part.read(columns=cols).slice(skip, left)
            tables.append(table)
            skip, left = 0, left - table.num_rows
        if not tables:
            return pa.table({c: pa.nulls(0, self.schema.field(c).type) for c in wanted})
        return pa.concat_tables(tables, promote_options="default")

    def _rows_per_part(self) -> list[int]:
        by_index = {int(rg["index"]): int(rg["rows"]) for rg in self.metadata["row_groups"]}
        return [by_index[row_group] for row_group, _ in self.parts]

    def _schema(self) -> pa.Schema:
        schemas = []
        for row_group, path in self.parts:
            with _reading(row_group, path):
                schemas.append(pq.read_schema(path))
        if not schemas:
            return pa.schema([])
        try:
            return pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise OutputDirError(f"the parts of {self.path} do not share a schema: {exc}") from exc


@contextmanager
def _reading(row_group: int, path: Path) -> Iterator[None]:
    """Map pyarrow's and the OS's read errors to an ``OutputDirError`` naming the part."""
    try:
        yield
    except FileNotFoundError as exc:
        raise OutputDirError(
            f"row group {row_group}: {path} is listed in {METADATA} but missing"
        ) from exc
    except (OSError, pa.ArrowException) as exc:
        raise OutputDirError(f"row group {row_group}: cannot read {path}: {exc}") from exc
