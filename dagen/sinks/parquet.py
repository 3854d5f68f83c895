"""Two sinks (``dagen.sinks.base.Sink``): parquet files in an output folder, or memory.

Layout of an output folder:

    OUT/data/part-000000.parquet     one file per row group, named by row-group index
    OUT/data/part-000001.parquet     (zero-padded, so that file order is row order)
    OUT/metadata.json                config, fingerprint, counts, drops, timings, versions
    OUT/report.html                  ``dagen report``'s page, when made (removed by overwrite)

Every file is written atomically: to a hidden temporary file in the same folder, flushed
and fsynced, then renamed over the final name. A crash leaves either the old file or the
new one, never half of one; leftover temporary files are ignored by readers (their names
start with ``.``) and removed by the next run. A row group with no surviving row writes no
file. Row groups are encoded here, on the client, as parquet with zstd compression.

``MemorySink`` keeps the Arrow tables (previews, runs without an output folder); both
read the dataset back with ``to_arrow``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import CheckpointError, OutputDirError
from dagen.sinks.assemble import RowGroupResult

__all__ = ["MemorySink", "ParquetSink", "atomic_write", "part_name"]

METADATA = "metadata.json"
DATA = "data"
REPORT = "report.html"  # dagen report's default file: it describes the data, so goes with it


def part_name(row_group: int) -> str:
    """The file name of a row group's parquet file."""
    return f"part-{row_group:06d}.parquet"


def atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see all of it or nothing.

    Raises:
        OSError: the write failed; the temporary file is removed and ``path`` untouched.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


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
    """Writes row groups as parquet files and the run's metadata into ``output_dir``."""

    def __init__(self, output_dir: str | Path) -> None:
        self.output_dir = Path(output_dir)
        self.data_dir = self.output_dir / DATA

    def __str__(self) -> str:
        return str(self.output_dir)

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        """Make the output folder ready.

        Raises:
            OutputDirError: the folder holds data and neither ``overwrite`` nor ``resume``
                is set, or it cannot be created or written to.
        """
        out = self.output_dir
        if out.exists() and not out.is_dir():
            raise OutputDirError(f"output path {out} exists and is not a folder")
        if out.exists() and any(out.iterdir()) and not resume:
            if not overwrite:
                raise OutputDirError(
                    f"output folder {out} is not empty; pass --overwrite (overwrite=True) "
                    "to replace it or --resume (resume=True) to continue it"
                )
            for child in (out / DATA, out / METADATA, out / REPORT):
                if child.is_dir():
                    shutil.rmtree(child)
                elif child.exists():
                    child.unlink()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputDirError(f"output folder {out} is not writable: {exc.strerror}") from exc
        for leftover in self.data_dir.glob(".*.tmp-*"):
            leftover.unlink()

    def write(self, result: RowGroupResult) -> str | None:
        """Write a row group's parquet file; its file name, or None when no row survived.

        Raises:
            CheckpointError: naming the row group and file (disk full, permissions...).
        """
        if result.rows == 0:
            return None
        payload = _to_parquet(result)
        path = self.data_dir / part_name(result.row_group)
        try:
            atomic_write(path, payload)
        except OSError as exc:
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise CheckpointError(
                f"row group {result.row_group}: cannot write {path}: {reason}"
            ) from exc
        return path.name

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Write ``metadata.json`` atomically.

        Raises:
            CheckpointError: the file cannot be written.
        """
        path = self.output_dir / METADATA
        try:
            atomic_write(path, json.dumps(metadata, indent=2, default=str).encode())
        except OSError as exc:
            raise CheckpointError(f"cannot write {path}: {exc.strerror}") from exc

    def read_metadata(self) -> dict[str, Any] | None:
        """The metadata of a previous run in this folder, if any."""
        path = self.output_dir / METADATA
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def written_row_groups(self) -> set[int]:
        """Indices of the row groups whose files are present."""
        return {int(p.stem.split("-")[1]) for p in self.data_dir.glob("part-*.parquet")}

    def remove(self, row_group: int) -> None:
        """Delete a row group's file, if present.

        Raises:
            CheckpointError: the file cannot be deleted.
        """
        path = self.data_dir / part_name(row_group)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise CheckpointError(
                f"row group {row_group}: cannot remove {path}: {exc.strerror}"
            ) from exc

    def close(self) -> None:
        """Nothing to release: every file was complete when ``write`` returned."""

    def to_arrow(self) -> pa.Table:
        """The dataset written so far, in row order."""
        files = sorted(self.data_dir.glob("part-*.parquet"))
        return _concat([pq.read_table(f) for f in files])


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
