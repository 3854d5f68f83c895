"""Two sinks (``dagen.sinks.base.Sink``): parquet files in an output folder, or memory.

Layout of an output folder:

    OUT/data/part-000000.parquet     one file per row group, named by row-group index
    OUT/data/part-000001.parquet     (zero-padded, so that file order is row order)
    OUT/metadata.json                config, fingerprint, counts, drops, timings, versions

Every file is written atomically: to a hidden temporary file in the same folder, flushed
and fsynced, then renamed over the final name. A crash leaves either the old file or the
new one, never half of one; leftover temporary files are ignored by readers (their names
start with ``.``) and removed by the next run. A row group with no surviving row writes no
file. Row groups are encoded here, on the client, as parquet with zstd compression. The
folder may be local or any fsspec URL (``s3://...``): files go through a ``Folder``
(``dagen.sinks.folder``); on an object store each object is put whole. ``JsonlSink``
(``dagen.sinks.jsonl``) keeps this layout and changes only the encoding (``encode``,
``decode``, ``SUFFIX``).

``MemorySink`` keeps the Arrow tables (previews, runs without an output folder); both
read the dataset back with ``to_arrow``.
"""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import CheckpointError, OutputDirError
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.folder import Folder, atomic_write

__all__ = ["MemorySink", "ParquetSink", "atomic_write", "part_name"]

METADATA = "metadata.json"
DATA = "data"


def part_name(row_group: int, suffix: str = ".parquet") -> str:
    """The file name of a row group's file."""
    return f"part-{row_group:06d}{suffix}"


def _to_parquet(result: RowGroupResult) -> bytes:
    buffer = io.BytesIO()
    try:
        pq.write_table(result.table, buffer, compression="zstd")
    except pa.ArrowException as exc:
        raise CheckpointError(
            f"row group {result.row_group}: values cannot be stored in parquet: {exc}"
        ) from exc
    return buffer.getvalue()


class ParquetSink:
    """Writes row groups as parquet files and the run's metadata into ``output_dir``.

    Args:
        output_dir: a local folder, or an fsspec URL (``s3://bucket/run``; see
            ``dagen.sinks.folder``).
        storage_options: options of the URL's fsspec filesystem (endpoint, credentials).

    Attributes:
        output_dir: the folder (a ``Path`` when local, else the URL).
        data_dir: where the row groups' files go (likewise).
    """

    SUFFIX = ".parquet"

    def __init__(
        self, output_dir: str | Path, storage_options: dict[str, Any] | None = None
    ) -> None:
        self.folder = Folder(output_dir, storage_options)
        self.output_dir: Path | str = (
            Path(str(self.folder)) if self.folder.local else str(self.folder)
        )
        self.data_dir: Path | str = (
            Path(self.folder.url(DATA)) if self.folder.local else self.folder.url(DATA)
        )

    def __str__(self) -> str:
        return str(self.folder)

    def path_of(self, file: str) -> str:
        """The full path (or URL) of a row group's file named ``file``."""
        return self.folder.url(DATA, file)

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        """Make the output folder ready.

        Raises:
            OutputDirError: the folder holds data and neither ``overwrite`` nor ``resume``
                is set, or it cannot be created or written to.
        """
        out, folder = self.output_dir, self.folder
        if folder.exists() and not folder.is_dir():
            raise OutputDirError(f"output path {out} exists and is not a folder")
        if folder.names() and not resume:
            if not overwrite:
                raise OutputDirError(
                    f"output folder {out} is not empty; pass --overwrite (overwrite=True) "
                    "to replace it or --resume (resume=True) to continue it"
                )
            folder.remove(DATA)
            folder.remove(METADATA)
        probe = f".probe-{id(self)}"
        try:
            folder.makedirs(DATA)
            folder.write(b"", DATA, probe)
            folder.remove(DATA, probe)
        except OSError as exc:
            raise OutputDirError(
                f"output folder {out} is not writable: {exc.strerror or exc}"
            ) from exc
        for name in folder.names(DATA):
            if name.startswith(".") and ".tmp-" in name:
                folder.remove(DATA, name)

    def encode(self, result: RowGroupResult) -> bytes:
        """A row group as the bytes of its file."""
        return _to_parquet(result)

    def decode(self, file: str) -> pa.Table:
        """A row group's file, read back."""
        with self.folder.open(DATA, file) as fh:
            return pq.read_table(fh)

    def write(self, result: RowGroupResult) -> str | None:
        """Write a row group's file; its file name, or None when no row survived.

        Raises:
            CheckpointError: naming the row group and file (disk full, permissions...).
        """
        if result.rows == 0:
            return None
        payload = self.encode(result)
        name = part_name(result.row_group, self.SUFFIX)
        try:
            self.folder.write(payload, DATA, name)
        except OSError as exc:
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or exc
            raise CheckpointError(
                f"row group {result.row_group}: cannot write {self.path_of(name)}: {reason}"
            ) from exc
        return name

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Write ``metadata.json`` atomically.

        Raises:
            CheckpointError: the file cannot be written.
        """
        try:
            self.folder.write(json.dumps(metadata, indent=2, default=str).encode(), METADATA)
        except OSError as exc:
            where = self.folder.url(METADATA)
            raise CheckpointError(f"cannot write {where}: {exc.strerror or exc}") from exc

    def read_metadata(self) -> dict[str, Any] | None:
        """The metadata of a previous run in this folder, if any."""
        payload = self.folder.read(METADATA)
        return None if payload is None else json.loads(payload)

    def _parts(self) -> list[str]:
        return [
            n for n in self.folder.names(DATA) if n.startswith("part-") and n.endswith(self.SUFFIX)
        ]

    def written_row_groups(self) -> set[int]:
        """Indices of the row groups whose files are present."""
        return {int(name.removesuffix(self.SUFFIX).split("-")[1]) for name in self._parts()}

    def remove(self, row_group: int) -> None:
        """Delete a row group's file, if present.

        Raises:
            CheckpointError: the file cannot be deleted.
        """
        name = part_name(row_group, self.SUFFIX)
        try:
            self.folder.remove(DATA, name)
        except OSError as exc:
            raise CheckpointError(
                f"row group {row_group}: cannot remove {self.path_of(name)}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        """Nothing to release: every file was complete when ``write`` returned."""

    def to_arrow(self) -> pa.Table:
        """The dataset written so far, in row order."""
        return _concat([self.decode(name) for name in sorted(self._parts())])


class MemorySink:
    """Keeps row groups as Arrow tables in memory (previews, runs without a folder).

    Resuming keeps what an earlier run through the same object left; otherwise ``open``
    starts empty.
    """

    def __init__(self) -> None:
        self.tables: dict[int, pa.Table] = {}  # row group -> its surviving rows
        self.metadata: dict[str, Any] | None = None

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        if not resume:
            self.tables.clear()
            self.metadata = None

    def read_metadata(self) -> dict[str, Any] | None:
        return self.metadata

    def written_row_groups(self) -> set[int]:
        return set(self.tables)

    def write(self, result: RowGroupResult) -> str | None:
        if result.rows:
            self.tables[result.row_group] = result.table
        return None

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def remove(self, row_group: int) -> None:
        self.tables.pop(row_group, None)

    def close(self) -> None:
        """Nothing to release: the tables stay for ``to_arrow``."""

    def to_arrow(self) -> pa.Table:
        return _concat([self.tables[i] for i in sorted(self.tables)])


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Row groups as one table (columns a row group lacks are nulls there)."""
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default")
