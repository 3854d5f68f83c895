"""The record of an output: its metadata document read back once, its shape checked once.

A run writes its metadata document (``dagen.sinks.metadata`` draws its shape) and a later
run reads it back: ``--resume``, ``--update`` and the run that continues them. That run
reads it once, at the boundary (``read_record(sink)``), and from there on sees a frozen
``OutputRecord``, never the raw dict:

    OutputRecord          every top-level field of the document
      .row_groups         RowGroupRecord per written row group, in the document's order:
                          index, start, size, rows, dropped, file, bytes, sha256,
                          fingerprint, usage, cost
      .dropped_rows       DroppedRow per listed dropped row
      .extra              keys the record does not know (on each of the three), written
                          back as they were: nothing written is lost on a rewrite

``OutputRecord.from_dict`` checks the type of every field it types (the fields a resume or
an update reads among them) and raises a ``ResumeError`` naming the field and the output;
``to_dict`` gives the document back, so ``from_dict(doc, s).to_dict() == doc`` for every
document a run writes. Values the record does not interpret (config, cost, usage, schema,
timeline, ...) stay JSON-like mappings, copied in and out, so that no holder of the record
changes it under another.

Example:
    >>> doc = {"seed": 7, "row_group_size": 4, "row_groups": [
    ...     {"index": 0, "start": 0, "size": 4, "rows": 3, "file": "part-000000.parquet"}]}
    >>> record = OutputRecord.from_dict(doc, "out/people")
    >>> record.row_groups[0].rows, record.rows_recorded, record.exact
    (3, 3, False)
    >>> OutputRecord.from_dict({**doc, "seed": "7"}, "out/people")
    Traceback (most recent call last):
    ...
    dagen.errors.ResumeError: the run metadata of out/people cannot be used to resume: seed is not an integer. ...
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dagen.errors import ResumeError
from dagen.sinks.base import Sink

__all__ = ["DroppedRow", "OutputRecord", "RowGroupRecord", "read_record"]

_NAMES = {int: "an integer", str: "a string", bool: "true or false", float: "a number",
          dict: "an object", list: "a list"}  # fmt: skip


class _Reader:
    """Takes typed fields out of one JSON object, noting what is wrong with them."""

    def __init__(self, document: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.document = document
        self.where = where  # the object's path in the document ("" at the top)
        self.problems = problems
        self.taken: set[str] = set()

    def take(self, name: str, kinds: tuple[type, ...], default: Any = None) -> Any:
        """The field ``name`` (a copy), if it is one of ``kinds`` (or None when None is
        allowed, as ``default``); ``default`` when it is absent or wrong."""
        self.taken.add(name)
        fallback = None if default is _REQUIRED else copy.deepcopy(default)
        if name not in self.document:
            if default is _REQUIRED:
                self.problems.append(f"{self.where}{name} is missing")
            return fallback
        value = self.document[name]
        if value is None and default is None:
            return None
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            kind = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
            self.problems.append(f"{self.where}{name} is not {kind}")
            return fallback
        return copy.deepcopy(value)

    def extra(self) -> dict[str, Any]:
        """The fields no ``take`` asked for."""
        return {k: copy.deepcopy(v) for k, v in self.document.items() if k not in self.taken}


_REQUIRED: Any = object()  # ``take``'s default for a field that must be there
_Entry = TypeVar("_Entry", "RowGroupRecord", "DroppedRow")


@dataclass(frozen=True)
class RowGroupRecord:
    """One written row group as the metadata records it (``RunMetadata.add_row_group``).

    Attributes:
        index: the row group's index.
        start: its first row.
        size: rows it generated.
        rows: rows it kept (0: every row dropped, no file).
        dropped: rows it dropped.
        file: what the sink's ``write`` named (None: no file).
        bytes: the file's size (None: not recorded, ``dagen.sinks.checksum``).
        sha256: the file's digest (None: not recorded).
        fingerprint: the digest of the fingerprint set it was written with (None: none).
        usage: its model calls (column -> alias -> counters; None: not recorded).
        cost: what they cost (``dagen.sinks.ledger``; None: not recorded).
        extra: other keys of the record (a sink's own, such as an ETag).
    """

    index: int
    start: int
    size: int
    rows: int
    dropped: int = 0
    file: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    fingerprint: str | None = None
    usage: Mapping[str, Any] | None = None
    cost: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def _read(cls, fields_: _Reader) -> RowGroupRecord:
        take = fields_.take
        found = cls(
            index=take("index", (int,), _REQUIRED),
            start=take("start", (int,), _REQUIRED),
            size=take("size", (int,), _REQUIRED),
            rows=take("rows", (int,), _REQUIRED),
            dropped=take("dropped", (int,), 0),
            file=take("file", (str,)),
            bytes=take("bytes", (int,)),
            sha256=take("sha256", (str,)),
            fingerprint=take("fingerprint", (str,)),
            usage=take("usage", (dict,)),
            cost=take("cost", (dict,)),
        )
        return _with_extra(found, fields_)

    def to_dict(self) -> dict[str, Any]:
        """The record as the metadata holds it (the optional keys only when set)."""
        found: dict[str, Any] = {
            "index": self.index,
            "start": self.start,
            "size": self.size,
            "rows": self.rows,
            "dropped": self.dropped,
            "file": self.file,
        }
        for name in ("bytes", "sha256", "fingerprint", "usage", "cost"):
            if getattr(self, name) is not None:
                found[name] = copy.deepcopy(getattr(self, name))
        return {**found, **copy.deepcopy(dict(self.extra))}


@dataclass(frozen=True)
class DroppedRow:
    """A dropped row as the metadata lists it (``dropped_rows``).

    Attributes:
        row_group: its row group.
        row: its position in the row group.
        global_row: its position in the dataset (None: not recorded).
        column: the column whose cell failed for good.
        error_type: the failure's kind (an exception's name, or a rule's).
        message: what went wrong.
        retryable: whether the failure was of a retryable kind.
        extra: other keys of the entry.
    """

    row_group: int
    row: int
    column: str
    error_type: str
    message: str = ""
    global_row: int | None = None
    retryable: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def _read(cls, fields_: _Reader) -> DroppedRow:
        take = fields_.take
        found = cls(
            row_group=take("row_group", (int,), _REQUIRED),
            row=take("row", (int,), _REQUIRED),
            global_row=take("global_row", (int,)),
            column=take("column", (str,), _REQUIRED),
            error_type=take("error_type", (str,), _REQUIRED),
            message=take("message", (str,), ""),
            retryable=take("retryable", (bool,), False),
        )
        return _with_extra(found, fields_)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"row_group": self.row_group, "row": self.row}
        if self.global_row is not None:
            found["global_row"] = self.global_row
        found.update(column=self.column, error_type=self.error_type, message=self.message,
                     retryable=self.retryable)  # fmt: skip
        return {**found, **copy.deepcopy(dict(self.extra))}


# top-level field -> (the JSON kinds it may be, its value when absent); the order of the
# document as ``RunMetadata.to_dict`` writes it
_TOP: dict[str, tuple[tuple[type, ...], Any]] = {
    "dagen_version": ((str,), "unknown"),
    "status": ((str,), "running"),
    "stop_reason": ((str,), None),
    "fingerprint": ((str,), None),
    "seed": ((int,), _REQUIRED),
    "num_records": ((int,), None),
    "rows_written": ((int,), 0),
    "rows_dropped": ((int,), 0),
    "row_group_size": ((int,), _REQUIRED),
    "exact": ((bool,), False),
    "fingerprints": ((dict,), {}),
    "columns": ((dict,), {}),
    "drop_summary": ((list,), []),
    "usage": ((dict,), {}),
    "cost": ((dict,), {}),
    "schema": ((dict,), None),
    "timeline": ((dict,), {}),
    "timings": ((dict,), {}),
    "versions": ((dict,), {}),
    "config": ((dict,), {}),
}
_ORDER = (*list(_TOP)[:10], "row_groups", *list(_TOP)[10:13], "dropped_rows", *list(_TOP)[13:])


@dataclass(frozen=True)
class OutputRecord:
    """An output's metadata document, typed (see the module docstring for the fields'
    meaning: ``dagen.sinks.metadata``).

    Attributes:
        source: the output it was read from (for messages; not part of the document).
        row_groups: the written row groups, in the document's order.
        dropped_rows: the dropped rows it lists (at most ``MAX_DROPPED_LISTED``).
        extra: top-level keys the record does not know.
    """

    source: str
    seed: int
    row_group_size: int
    row_groups: tuple[RowGroupRecord, ...] = ()
    dropped_rows: tuple[DroppedRow, ...] = ()
    dagen_version: str = "unknown"
    status: str = "running"
    stop_reason: str | None = None
    fingerprint: str | None = None
    num_records: int | None = None
    rows_written: int = 0
    rows_dropped: int = 0
    exact: bool = False
    fingerprints: Mapping[str, Any] = field(default_factory=dict)  # digest -> set
    columns: Mapping[str, int] = field(default_factory=dict)  # output column -> non-null
    drop_summary: tuple[Any, ...] = ()
    usage: Mapping[str, Any] = field(default_factory=dict)  # model alias -> counters
    cost: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] | None = None
    timeline: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], source: str) -> OutputRecord:
        """The record of ``document``, read from the output ``source``.

        Raises:
            ResumeError: a field is missing or of the wrong kind (each one named, with the
                row group or dropped row it belongs to), and what to do.
        """
        problems: list[str] = []
        top = _Reader(document, "", problems)
        values = {name: top.take(name, kinds, default) for name, (kinds, default) in _TOP.items()}
        groups = _entries(top, "row_groups", RowGroupRecord._read)
        dropped = _entries(top, "dropped_rows", DroppedRow._read)
        if problems:
            raise ResumeError(
                f"the run metadata of {source} cannot be used to resume: "
                f"{'; '.join(problems[:8])}. Restore it, or start again with --overwrite "
                "(overwrite=True)"
            )
        values["drop_summary"] = tuple(values["drop_summary"])
        return cls(source=source, row_groups=groups, dropped_rows=dropped, extra=top.extra(),
                   **values)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The document (in the order a run writes it; unknown keys after)."""
        found: dict[str, Any] = {}
        for name in _ORDER:
            value = getattr(self, name)
            if name in ("row_groups", "dropped_rows"):
                found[name] = [entry.to_dict() for entry in value]
            elif name == "drop_summary":
                found[name] = copy.deepcopy(list(value))
            else:
                found[name] = copy.deepcopy(value)
        return {**found, **copy.deepcopy(dict(self.extra))}

    @property
    def rows_recorded(self) -> int:
        """Rows the recorded row groups hold."""
        return sum(rg.rows for rg in self.row_groups)

    def row_group(self, index: int) -> RowGroupRecord | None:
        """The record of row group ``index``, if it is recorded."""
        return next((rg for rg in self.row_groups if rg.index == index), None)


def read_record(sink: Sink) -> OutputRecord | None:
    """The record of the output ``sink`` holds (None: it holds no metadata).

    Raises:
        ResumeError: the metadata cannot be read, or lacks a field a resume reads.
    """
    document = sink.read_metadata()
    return None if document is None else OutputRecord.from_dict(document, str(sink))


def _entries(top: _Reader, name: str, read: Callable[[_Reader], _Entry]) -> tuple[_Entry, ...]:
    """The records of the list ``name`` (checked up to the first wrong entry)."""
    entries = top.take(name, (list,), [])
    found = []
    for position, entry in enumerate(entries):
        where = f"{name}[{position}]"
        if not isinstance(entry, dict):
            top.problems.append(f"{where} is not an object")
            break
        before = len(top.problems)
        record = read(_Reader(entry, f"{where}.", top.problems))
        if len(top.problems) > before:
            break
        found.append(record)
    return tuple(found)


def _with_extra(record: _Entry, reader: _Reader) -> _Entry:
    """``record`` with the keys ``reader`` did not take as its ``extra``."""
    extra = reader.extra()
    return dataclasses.replace(record, extra=extra) if extra else record
