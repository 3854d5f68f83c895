"""``FolderSink``: row groups as files in a folder on any fsspec filesystem (``s3://``...).

    URL/data/part-000000.parquet     one file per row group (``.jsonl`` for ``JsonlSink``)
    URL/metadata.json                the run's metadata document

The sink ``dagen.generate`` uses when ``output_dir`` is a URL (``ParquetSink`` handles
local folders); usable on a local path too. Files go through a ``Folder``
(``dagen.sinks.folder``), all written from the client: an object store puts each object
whole, a local file is written atomically. ``--resume`` works as on a local folder (the
metadata lists the row groups written; files it does not list are removed). What this
sink does not do, unlike the local ``ParquetSink``: lock the folder against a second
run, stage an overwrite beside the old dataset, record checksums, or rewrite earlier
parts to one schema (each part has its own row group's types).

Subclasses change the encoding only (``encode``, ``decode``, ``SUFFIX``, ``PART_FORMAT``):
``JsonlSink``.

Example:
    >>> str(FolderSink("s3://bucket/runs/people"))  # doctest: +SKIP
    's3://bucket/runs/people'
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import CheckpointError, OutputDirError
from dagen.sinks.assemble import RowGroupResult, concat_row_groups
from dagen.sinks.base import EncodedPartSink, LocatingSink, ReadableSink
from dagen.sinks.folder import Folder
from dagen.sinks.jsontext import MetadataText
from dagen.sinks.parquet import DATA, METADATA

__all__ = ["FolderSink"]


def part_name(row_group: int, suffix: str) -> str:
    """The file name of a row group's file."""
    return f"part-{row_group:06d}{suffix}"


class FolderSink(ReadableSink, LocatingSink, EncodedPartSink):
    """Writes row groups as parquet files and the run's metadata into a local folder or an
    fsspec URL (see the module docstring).

    Args:
        output_dir: a local folder, or an fsspec URL (``s3://bucket/run``; see
            ``dagen.sinks.folder``).
        storage_options: options of the URL's fsspec filesystem (endpoint, credentials).

    Attributes:
        output_dir: the folder (a ``Path`` when local, else the URL).
        data_dir: where the row groups' files go (likewise).
    """

    SUFFIX = ".parquet"
    PART_FORMAT: str | None = "parquet"  # what the checkpoint encodes for ``encode``

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
        self._text = MetadataText()  # each row group's record encoded once

    def __str__(self) -> str:
        return str(self.folder)

    def part_format(self) -> str | None:
        """``PART_FORMAT``: parquet parts are ``to_parquet(table)``, which the checkpoint
        can make (``RowGroupResult.parquet``); None: ``encode`` makes the bytes."""
        return self.PART_FORMAT

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
        return result.part()

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
            self.folder.write(self._text(metadata).encode(), METADATA)
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
        return concat_row_groups([self.decode(name) for name in sorted(self._parts())])
