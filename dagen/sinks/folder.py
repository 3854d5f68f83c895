"""An output folder on the local disk or on any fsspec filesystem (``s3://``, ``gs://``...).

The file sinks (``ParquetSink``, ``JsonlSink``) read and write through a ``Folder``, so
any URL fsspec knows works as an output folder; every file is written from the client,
the process that runs the run loop (workers never need credentials for it). Credentials
and endpoints come from the filesystem's own configuration (for S3: the AWS variables
and files, ``AWS_ENDPOINT_URL``, or fsspec's ``FSSPEC_S3_*`` variables), or from
``storage_options`` given to the sink.

Writes are atomic on both kinds: a local file goes to a hidden temporary file in the same
folder, is flushed, fsynced and renamed over the final name; an object store puts each
object whole. A path without ``://`` is local.

Example:
    >>> folder = Folder("/tmp/dagen-doctest/out")
    >>> folder.local, folder.url("data", "part-000000.parquet")
    (True, '/tmp/dagen-doctest/out/data/part-000000.parquet')
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from dagen.errors import OutputDirError

__all__ = ["Folder", "atomic_write"]


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


class Folder:
    """A folder of files, local or behind an fsspec URL.

    Args:
        location: a local path, or a URL (``s3://bucket/prefix``).
        storage_options: passed to the fsspec filesystem of a URL.

    Raises:
        OutputDirError: the URL's protocol is unknown to fsspec, or its package is not
            installed (``s3fs`` for ``s3://``).
    """

    def __init__(self, location: str | Path, storage_options: dict[str, Any] | None = None):
        text = os.fspath(location)
        self.local = "://" not in text or text.startswith("file://")
        if self.local:
            self.fs: fsspec.AbstractFileSystem = LocalFileSystem()
            self.root = str(Path(text.removeprefix("file://")))
            self._display = text.removeprefix("file://")
        else:
            try:
                self.fs, self.root = fsspec.core.url_to_fs(text, **(storage_options or {}))
            except (ImportError, ValueError) as exc:
                raise OutputDirError(f"output folder {text} cannot be used: {exc}") from exc
            self._display = text.rstrip("/")

    def __str__(self) -> str:
        return self._display

    def path(self, *parts: str) -> str:
        """A path inside the folder, as its filesystem names it."""
        return "/".join((self.root.rstrip("/"), *parts))

    def url(self, *parts: str) -> str:
        """A path inside the folder as the user wrote the folder (a path, or a URL)."""
        return "/".join((self._display.rstrip("/") or "/", *parts)) if parts else self._display

    def exists(self) -> bool:
        return bool(self.fs.exists(self.root))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.root))

    def names(self, *parts: str) -> list[str]:
        """Names of the entries of a folder inside this one (none when it is missing)."""
        where = self.path(*parts)
        try:
            entries = self.fs.ls(where, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def makedirs(self, *parts: str) -> None:
        self.fs.makedirs(self.path(*parts), exist_ok=True)

    def write(self, payload: bytes, *parts: str) -> None:
        """Write a file whole (see the module docstring).

        Raises:
            OSError: the write failed (the filesystem's own errors for other kinds).
        """
        if self.local:
            atomic_write(Path(self.path(*parts)), payload)
        else:
            self.fs.pipe_file(self.path(*parts), payload)

    def read(self, *parts: str) -> bytes | None:
        """A file's bytes, or None when it is missing."""
        try:
            return bytes(self.fs.cat_file(self.path(*parts)))
        except FileNotFoundError:
            return None

    def remove(self, *parts: str) -> None:
        """Delete a file or a folder with its content; nothing when it is missing."""
        where = self.path(*parts)
        if self.fs.exists(where):
            self.fs.rm(where, recursive=True)

    def open(self, *parts: str) -> Any:
        """A file opened for binary reading."""
        return self.fs.open(self.path(*parts), "rb")
