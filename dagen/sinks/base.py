"""The sink seam: what happens to a finished row group, as one small ``Protocol``.

A sink receives each finished row group as a ``RowGroupResult`` (an Arrow table of the
surviving rows plus the drop report) and the run's metadata document; it decides the
format and the place. The engine calls a sink in this order, and only in this order:

    0. ``claim(run_id)`` (``ClaimableSink`` only), around all of what follows, resume
       steps included (``claimed``): ``ParquetSink`` locks its folder, so that two runs
       never write into it at once.
    1. (resume and update only, before anything is cleared) ``read_metadata()`` and
       ``written_row_groups()``: the previous run's metadata and the row groups held
       intact; both only read. Planning (``dagen.runner.resume``, ``.update``) decides
       from them, touching nothing; then the engine calls ``remove(i)`` for each row
       group the plan drops: held but never recorded (an interrupted write), recorded
       but not held intact (a damaged part), or past the first gap of an exact run. A
       sink must answer these before ``open``.
    2. ``open(overwrite=..., resume=...)``, once, after the config, keys and endpoints were
       checked: a bad run never clears a good dataset. ``overwrite`` clears the old
       dataset, ``resume`` keeps it; with neither, a sink holding data refuses. An update
       then tells an ``UpdatableSink`` which row groups it replaces (``replacing``).
    3. ``write(result)`` once per row group, in the order row groups finish (not row
       order), each followed by ``write_metadata(document)``; ``write`` returns what the
       metadata records as the row group's ``file``: a name, a record (``{"file": name,
       ...}``, its other keys such as ``bytes`` and ``sha256`` recorded beside), or None.
       An update reads a row group's old part (``read_part``) just before it regenerates
       it; ``path_of(file)`` (``LocatingSink``) names a written file for callbacks.
    4. ``write_metadata(document)`` once more when the run ends, complete or stopped.
    5. ``close()``, once, whatever happened after ``open``.

What a sink can do beyond ``Sink`` is declared, one capability per ``Protocol``, and the
engine asks with ``isinstance`` (on the sink a guarded one wraps: ``unwrapped``), never
by probing for a method:

    ClaimableSink   claim(run_id): held for one run (``ParquetSink``)
    LocatingSink    path_of(file): the full path or URL of a file ``write`` named, given
                    to ``on_row_group`` callbacks as ``RowGroupEvent.path`` (without it,
                    the event's path is the name ``write`` returned)
    UpdatableSink   read_part(i), replacing(indices): ``--update`` can read old parts
                    back and replace them (``ParquetSink``)
    ReadableSink    to_arrow(): the dataset back, rows in row-group order
                    (``GenerationResult.to_pandas`` needs it)
    EncodedPartSink part_format(): each row group is stored as its table encoded in that
                    format (``"parquet"``: ``to_parquet``), so the checkpoint encodes it on
                    the worker that assembled it (``RowGroupResult.parquet``) and
                    ``write`` stores those bytes (``ParquetSink``, ``FolderSink``)

The sinks of this package name the protocols they satisfy as their bases (so mypy checks
their signatures); any other object with the methods satisfies them as well. Errors a
sink raises that are not ``DagenError`` are mapped at this boundary (``guarded``) to
``CheckpointError``, naming the row group when there is one; the guarded sink forwards
each capability's calls.

Example (a sink that only counts rows):
    >>> class Counting:
    ...     def __init__(self): self.rows = {}
    ...     def open(self, *, overwrite=False, resume=False): self.rows.clear()
    ...     def read_metadata(self): return None
    ...     def written_row_groups(self): return set(self.rows)
    ...     def write(self, result): self.rows[result.row_group] = result.rows
    ...     def write_metadata(self, metadata): pass
    ...     def remove(self, row_group): self.rows.pop(row_group, None)
    ...     def close(self): pass
    >>> isinstance(Counting(), Sink), isinstance(Counting(), ReadableSink)
    (True, False)
    >>> isinstance(unwrapped(guarded(Counting())), LocatingSink)
    False
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from dagen.errors import CheckpointError, DagenError
from dagen.sinks.assemble import RowGroupResult

__all__ = [
    "ClaimableSink",
    "EncodedPartSink",
    "LocatingSink",
    "ReadableSink",
    "Sink",
    "UpdatableSink",
    "claimed",
    "guarded",
    "opened",
    "parts_of",
    "read_back",
    "unwrapped",
]

log = logging.getLogger("dagen")

_METHODS = (
    "open",
    "read_metadata",
    "written_row_groups",
    "write",
    "write_metadata",
    "remove",
    "close",
)


@runtime_checkable
class Sink(Protocol):
    """Where finished row groups go (the call order is in the module docstring)."""

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        """Make the target ready; clear an old dataset only when ``overwrite``.

        Raises:
            OutputDirError: the target holds data and neither flag is set, or is unusable.
        """

    def read_metadata(self) -> dict[str, Any] | None:
        """The metadata document a previous run left, or None."""

    def written_row_groups(self) -> set[int]:
        """Indices of the row groups the target holds."""

    def write(self, result: RowGroupResult) -> str | Mapping[str, Any] | None:
        """Store one row group; what the metadata records as its ``file`` (or None)."""

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Store the run's metadata document (replacing the previous one)."""

    def remove(self, row_group: int) -> None:
        """Remove a row group the target holds (nothing when it holds none)."""

    def close(self) -> None:
        """Release what ``open`` acquired; the data stays."""


@runtime_checkable
class ReadableSink(Sink, Protocol):
    """A sink that also gives the dataset back."""

    def to_arrow(self) -> pa.Table:
        """Every row group held, in row-group order (an empty table when none)."""


@runtime_checkable
class ClaimableSink(Protocol):
    """A sink that is held for one run at a time."""

    def claim(self, run_id: str) -> AbstractContextManager[None]:
        """A context manager holding the sink's target for run ``run_id``.

        Raises:
            OutputDirError: another run holds it.
        """


@runtime_checkable
class LocatingSink(Protocol):
    """A sink that names where a file it wrote is."""

    def path_of(self, file: str) -> str:
        """The full path or URL of the file ``write`` named ``file``."""


@runtime_checkable
class EncodedPartSink(Protocol):
    """A sink that stores each row group as its table encoded in one format, which the
    checkpoint can do on the worker (``parts_of``)."""

    def part_format(self) -> str | None:
        """``"parquet"``: each part is ``to_parquet(result.table)``, the bytes of
        ``RowGroupResult.parquet`` when the checkpoint made them; None: none of these."""


def parts_of(sink: Sink) -> str | None:
    """The format the checkpoint encodes row groups in for ``sink`` (an
    ``EncodedPartSink``'s), else None: the sink encodes the table itself."""
    inner = unwrapped(sink)
    return inner.part_format() if isinstance(inner, EncodedPartSink) else None


@runtime_checkable
class UpdatableSink(Protocol):
    """A sink whose parts ``--update`` can read back and replace."""

    def read_part(self, row_group: int) -> pa.Table:
        """A written row group's table, with the columns it did not output beside.

        Raises:
            CheckpointError: the part cannot be read.
        """

    def replacing(self, row_groups: Iterable[int]) -> None:
        """Row groups an update is about to replace (called once, after ``open``)."""


def unwrapped(sink: Sink) -> Sink:
    """The sink a guarded sink wraps (``sink`` itself when it is not guarded): the one
    whose capabilities count."""
    return sink.inner if isinstance(sink, _Guarded) else sink


def read_back(sink: Sink) -> pa.Table:
    """The dataset a sink holds.

    Raises:
        TypeError: the sink is write-only (it has no ``to_arrow``).
    """
    inner = unwrapped(sink)
    if not isinstance(inner, ReadableSink):
        raise TypeError(
            f"{type(inner).__name__} is a write-only sink (it has no to_arrow()): read the "
            "dataset from where it wrote it"
        )
    return inner.to_arrow()


def guarded(sink: Sink) -> Sink:
    """``sink`` with its errors mapped to ``CheckpointError`` (``DagenError`` passes).

    Raises:
        TypeError: ``sink`` does not have the methods of ``Sink``.
    """
    if isinstance(sink, _Guarded):
        return sink
    if not isinstance(sink, Sink):
        missing = [m for m in _METHODS if not callable(getattr(sink, m, None))]
        raise TypeError(f"{type(sink).__name__} is not a Sink: it has no {', '.join(missing)}")
    return _Guarded(sink)


@contextlib.contextmanager
def opened(sink: Sink, *, overwrite: bool, resume: bool) -> Iterator[Sink]:
    """Open ``sink``, and close it however the block ends.

    A close that fails while the block raises is logged: the block's error is the one
    the user needs.
    """
    sink.open(overwrite=overwrite, resume=resume)
    try:
        yield sink
    except BaseException:
        try:
            sink.close()
        except Exception as exc:
            log.error("%s", exc)
        raise
    sink.close()


@contextlib.contextmanager
def claimed(sink: Sink, run_id: str) -> Iterator[Sink]:
    """``sink`` held for run ``run_id`` while the block runs, when it is a
    ``ClaimableSink``; as is otherwise.

    Raises:
        OutputDirError: another run holds the sink's target (from ``claim``).
    """
    inner = unwrapped(sink)
    if not isinstance(inner, ClaimableSink):
        yield sink
        return
    with inner.claim(run_id):
        yield sink


class _Guarded:
    """The boundary between the engine and a sink: foreign errors become dagen's.

    It forwards each capability of the sink it wraps (``claim`` through ``claimed``,
    ``to_arrow`` through ``read_back``); a call of one the sink lacks does what the
    engine does without it.
    """

    def __init__(self, inner: Sink) -> None:
        self.inner = inner

    def __str__(self) -> str:
        text = str(self.inner)
        return text if type(self.inner).__str__ is not object.__str__ else self._name

    @property
    def _name(self) -> str:
        return f"sink {type(self.inner).__name__}"

    @contextlib.contextmanager
    def _mapped(self, doing: str) -> Iterator[None]:
        try:
            yield
        except DagenError:
            raise
        except Exception as exc:
            raise CheckpointError(
                f"{doing}: {self._name} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def open(self, *, overwrite: bool = False, resume: bool = False) -> None:
        with self._mapped("opening the output"):
            self.inner.open(overwrite=overwrite, resume=resume)

    def read_metadata(self) -> dict[str, Any] | None:
        with self._mapped("reading the previous run's metadata"):
            return self.inner.read_metadata()

    def written_row_groups(self) -> set[int]:
        with self._mapped("listing the row groups written"):
            return set(self.inner.written_row_groups())

    def write(self, result: RowGroupResult) -> str | Mapping[str, Any] | None:
        with self._mapped(f"row group {result.row_group}"):
            return self.inner.write(result)

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        with self._mapped("writing the run's metadata"):
            self.inner.write_metadata(metadata)

    def path_of(self, file: str) -> str:
        """The full path or URL of a file ``write`` returned (``file`` when the sink does
        not say)."""
        if not isinstance(self.inner, LocatingSink):
            return file
        with self._mapped(f"locating {file}"):
            return str(self.inner.path_of(file))

    def remove(self, row_group: int) -> None:
        with self._mapped(f"removing row group {row_group}"):
            self.inner.remove(row_group)

    def read_part(self, row_group: int) -> pa.Table:
        """A written row group's table with its removed columns (``UpdatableSink``).

        Raises:
            CheckpointError: the sink cannot give parts back, or failed to.
        """
        if not isinstance(self.inner, UpdatableSink):
            raise CheckpointError(f"reading row group {row_group}: {self._name} cannot read parts")
        with self._mapped(f"reading row group {row_group}"):
            return self.inner.read_part(row_group)

    def replacing(self, row_groups: Iterable[int]) -> None:
        """Tell the sink which parts an update replaces (nothing for a sink that is not
        an ``UpdatableSink``)."""
        if isinstance(self.inner, UpdatableSink):
            with self._mapped("planning the update"):
                self.inner.replacing(row_groups)

    def close(self) -> None:
        with self._mapped("closing the output"):
            self.inner.close()
