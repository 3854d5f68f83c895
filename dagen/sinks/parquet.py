"""Two sinks (``dagen.sinks.base.Sink``): parquet files in an output folder, or memory.

Layout of an output folder:

    OUT/data/part-000000.parquet     one file per row group, named by row-group index
    OUT/data/part-000001.parquet     (zero-padded, so that file order is row order)
    OUT/metadata.json                config, fingerprint, counts, drops, timings, versions,
                                     each part's bytes and SHA-256, the columns' types
    OUT/dropped-columns-parquet-files/part-000000.parquet   the removed columns (drop: true,
                                     drop_columns), same rows as the data part
    OUT/processors-files/NAME/part-000000.parquet           a schema_transform's dataset
    OUT/images/COLUMN/0-3-0-1f2e3d4c5b6a.png   an image column's files (``dagen.sinks.images``)
    OUT/report.html                  ``dagen report``'s page, when made (an overwrite's swap
                                     removes it with the old dataset)
    OUT/.dagen.lock                  the run using the folder (``dagen.sinks.lock``)
    OUT/.dagen-staging/              an overwriting run's new dataset until it completes
                                     (``dagen.sinks.staging``)

Every file is written atomically: to a hidden temporary file in the same folder, flushed
and fsynced, then renamed over the final name. A crash leaves either the old file or the
new one, never half of one; leftover temporary files are ignored by readers (their names
start with ``.``) and removed by the next run. A row group with no surviving row writes no
file. A row group's side parts are written before its data part, so a data part present
means its side parts are too. Row groups are encoded here, on the client, as parquet with zstd compression.
Every part has the same schema (``dagen.sinks.schema``), so ``pandas.read_parquet(OUT /
"data")``, ``pyarrow.dataset`` and ``dask.dataframe.read_parquet`` read the folder as is.

A URL (``s3://...``) is written by ``FolderSink`` (``dagen.sinks.files``) instead.

``MemorySink`` keeps the Arrow tables (previews, runs without an output folder); both
read the dataset back with ``to_arrow``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import CheckpointError, OutputDirError, ResumeError
from dagen.sinks import images
from dagen.sinks.assemble import RowGroupResult, concat_row_groups, to_parquet
from dagen.sinks.base import (
    ClaimableSink,
    EncodedPartSink,
    LocatingSink,
    ReadableSink,
    UpdatableSink,
)
from dagen.sinks.checksum import FileDigest
from dagen.sinks.folder import atomic_write
from dagen.sinks.jsontext import MetadataText
from dagen.sinks.lock import OutputLock
from dagen.sinks.processors import DROPPED_COLUMNS_DIR, PROCESSORS_DIR
from dagen.sinks.staging import DATASET_ENTRIES, Staging, settle

__all__ = ["MemorySink", "ParquetSink", "atomic_write", "part_name"]

log = logging.getLogger("dagen")

METADATA = "metadata.json"
DATA = "data"
REPORT = "report.html"  # dagen report's default file: it describes the data, so goes with it


def part_name(row_group: int) -> str:
    """The file name of a row group's parquet file."""
    return f"part-{row_group:06d}.parquet"


class ParquetSink(ReadableSink, ClaimableSink, LocatingSink, UpdatableSink, EncodedPartSink):
    """Writes row groups as parquet files and the run's metadata into ``output_dir``.

    Besides the ``Sink`` methods it can ``claim`` the folder for one run (``OutputLock``),
    name its files' paths and give its parts back to an update (see its bases).
    Overwriting a dataset stages the new one beside it (``dagen.sinks.staging``); each
    part's size and digest go into the metadata and are checked before a resume trusts
    the part (``dagen.sinks.checksum``); parts written before a column's type was known
    are rewritten with it (``dagen.sinks.schema``), so every part has the same schema.
    """

    def __init__(self, output_dir: str | Path) -> None:
        self.output_dir = Path(output_dir)
        self.data_dir = self.output_dir / DATA
        self._staged: Staging | None = None  # an overwrite's new dataset, until complete
        self._created: list[Path] = []  # folders this sink made (removed if left empty)
        self._digests: dict[int, FileDigest] = {}  # row group -> its file as written
        self._schemas: dict[int, pa.Schema] = {}  # row group -> its file's schema
        self._wrote_metadata = False
        self._records: dict[int, dict[str, Any]] = {}  # row group -> its metadata record
        self._text = MetadataText()  # each row group's record encoded once
        self._mended: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # see _current

    def __str__(self) -> str:
        return str(self.output_dir)

    def part_format(self) -> str:
        """Parts are ``to_parquet(table)``, which the checkpoint can make (``RowGroupResult.parquet``)."""
        return "parquet"

    def path_of(self, file: str) -> str:
        """Where a part named ``file`` is now (an overwriting run's parts stay in the
        staging folder until the run completes)."""
        return str(self.data_dir / file)

    @property
    def _metadata_path(self) -> Path:
        return self._staged.metadata if self._staged else self.output_dir / METADATA

    @contextlib.contextmanager
    def claim(self, run_id: str) -> Iterator[None]:
        """Hold the folder for one run (``OutputLock``), created if needed.

        Raises:
            OutputDirError: another run holds it, or it cannot be created.
        """
        self._check_folder()
        self._make(self.output_dir)
        lock = OutputLock(self.output_dir)
        lock.acquire(run_id)
        try:
            settle(self.output_dir)
            yield
        finally:
            lock.release()
            self._prune()

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        """Make the output folder ready (an overwrite stages the new dataset beside it).

        Raises:
            OutputDirError: the folder holds data and neither ``overwrite`` nor ``resume``
                is set, or it cannot be created or written to.
        """
        out = self.output_dir
        self._check_folder()
        if out.exists():
            settle(out)
        held = [p for p in out.iterdir() if not p.name.startswith(".dagen")] if out.exists() else []
        if held and not resume:
            if not overwrite:
                raise OutputDirError(
                    f"output folder {out} is not empty; pass --overwrite (overwrite=True) "
                    "to replace it or --resume (resume=True) to continue it"
                )
            if any(p.name in DATASET_ENTRIES for p in held):
                self._staged = self._begin_staging()
                self.data_dir = self._staged.data_dir
        try:
            self._make(self.data_dir)
            probe = self.data_dir / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputDirError(f"output folder {out} is not writable: {exc.strerror}") from exc
        for leftover in self.data_dir.glob(".*.tmp-*"):
            leftover.unlink()
        if resume:  # parts kept: mended too if a column's type is learned from now on
            images.prune(self._root, set(self._recorded_digests()))
            self._schemas = {
                int(p.stem.split("-")[1]): pq.read_schema(p)
                for p in self.data_dir.glob("part-*.parquet")
            }

    def write(self, result: RowGroupResult) -> dict[str, Any] | None:
        """Write a row group's parquet file; its record (file name, bytes, SHA-256), or
        None when no row survived. Earlier parts whose schema differs (a column's type
        learned since) are rewritten to this part's schema.

        Raises:
            CheckpointError: naming the row group and file (disk full, permissions...).
        """
        if result.rows == 0:
            return None
        result, stored = images.store(result, self._root)  # files first, then the parts
        path = self.data_dir / part_name(result.row_group)
        for folder, table in result.side.items():
            side = self._root / folder / part_name(result.row_group)
            self._make(side.parent)
            self._put(result.row_group, table, side, record=False)
        self._put(result.row_group, result.table, path, payload=result.parquet)
        self._drop_stale_sides(result)
        if stored is not None:
            images.clean(self._root, result.row_group, images.referenced(result))
        for index, schema in list(self._schemas.items()):
            if not schema.equals(result.table.schema):
                self._mend(index, result.table.schema)
        record = {"file": path.name, **self._digests[result.row_group].to_dict()}
        return record if stored is None else {**record, "images": stored}

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Write ``metadata.json`` atomically; a complete overwrite then replaces the old
        dataset (one that wrote no row keeps it, with a warning).

        Raises:
            CheckpointError: the file cannot be written, or the swap failed (the old
                dataset is kept).
        """
        path = self._metadata_path
        if "row_groups" in metadata:  # digests of parts rewritten since they were recorded
            metadata = {**metadata, "row_groups": self._current(metadata["row_groups"])}
        try:
            atomic_write(path, self._text(metadata).encode())
        except OSError as exc:
            raise CheckpointError(f"cannot write {path}: {exc.strerror}") from exc
        self._wrote_metadata = True
        if self._staged is not None and metadata.get("status") == "complete":
            self._replace_old_dataset(metadata)

    def read_metadata(self) -> dict[str, Any] | None:
        """The metadata of a previous run in this folder, if any.

        Raises:
            ResumeError: ``metadata.json`` exists but is not a readable JSON object.
        """
        path = self.output_dir / METADATA
        try:
            found = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # UnicodeDecodeError, JSONDecodeError
            raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(found, dict):
            raise _unreadable(path, f"it holds a JSON {type(found).__name__}, not an object")
        return found

    def written_row_groups(self) -> set[int]:
        """Indices of the row groups whose files are present and intact.

        A part whose size or digest differs from what the metadata recorded (cut short,
        overwritten) is not reported, with a warning: a resume's plan lists it for removal
        (``ResumePlan.remove``) and regenerates it. Only reads.
        """
        found = {int(p.stem.split("-")[1]) for p in self.data_dir.glob("part-*.parquet")}
        recorded = self._recorded_digests() if found else {}
        for index in sorted(found & set(recorded)):
            path = self.data_dir / part_name(index)
            damage = recorded[index].damage(FileDigest.of_file(path)) or images.damage(
                self.output_dir, [path, *self._side_parts(index)], self._records[index]
            )
            if damage is not None:
                log.warning("%s is damaged (%s): it will be generated again", path, damage)
                found.discard(index)
        return found

    def remove(self, row_group: int) -> None:
        """Delete a row group's file, if present.

        Raises:
            CheckpointError: the file cannot be deleted.
        """
        path = self.data_dir / part_name(row_group)
        try:
            path.unlink(missing_ok=True)
            for side in self._side_parts(row_group):
                side.unlink(missing_ok=True)
            images.remove(self._root, row_group)
        except OSError as exc:
            raise CheckpointError(
                f"row group {row_group}: cannot remove {path}: {exc.strerror}"
            ) from exc
        self._digests.pop(row_group, None)
        self._schemas.pop(row_group, None)

    def read_part(self, row_group: int) -> pa.Table:
        """A row group's data part with its removed columns (``drop: true``,
        ``drop_columns``) beside, as ``--update`` loads unchanged columns from it.

        Raises:
            CheckpointError: naming the file that cannot be read.
        """
        path = self.data_dir / part_name(row_group)
        dropped = self._root / DROPPED_COLUMNS_DIR / part_name(row_group)
        try:
            table = pq.read_table(path)
            if dropped.exists():
                side = pq.read_table(dropped)
                for name, column in zip(side.column_names, side.columns, strict=True):
                    if name not in table.column_names:
                        table = table.append_column(name, column)
        except (OSError, pa.ArrowException) as exc:
            raise CheckpointError(
                f"row group {row_group}: cannot read {path} to update it: {exc}"
            ) from exc
        return table

    def replacing(self, row_groups: Iterable[int]) -> None:
        """Parts about to be replaced (``--update``) are never mended to a newer schema:
        they may hold columns the new parts no longer have."""
        for index in row_groups:
            self._schemas.pop(index, None)

    def _drop_stale_sides(self, result: RowGroupResult) -> None:
        """Side parts of a replaced row group that its new version no longer makes."""
        made = {self._root / folder / part_name(result.row_group) for folder in result.side}
        for side in self._side_parts(result.row_group):
            if side not in made:
                side.unlink(missing_ok=True)

    @property
    def _root(self) -> Path:
        """Where the dataset being written lives (the staging folder of an overwrite)."""
        return self._staged.root if self._staged else self.output_dir

    def _side_parts(self, row_group: int) -> list[Path]:
        name = part_name(row_group)
        dropped = self._root / DROPPED_COLUMNS_DIR / name
        return [dropped, *(self._root / PROCESSORS_DIR).glob(f"*/{name}")]

    def close(self) -> None:
        """An overwrite that did not complete is discarded (the old dataset stays); a
        folder this run made and left empty is removed."""
        if self._staged is not None:
            self._staged.discard()
            self._staged = None
        self._prune()

    def to_arrow(self, side: str | None = None) -> pa.Table:
        """The dataset written so far, in row order (or the side dataset in folder
        ``side``, e.g. ``dropped-columns-parquet-files``)."""
        folder = self.data_dir if side is None else self.output_dir / side
        files = sorted(folder.glob("part-*.parquet"))
        return concat_row_groups([pq.read_table(f) for f in files])

    # -- helpers -----------------------------------------------------------------------

    def _check_folder(self) -> None:
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise OutputDirError(f"output path {self.output_dir} exists and is not a folder")

    def _make(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputDirError(
                f"output folder {self.output_dir} is not writable: cannot create {folder}: "
                f"{exc.strerror}"
            ) from exc
        self._created.extend(reversed(missing))

    def _prune(self) -> None:
        """Remove folders this sink made that hold nothing (a run that never started)."""
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):  # not empty, or gone: either is fine
                folder.rmdir()
        self._created = [p for p in self._created if p.exists()]

    def _begin_staging(self) -> Staging:
        try:
            return Staging.begin(self.output_dir)
        except OSError as exc:
            raise OutputDirError(
                f"output folder {self.output_dir} is not writable: {exc.strerror}"
            ) from exc

    def _put(
        self,
        index: int,
        table: pa.Table,
        path: Path,
        *,
        record: bool = True,
        payload: bytes | None = None,
    ) -> None:
        """Write one part (``payload``: ``table`` encoded already); a data part
        (``record``) has its digest and schema kept."""
        payload = payload if payload is not None else to_parquet(table, index)
        try:
            atomic_write(path, payload)
        except OSError as exc:
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise CheckpointError(f"row group {index}: cannot write {path}: {reason}") from exc
        if record:
            self._digests[index] = FileDigest.of(payload)
            self._schemas[index] = table.schema

    def _mend(self, index: int, schema: pa.Schema) -> None:
        """Rewrite an earlier part with ``schema`` (its columns' types learned since)."""
        path = self.data_dir / part_name(index)
        try:
            table = pq.read_table(path).cast(schema)
        except (OSError, pa.ArrowException) as exc:
            raise CheckpointError(
                f"row group {index}: cannot rewrite {path} with the columns' types "
                f"({schema.to_string(show_schema_metadata=False)}): {exc}"
            ) from exc
        self._put(index, table, path)

    def _current(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Row groups' records with their files' digests as they are now: a record itself
        while its file is as recorded, else one copy per record and digest (``MetadataText``)."""
        found, digests = [], self._digests
        for record in records:
            index, sha256 = record.get("index", -1), record.get("sha256")
            digest = digests.get(index)
            if digest is None or sha256 == digest.sha256 or not record.get("file"):
                found.append(record)
                continue
            copied = self._mended.get(index)
            if copied is None or copied[0] is not record or copied[1]["sha256"] != digest.sha256:
                copied = self._mended[index] = (record, {**record, **digest.to_dict()})
            found.append(copied[1])
        return found

    def _recorded_digests(self) -> dict[int, FileDigest]:
        try:
            metadata = self.read_metadata() or {}
        except ResumeError:
            return {}
        found, self._records = {}, {}
        for record in metadata.get("row_groups", []):
            digest = FileDigest.recorded(record) if isinstance(record, dict) else None
            if digest is not None and record.get("file"):
                found[int(record["index"])] = digest
                self._records[int(record["index"])] = record
        return found

    def _replace_old_dataset(self, metadata: dict[str, Any]) -> None:
        staged, self._staged = self._staged, None
        assert staged is not None
        if not metadata.get("rows_written"):
            log.warning(
                "the run wrote no row: the dataset already in %s is kept as it was",
                self.output_dir,
            )
            staged.discard()
            return
        try:
            staged.swap()
        except OSError as exc:
            staged.discard()
            raise CheckpointError(
                f"cannot put the new dataset in place of the old one in {self.output_dir}: "
                f"{exc.strerror}; the old dataset is kept"
            ) from exc
        self.data_dir = self.output_dir / DATA


def _unreadable(path: Path, reason: str) -> ResumeError:
    return ResumeError(
        f"{path} cannot be read ({reason}). It records which row groups are complete, so "
        "the run cannot be resumed from it: restore the file, or start again with "
        "--overwrite (overwrite=True)"
    )


class MemorySink(ReadableSink):
    """Keeps row groups as Arrow tables in memory (previews, runs without a folder).

    Resuming keeps what an earlier run through the same object left; otherwise ``open``
    starts empty.
    """

    def __init__(self) -> None:
        self.tables: dict[int, pa.Table] = {}  # row group -> its surviving rows
        self.side: dict[str, dict[int, pa.Table]] = {}  # folder -> row group -> table
        self.metadata: dict[str, Any] | None = None

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        if not resume:
            self.tables.clear()
            self.side.clear()
            self.metadata = None

    def read_metadata(self) -> dict[str, Any] | None:
        return self.metadata

    def written_row_groups(self) -> set[int]:
        return set(self.tables)

    def write(self, result: RowGroupResult) -> str | None:
        if result.rows:
            self.tables[result.row_group] = result.table
            for folder, table in result.side.items():
                self.side.setdefault(folder, {})[result.row_group] = table
        return None

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def remove(self, row_group: int) -> None:
        self.tables.pop(row_group, None)
        for tables in self.side.values():
            tables.pop(row_group, None)

    def close(self) -> None:
        """Nothing to release: the tables stay for ``to_arrow``."""

    def to_arrow(self, side: str | None = None) -> pa.Table:
        tables = self.tables if side is None else self.side.get(side, {})
        return concat_row_groups([tables[i] for i in sorted(tables)])
