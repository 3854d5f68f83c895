"""Assembling a finished row group: blocks -> surviving rows -> processors -> Arrow table.

Runs inside the row group's checkpoint task on a worker, so the client receives one
Arrow table per row group instead of every cell. A row survives when every column has a
value for it; the first failure in declaration order is the row's recorded drop reason.
Post-batch processors then run on the DataFrame (a ``filter`` drops rows there, recorded
like any dropped row), columns marked ``drop`` are removed, and
the result is converted to Arrow (values Arrow cannot hold fail here, on the worker,
naming the row group). Processors' side datasets and the removed columns (``drop: true``
and ``drop_columns`` alike, as Data Designer keeps them) travel in ``RowGroupResult.side``,
folder -> table. The format is the sink's business (``dagen.sinks.base``); for a sink that
stores parquet parts (``EncodedPartSink``) the checkpoint also encodes the table as its
part (``RowGroupResult.parquet``), on the worker, so the client only writes the bytes. A
step that changes the table after that (``with_table``) drops them.

Example:
    >>> blocks = {"a": ColumnBlock(pd.DataFrame({"a": [1, 2]}, index=[0, 1]))}
    >>> spec = AssemblySpec(columns=("a",), outputs={"a": ("a",)})
    >>> assemble_row_group(blocks, spec, row_group=0, size=2).rows
    2
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dagen.errors import CheckpointError
from dagen.generators.base import CellFailure, ColumnBlock
from dagen.sinks.processors import DROPPED_COLUMNS_DIR, Processor

__all__ = [
    "AssemblySpec",
    "RowGroupResult",
    "assemble_row_group",
    "concat_row_groups",
    "encoded",
    "head",
    "to_parquet",
]


@dataclass(frozen=True)
class AssemblySpec:
    """What the output of every row group looks like.

    Attributes:
        columns: generator columns in declaration order.
        outputs: per column, its output columns (itself then its side effects).
        dropped_columns: columns (``drop: true``) removed before writing.
        processors: post-batch processors, run in order.
        arrow_types: output column -> the Arrow type its generator fixes (so that every
            row group has the same schema, even when, say, all its lists are empty).
        images: the image columns (their values are base64 images, ``dagen.sinks.images``).
        part_format: ``"parquet"``: the checkpoint encodes the table as its parquet part
            (the sink is an ``EncodedPartSink``); None: the sink encodes it.
    """

    columns: tuple[str, ...]
    outputs: Mapping[str, tuple[str, ...]]
    dropped_columns: frozenset[str] = frozenset()
    processors: tuple[Processor, ...] = ()
    arrow_types: Mapping[str, pa.DataType] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    part_format: str | None = None


@dataclass(frozen=True)
class RowGroupResult:
    """A finished row group, ready for a sink.

    Attributes:
        row_group: the row group index.
        size: rows the row group was asked for.
        rows: rows that survived.
        table: the surviving rows, in row order.
        dropped: {row position: failure} of the rows that did not survive.
        counts: per output column, rows with a non-null value.
        side: side datasets of this row group, folder (relative to the output) -> table
            (the dropped columns, processors' outputs), same rows as ``table``.
        usage: the model calls made for it (its rows dropped or not), column -> model
            alias -> ``{"calls", "prompt_tokens", "completion_tokens"}``; only columns
            that called a model (``dagen.sinks.ledger`` prices it).
        images: the image columns of ``table`` and ``side`` (``dagen.sinks.images``).
        parquet: ``table`` as its parquet part (``to_parquet``), when the checkpoint
            encoded it; None otherwise, and once the table is changed (``with_table``).
    """

    row_group: int
    size: int
    rows: int
    table: pa.Table
    dropped: Mapping[int, CellFailure] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    side: Mapping[str, pa.Table] = field(default_factory=dict)
    usage: Mapping[str, Mapping[str, Mapping[str, int]]] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    parquet: bytes | None = None

    def with_table(self, table: pa.Table, **changes: Any) -> RowGroupResult:
        """This row group with ``table`` (and ``changes``): its encoding kept only while
        the table is the same object."""
        kept = self.parquet if table is self.table else None
        return dataclasses.replace(self, table=table, parquet=kept, **changes)

    def part(self) -> bytes:
        """``table`` as its parquet part: the checkpoint's encoding, or made now.

        Raises:
            CheckpointError: a value parquet cannot store, naming the row group.
        """
        return self.parquet if self.parquet is not None else to_parquet(self.table, self.row_group)


def to_parquet(table: pa.Table, row_group: int) -> bytes:
    """``table`` as the bytes of a parquet file (zstd), as parts are stored.

    Raises:
        CheckpointError: a value parquet cannot store, naming the row group.
    """
    buffer = io.BytesIO()
    try:
        pq.write_table(table, buffer, compression="zstd")
    except pa.ArrowException as exc:
        raise CheckpointError(
            f"row group {row_group}: values cannot be stored in parquet: {exc}"
        ) from exc
    return buffer.getvalue()


def concat_row_groups(tables: list[pa.Table]) -> pa.Table:
    """Row groups as one table (columns a row group lacks are nulls there)."""
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def encoded(result: RowGroupResult, part_format: str | None) -> RowGroupResult:
    """``result`` with its table encoded as ``part_format`` (the checkpoint's last step,
    on the worker); as it is when there is no format or no row, or when the values
    cannot be encoded (the sink then raises, naming the row group and file)."""
    if part_format != "parquet" or not result.rows:
        return result
    try:
        return dataclasses.replace(result, parquet=to_parquet(result.table, result.row_group))
    except CheckpointError:
        return result


def assemble_row_group(
    blocks: Mapping[str, ColumnBlock], spec: AssemblySpec, *, row_group: int, size: int
) -> RowGroupResult:
    """Join a row group's column blocks into an Arrow table (see the module docstring).

    Raises:
        CheckpointError: a value Arrow cannot store, naming the row group.
    """
    dropped: dict[int, CellFailure] = {}
    for col in spec.columns:
        for row, failure in blocks[col].failures.items():
            dropped.setdefault(row, failure)
    alive = pd.RangeIndex(size)
    for col in spec.columns:
        alive = alive.intersection(blocks[col].frame.index)
    for row in set(range(size)) - set(alive) - set(dropped):  # pragma: no cover - invariant
        dropped[row] = CellFailure("?", row_group, row, "MissingValue", "row has no value")
    frame = pd.concat(
        [_aligned(blocks[col].frame, alive, list(spec.outputs[col])) for col in spec.columns],
        axis=1,
    )
    side: dict[str, list[pd.DataFrame]] = {}  # folder -> frames, joined by column
    for processor in spec.processors:
        removed_rows = processor.drops(frame, row_group=row_group)
        if removed_rows:
            dropped.update(removed_rows)
            frame = frame.drop(index=list(removed_rows))
        made = processor.side_dataset(frame, row_group=row_group)
        if made is not None:
            side.setdefault(made[0], []).append(made[1])
        frame = processor.process(frame, row_group=row_group)
    removed = [c for c in frame.columns if c in spec.dropped_columns]
    if removed:
        side.setdefault(DROPPED_COLUMNS_DIR, []).append(frame[removed])
        frame = frame.drop(columns=removed)
    return RowGroupResult(
        row_group=row_group,
        size=size,
        rows=len(frame),
        table=_to_arrow(frame, row_group, spec.arrow_types),
        dropped=dropped,
        counts={str(c): int(n) for c, n in frame.notna().sum().items()},
        side={  # the rows a later processor dropped leave the side datasets too
            folder: _to_arrow(
                pd.concat(frames, axis=1, join="inner").loc[frame.index],
                row_group,
                spec.arrow_types,
            )
            for folder, frames in side.items()
        },
        usage={
            col: {
                alias: {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion}
                for alias, (calls, prompt, completion) in blocks[col].usage.items()
            }
            for col in spec.columns
            if blocks[col].usage
        },
        images=spec.images,
    )


def head(result: RowGroupResult, rows: int) -> RowGroupResult:
    """The row group cut after its first ``rows`` surviving rows (an ``--exact`` run's
    last): it ends at the row holding the last kept one, so its drops after that are
    forgotten (they were never part of the dataset) and ``size`` = rows + dropped. Its
    usage is cut in proportion (calls and tokens of ``size`` of its rows, rounded down):
    what its rows past the cut were paid is not in its record, so the run counts it as
    discarded.

    Example:
        >>> table = pa.table({"a": [1, 2, 3]})
        >>> fail = CellFailure("f", 0, 1, "filtered", "no")
        >>> cut = head(RowGroupResult(0, 5, 3, table, {1: fail}, {"a": 3}), 2)
        >>> cut.size, cut.rows, cut.table["a"].to_pylist(), list(cut.dropped), cut.counts
        (3, 2, [1, 2], [1], {'a': 2})
    """
    if not 0 <= rows < result.rows:
        raise ValueError(f"row group {result.row_group}: cannot cut {result.rows} rows to {rows}")
    kept = 0
    size = 0
    while kept < rows:  # the position after the rows-th surviving row
        kept += size not in result.dropped
        size += 1
    table = result.table.slice(0, rows)
    share = {  # the calls of the rows kept, pro rata: the rest is paid, not in the dataset
        column: {
            alias: {name: n * size // result.size for name, n in counts.items()}
            for alias, counts in models.items()
        }
        for column, models in result.usage.items()
    }
    return RowGroupResult(
        row_group=result.row_group,
        size=size,
        rows=rows,
        table=table,
        dropped={r: f for r, f in result.dropped.items() if r < size},
        counts={c: rows - table.column(c).null_count for c in table.column_names},
        side={folder: t.slice(0, rows) for folder, t in result.side.items()},
        usage=share,
        images=result.images,
    )


_THREADED_ROWS = 100_000  # fewer rows convert faster in one thread than through a pool


def _aligned(frame: pd.DataFrame, rows: pd.Index, columns: list[str]) -> pd.DataFrame:
    """A block's ``columns`` at ``rows``, in that order (the block itself when it is so
    already, as a block of a row group without drops is: no copy before the join)."""
    if not frame.index.equals(rows):
        frame = frame.reindex(rows)
    return frame if list(frame.columns) == columns else frame[columns]


def _to_arrow(frame: pd.DataFrame, row_group: int, types: Mapping[str, pa.DataType]) -> pa.Table:
    try:
        threads = 1 if len(frame) < _THREADED_ROWS else None
        table = pa.Table.from_pandas(
            frame.reset_index(drop=True), preserve_index=False, nthreads=threads
        )
        for name, kind in types.items():
            if name in table.column_names:
                column = pa.array(frame[name].tolist(), type=kind)
                table = table.set_column(table.column_names.index(name), name, column)
        return table
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise CheckpointError(
            f"row group {row_group}: values cannot be stored as Arrow: {exc}"
        ) from exc
