"""Every row group of a dataset has the same column types, fixed once and kept.

Without this, each row group's Arrow types are whatever pandas made of its values: a
column that is null in every row of one row group becomes type ``null`` there and
``int64`` elsewhere, and readers that take the schema from the first part
(``pandas.read_parquet(folder)``) fail on the others. So each output column gets one type:

    declared    from the config, before anything runs: an expression's ``dtype``, a
                sampler's ``convert_to``, the text of ``llm-text`` and ``llm-code``
    learned     otherwise from the first row group with a non-null value in it
    kept        recorded in the run's metadata (``schema``) and restored on ``--resume``

Each row group is then cast to those types before the sink sees it: a column of nulls
takes the column's type; a value that cannot (``"n/a"`` in an ``int64`` column, ``1.5``
where every earlier value was an integer) is a ``CheckpointError`` naming the column and
the row. A column still null everywhere keeps type ``null`` until a value shows its type;
nested values (structs, lists) may gain fields as later rows show them. A sink that keeps
files mends parts written before a type was known or grew (``ParquetSink`` does).

Example:
    >>> types = ColumnTypes({"n": pa.int64()})
    >>> table = pa.table({"n": pa.array([None, None]), "s": ["a", None]})
    >>> types.conform(table, row_group=0).schema.types
    [DataType(int64), DataType(string)]
    >>> types.to_dict()["columns"]
    {'n': 'int64', 's': 'string'}
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from dagen.config.dataset import DatasetConfig
from dagen.errors import CheckpointError, ResumeError

__all__ = ["ColumnTypes", "declared_types"]

_DTYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
_TEXT_COLUMNS = ("llm-text", "llm-code")


def declared_types(config: DatasetConfig) -> dict[str, pa.DataType]:
    """The output columns whose type the config states (see the module docstring)."""
    found: dict[str, pa.DataType] = {}
    for column in config.columns:
        dtype = getattr(column, "dtype", None) or getattr(column, "convert_to", None)
        if isinstance(dtype, str) and dtype in _DTYPES:
            found[column.name] = _DTYPES[dtype]
        elif column.column_type in _TEXT_COLUMNS:
            found[column.name] = pa.string()
    return found


class ColumnTypes:
    """Each output column's Arrow type (see the module docstring).

    Args:
        declared: types the config states.
        recorded: the ``schema`` section of a resumed run's metadata.

    Raises:
        ResumeError: ``recorded`` holds a schema that cannot be read.
    """

    def __init__(
        self,
        declared: Mapping[str, pa.DataType] | None = None,
        recorded: Mapping[str, Any] | None = None,
    ) -> None:
        self.types: dict[str, pa.DataType] = dict(declared or {})  # column -> its type
        if isinstance(recorded, Mapping) and recorded.get("arrow"):
            try:
                schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(recorded["arrow"])))
            except (ValueError, TypeError, pa.ArrowException) as exc:
                raise ResumeError(
                    f"the run metadata's schema.arrow cannot be read ({exc}); restore the "
                    "metadata, or start again with --overwrite (overwrite=True)"
                ) from exc
            self.types.update(zip(schema.names, schema.types, strict=True))

    def conform(
        self, table: pa.Table, *, row_group: int, rows: Sequence[int] | None = None
    ) -> pa.Table:
        """``table`` with every column of its column's type, learning unknown types:
        ``table`` itself when every column has its type already (its encoding stays valid).

        Args:
            table: a row group's surviving rows.
            row_group: its index (for errors).
            rows: each table row's position in the row group (for errors; default the
                table's own positions).

        Raises:
            CheckpointError: a value cannot take its column's type (column and row named).
        """
        found = table.columns
        columns = [
            self._conform_column(name, column, row_group, rows)
            for name, column in zip(table.column_names, found, strict=True)
        ]
        if all(new is old for new, old in zip(columns, found, strict=True)):
            return table
        return pa.Table.from_arrays(columns, names=table.column_names)

    def _conform_column(
        self, name: str, column: pa.ChunkedArray, row_group: int, rows: Sequence[int] | None
    ) -> pa.ChunkedArray:
        known = self.types.get(name)
        if column.null_count == len(column):  # nothing to learn from: the column's type
            target = known or pa.null()
            if column.type == target:
                return column
            return pa.chunked_array([pa.nulls(len(column), target)], type=target)
        if known is None:
            self.types[name] = column.type
            return column
        if column.type == known:
            return column
        if _nested(known) or _nested(column.type):
            known = self._widen(name, known, column.type)
        try:
            return column.cast(known)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise _bad_value(name, column, known, row_group, rows) from None

    def _widen(self, name: str, known: pa.DataType, found: pa.DataType) -> pa.DataType:
        """A nested type grown by the fields ``found`` adds (structs gain optional keys)."""
        try:
            unified = (
                pa.unify_schemas(
                    [pa.schema([(name, known)]), pa.schema([(name, found)])],
                    promote_options="permissive",
                )
                .field(name)
                .type
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return known
        self.types[name] = unified
        return unified

    def to_dict(self) -> dict[str, Any]:
        """The ``schema`` section of the metadata: readable types, and the exact schema."""
        schema = pa.schema(list(self.types.items()))
        return {
            "columns": {name: str(t) for name, t in self.types.items()},
            "arrow": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        }


def _nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t)


def _bad_value(
    name: str,
    column: pa.ChunkedArray,
    known: pa.DataType,
    row_group: int,
    rows: Sequence[int] | None,
) -> CheckpointError:
    """The error naming the first value of ``column`` that cannot take type ``known``."""
    for index, value in enumerate(column.to_pylist()):
        try:
            pa.array([value], type=column.type).cast(known)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            row = rows[index] if rows is not None else index
            return CheckpointError(
                f"row group {row_group}, row {row}: column {name!r} holds {value!r} "
                f"({column.type}), which cannot be stored as {known}, the column's type "
                "(declared in the config or set by its first values); return values of "
                "one type, or set the column's dtype/convert_to"
            )
    return CheckpointError(  # pragma: no cover - the cast failed as a whole only
        f"row group {row_group}: column {name!r} ({column.type}) cannot be stored as {known}"
    )
