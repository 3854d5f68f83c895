"""Per-column statistics of a written dataset, computed part by part and combined.

Policy: a dataset may not fit in memory, so statistics are built from one column of one
part at a time, in two passes over the parts. The first counts rows and nulls, keeps the
distinct values (as hashes, up to ``DISTINCT_LIMIT``; beyond it the count is "more than"),
the value counts of columns with few values (up to ``CATEGORY_LIMIT``), and the range of
what is measured: numbers, text lengths in characters, list lengths in items. The second
counts the measured values into ``BINS`` equal bins over that range. A struct column is
described by its own nulls and then field by field (``customer.age``); a field of a null
struct is null.

State: one ``FieldStats`` per column and per field of a struct, in schema order.

Example:
    >>> stats = DatasetStats.from_parts(
    ...     pa.schema([("n", pa.int64())]),
    ...     [("n", pa.array([1, 2, None])), ("n", pa.array([2, 40]))],
    ... )
    >>> n = stats.fields["n"]
    >>> n.rows, n.nulls, n.distinct, n.low, n.high
    (5, 1, 3, 1.0, 40.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["BINS", "CATEGORY_LIMIT", "DISTINCT_LIMIT", "DatasetStats", "FieldStats", "kind_of"]

DISTINCT_LIMIT = 10_000  # distinct values counted exactly up to this many
CATEGORY_LIMIT = 30  # value counts kept (shown as bars) up to this many distinct values
BINS = 20  # bins of a histogram


def kind_of(dtype: pa.DataType) -> str:
    """How a type is described: number, text, bool, list, struct or other."""
    if pa.types.is_dictionary(dtype):
        return kind_of(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    if (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    ):
        return "list"
    if pa.types.is_struct(dtype):
        return "struct"
    return "other"


@dataclass
class FieldStats:
    """The statistics of one column, or of one field of a struct column.

    Attributes:
        path: ``column`` or ``column.field.subfield``.
        kind: see ``kind_of``.
        type: the Arrow type, as text.
        rows: values seen (rows of the dataset).
        nulls: null values.
        counts: value -> rows, while the field has at most ``CATEGORY_LIMIT`` values.
        low, high: the range of the measured values (numbers, text or list lengths).
        total: their sum (for the mean).
        measured: how many were measured (non-null, finite).
        non_finite: NaN and infinite numbers (not measured).
        edges, bins: the histogram, ``len(edges) == len(bins) + 1``.
    """

    path: str
    kind: str
    type: str
    rows: int = 0
    nulls: int = 0
    counts: Counter[Any] | None = field(default_factory=Counter)
    low: float | None = None
    high: float | None = None
    total: float = 0.0
    measured: int = 0
    non_finite: int = 0
    edges: list[float] = field(default_factory=list)
    bins: list[int] = field(default_factory=list)
    counted: bool = True  # False where distinct values are not counted (lists, structs, maps)
    _hashes: set[int] | None = field(default_factory=set, repr=False)

    @property
    def depth(self) -> int:
        """0 for a column, 1 for its fields, and so on."""
        return self.path.count(".")

    @property
    def distinct(self) -> int | None:
        """Distinct non-null values; None when over ``DISTINCT_LIMIT`` or not ``counted``."""
        return None if self._hashes is None else len(self._hashes)

    @property
    def mean(self) -> float | None:
        return self.total / self.measured if self.measured else None

    @property
    def integral(self) -> bool:
        """Whether the measured values are whole numbers (lengths, integer columns)."""
        return self.kind in ("text", "list") or "int" in self.type

    def first_pass(self, values: pa.Array) -> None:
        """Count rows, nulls, distinct values and categories, and widen the range."""
        self.rows += len(values)
        self.nulls += values.null_count
        if self.kind == "struct":
            return
        present = pc.drop_null(values)
        if self._hashes is not None or self.counts is not None:
            try:
                self._count(pc.unique(present))
                self._categories(present)
            except pa.ArrowNotImplementedError:  # a type Arrow cannot compare (maps, unions)
                self._hashes = self.counts = None
                self.counted = False
        measured = self._measure(present)
        if self.kind == "number" and measured is not None:
            self.non_finite += len(present) - len(measured)
        if measured is not None and len(measured):
            self.low = min(float(measured.min()), self.low if self.low is not None else math.inf)
            self.high = max(
                float(measured.max()), self.high if self.high is not None else -math.inf
            )
            self.total += float(measured.sum())
            self.measured += len(measured)

    def second_pass(self, values: pa.Array) -> None:
        """Count the measured values into the bins over the range of the first pass."""
        if self.low is None or self.high is None:
            return
        if not self.edges:
            self.edges = _edges(self.low, self.high, integral=self.integral)
            self.bins = [0] * (len(self.edges) - 1)
        measured = self._measure(pc.drop_null(values))
        if measured is None or not len(measured):
            return
        counts, _ = np.histogram(measured, bins=np.asarray(self.edges))
        self.bins = [a + int(b) for a, b in zip(self.bins, counts, strict=True)]

    def _count(self, unique: pa.Array) -> None:
        if self._hashes is None:
            return
        self._hashes.update(hash(_hashable(v)) for v in unique.to_pylist())
        if len(self._hashes) > DISTINCT_LIMIT:
            self._hashes = None

    def _categories(self, present: pa.Array) -> None:
        if self.counts is None:
            return
        if self._hashes is None or len(self._hashes) > CATEGORY_LIMIT:
            self.counts = None
            return
        for entry in pc.value_counts(present).to_pylist():
            self.counts[_hashable(entry["values"])] += int(entry["counts"])

    def _measure(self, present: pa.Array) -> np.ndarray | None:
        if self.kind == "text":
            return np.asarray(pc.utf8_length(present).to_numpy(zero_copy_only=False), dtype=float)
        if self.kind == "list":
            return np.asarray(pc.list_value_length(present).to_numpy(zero_copy_only=False), float)
        if self.kind == "number":
            numbers = np.asarray(present.cast(pa.float64()).to_numpy(zero_copy_only=False), float)
            return numbers[np.isfinite(numbers)]
        return None

    def to_dict(self) -> dict[str, Any]:
        """The statistics as JSON-able values."""
        return {
            "path": self.path,
            "kind": self.kind,
            "type": self.type,
            "rows": self.rows,
            "nulls": self.nulls,
            "distinct": self.distinct,
            "counts": None
            if self.counts is None
            else [[k, n] for k, n in self.counts.most_common()],
            "low": self.low,
            "high": self.high,
            "mean": self.mean,
            "non_finite": self.non_finite,
            "edges": self.edges,
            "bins": self.bins,
        }


@dataclass
class DatasetStats:
    """``FieldStats`` of every column and struct field of a dataset, in schema order."""

    fields: dict[str, FieldStats]

    @classmethod
    def from_parts(
        cls,
        schema: pa.Schema,
        columns: Iterable[tuple[str, pa.Array]] | Callable[[], Iterable[tuple[str, pa.Array]]],
    ) -> DatasetStats:
        """Statistics of the columns ``columns`` hands out, one part's column at a time.

        Args:
            schema: the dataset's schema (the union of its parts').
            columns: ``(column, values)`` pairs, or a function returning a fresh iterable of
                them (called twice: once per pass). A plain iterable is kept in memory.
        """
        if callable(columns):
            source = columns
        else:
            kept = list(columns)

            def source() -> Iterable[tuple[str, pa.Array]]:
                return kept

        fields = {s.path: s for f in schema for s in _described(f.name, f.type)}
        for name, values in source():
            for path, leaf in _leaves(name, values):
                fields[path].first_pass(leaf)
        for name, values in source():
            for path, leaf in _leaves(name, values):
                if fields[path].kind in ("number", "text", "list"):
                    fields[path].second_pass(leaf)
        return cls(fields)

    def columns(self) -> list[FieldStats]:
        """The statistics of the top-level columns."""
        return [s for s in self.fields.values() if s.depth == 0]

    def under(self, column: str) -> list[FieldStats]:
        """The statistics of a struct column's fields, depth first."""
        return [s for s in self.fields.values() if s.path.startswith(column + ".")]


def _described(path: str, dtype: pa.DataType) -> Iterator[FieldStats]:
    stats = FieldStats(path=path, kind=kind_of(dtype), type=str(dtype))
    if stats.kind in ("list", "struct"):  # described by lengths, or field by field
        stats.counts = stats._hashes = None
        stats.counted = False
    yield stats
    if pa.types.is_struct(dtype):
        for i in range(dtype.num_fields):
            child = dtype.field(i)
            yield from _described(f"{path}.{child.name}", child.type)


def _leaves(path: str, values: pa.Array) -> Iterator[tuple[str, pa.Array]]:
    """The column and, for a struct, each of its fields (nulls of the struct propagated)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.DictionaryArray):
        values = values.dictionary_decode()
    yield path, values
    if isinstance(values, pa.StructArray):
        for child, child_values in zip(values.type, values.flatten(), strict=True):
            yield from _leaves(f"{path}.{child.name}", child_values)


def _edges(low: float, high: float, *, integral: bool) -> list[float]:
    """``BINS`` equal bins over [low, high]; whole-number bins for whole numbers."""
    if integral:
        width = max(1, math.ceil((high - low + 1) / BINS))
        count = max(1, math.ceil((high - low + 1) / width))
        return [low + i * width for i in range(count + 1)]
    if high == low:
        return [low - 0.5, high + 0.5]
    return [float(x) for x in np.linspace(low, high, BINS + 1)]


def _hashable(value: Any) -> Any:
    """A value as something hashable that equal values share (dicts and lists as tuples)."""
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
