"""Seed files on disk: which files a seed names, how each is read, and their columns.

A seed's ``path`` is a file, a folder of seed files or a glob (parquet, CSV, JSON, JSON
lines, and any suffix a plugin registers with ``register_seed_reader``), read in name
order. Data Designer's directory sources are seeds too: ``directory`` makes one row per
file under the folder (``source_kind``, ``source_path``, ``relative_path``,
``file_name``), ``file_contents`` adds the file's text as ``content``; both take DD's
``file_pattern`` (a basename pattern) and ``recursive``.

``seed_columns`` gives a seed's columns without reading its rows where the format allows
(a CSV's header, a parquet schema): what Data Designer's files leave out (DD adds the seed
columns at run time, from the file) is known when the config is read.

Example:
    >>> directory_frame(Path("."), "*.nothing-here", True, None, "seed")
    Traceback (most recent call last):
    ...
    dagen.errors.ConfigValidationError: seed: no file matches file_pattern '*.nothing-here' under .
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

import pandas as pd
import pyarrow.parquet as pq

from dagen.errors import ConfigValidationError

__all__ = [
    "DIRECTORY_COLUMNS",
    "directory_frame",
    "read_seed_file",
    "register_seed_reader",
    "seed_columns",
    "seed_files",
]

# file suffix -> reader(path) -> DataFrame; plugins add theirs with register_seed_reader
_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".parquet": lambda path: pq.read_table(path).to_pandas(),
    ".csv": pd.read_csv,
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".json": pd.read_json,
}

# what a directory source's rows hold, in Data Designer's order (file_contents adds content)
DIRECTORY_COLUMNS = ("source_kind", "source_path", "relative_path", "file_name")


def register_seed_reader(suffix: str, reader: Callable[[Path], pd.DataFrame]) -> None:
    """Read seed files ending in ``suffix`` (``".tsv"``) with ``reader(path)``, which
    returns their rows as a DataFrame (an ``OSError``/``ValueError`` names the file).

    Raises:
        ValueError: ``suffix`` does not start with a dot.
        TypeError: ``reader`` is not callable.
    """
    if not suffix.startswith(".") or len(suffix) < 2:
        raise ValueError(f"a seed file suffix starts with a dot ('.tsv'), not {suffix!r}")
    if not callable(reader):
        raise TypeError("a seed reader is a callable taking the file's path")
    _READERS[suffix.lower()] = reader


def seed_files(path: Path, where: str) -> list[Path]:
    """The files of a seed ``path``: the file itself, the seed files of a folder, or the
    files a glob matches, sorted by name.

    Raises:
        ConfigValidationError: nothing is found, or a file has an unsupported format.
    """
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _READERS)
    elif any(ch in str(path) for ch in "*?["):
        anchor = Path(path.anchor) if path.is_absolute() else Path()
        pattern = str(path.relative_to(anchor)) if path.is_absolute() else str(path)
        files = sorted(p for p in anchor.glob(pattern) if p.is_file())
    else:
        files = []
    if not files:
        raise ConfigValidationError(f"{where} not found (no file, folder or glob matches)")
    for file in files:
        if file.suffix.lower() not in _READERS:
            raise ConfigValidationError(
                f"{where}: {file.name} has unsupported format {file.suffix!r} "
                f"({', '.join(s.lstrip('.') for s in _READERS)})"
            )
    return files


def read_seed_file(file: Path, where: str) -> pd.DataFrame:
    """The rows of one seed file.

    Raises:
        ConfigValidationError: the file cannot be read (naming it and why).
    """
    try:
        return _READERS[file.suffix.lower()](file)
    except (OSError, ValueError) as exc:  # pandas' EmptyDataError is a ValueError
        raise ConfigValidationError(f"{where}: {file} cannot be read: {exc}") from exc


def seed_columns(path: Path, where: str) -> list[str]:
    """The columns of the seed at ``path``, in the order of its first file.

    Raises:
        ConfigValidationError: nothing is found, a file cannot be read, or it has no
            columns (an empty file).
    """
    file = seed_files(path, where)[0]
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            names = [n for n in pq.read_schema(file).names if not n.startswith("__index_level_")]
        elif suffix == ".csv":
            names = [str(c) for c in pd.read_csv(file, nrows=0).columns]
        elif suffix == ".jsonl":
            names = _first_json_line_keys(file)
        else:  # JSON documents and plugin formats: read whole
            names = [str(c) for c in read_seed_file(file, where).columns]
    except (OSError, ValueError) as exc:
        raise ConfigValidationError(f"{where}: {file} cannot be read: {exc}") from exc
    if not names:
        raise ConfigValidationError(f"{where}: {file} has no columns (is it empty?)")
    return names


def _first_json_line_keys(file: Path) -> list[str]:
    with file.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("its first line is not a JSON object")
                return [str(k) for k in record]
    return []


def directory_frame(
    root: Path, file_pattern: str, recursive: bool, encoding: str | None, where: str
) -> pd.DataFrame:
    """One row per file under ``root`` whose name matches ``file_pattern``, sorted by
    relative path, as Data Designer's directory seed source gives them; with
    ``encoding``, each file's text as ``content`` (its ``file_contents`` source).

    Raises:
        ConfigValidationError: ``root`` is not a folder, no file matches, or a file
            cannot be decoded (naming it).
    """
    if root.exists() and not root.is_dir():
        raise ConfigValidationError(f"{where}: {root} is not a folder")
    found = root.rglob("*") if recursive else root.glob("*")
    relative = sorted(
        PurePosixPath(p.relative_to(root).as_posix())
        for p in found
        if p.is_file() and fnmatchcase(p.name, file_pattern)
    )
    if not relative:
        scope = "under" if recursive else "directly under"
        raise ConfigValidationError(
            f"{where}: no file matches file_pattern {file_pattern!r} {scope} {root}"
        )
    rows = []
    for path in relative:
        row = {"source_kind": "file_contents" if encoding else "directory_file",
               "source_path": str(root.resolve() / path), "relative_path": str(path),
               "file_name": path.name}  # fmt: skip
        if encoding:
            try:
                row["content"] = (root / path).read_text(encoding=encoding)
            except (UnicodeDecodeError, LookupError, OSError) as exc:
                raise ConfigValidationError(
                    f"{where}: {root / path} cannot be read as {encoding}: {exc}"
                ) from exc
        rows.append(row)
    return pd.DataFrame(rows)
