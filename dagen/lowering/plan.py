"""Lowering: one row group of the column graph becomes a Dask task graph.

For each admitted row group, the lowering emits:

    cell-by-cell column  one task per chunk of ``cells_per_task`` rows     (col, run, rg, first_row)
                         + one collector gathering the chunks              (col.rows, run, rg)
    full-column column   one task per row group                            (col, run, rg)
    fused columns        the full-column columns that read only each other (``fusable``:
                         sync, stateless, no model), when two or more: one task per row
                         group running them in order                       (a+b+c, run, rg)
    the row group        one checkpoint task assembling every column       (row_group, run, rg)
    a loaded column      one task handing over its values read from an     (col, run, rg)
                         output being updated (``--update``)

With ``cells_per_task=1`` a cell-by-cell column is one Dask task per (column, row): true
cell granularity. Dependencies follow the column graph exactly:

    cell  <- cell upstream    the upstream chunks covering the same rows (its collector
                              when the cell task covers the whole row group)
    cell  <- batch upstream   the upstream's row-group task
    batch <- cell upstream    the upstream's collector (all its rows)
    batch <- batch upstream   the upstream's row-group task

Fusing matters when there is no model to wait for: Dask's scheduler costs about a
millisecond of CPU per task, so 100,000 sampler-only rows in six columns generated in
2.6 s in seven tasks per row group, and in 1.9 s fused into two (bench/RESULTS.md). A fused task's result
holds each column's block (``FusedBlocks``); its readers take the blocks from it.

Keys are tuples whose first element is the column's slug, so the Dask dashboard's task
stream, progress and groups pages show one colour per column, in the user's own names
(a fused task's slug joins its columns' slugs with ``+``).
The run token in second place keeps keys of different runs apart (LLM cells are never
"pure": the same prompt must be sent again in another run).

Example:
    >>> g = ColumnGraph.from_edges({"a": [], "b": ["a"]})
    >>> plan = RowGroupPlan.build(g, RowGroup(0, 0, 2), run="r1", cells_per_task=1)
    >>> [t.key for t in plan.tasks][:3]
    [('a', 'r1', 0, 0), ('a', 'r1', 0, 1), ('a.rows', 'r1', 0)]
    >>> plan.tasks[3].key, plan.tasks[3].dependencies
    (('b', 'r1', 0, 0), (('a', 'r1', 0, 0),))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal, overload

from dask.utils import key_split

from dagen.graph import ColumnGraph

__all__ = [
    "AUTO_ASYNC_CELLS_PER_TASK",
    "CHECKPOINT",
    "Key",
    "RowGroup",
    "RowGroupPlan",
    "RowGroups",
    "TaskRef",
    "chunk_sizes",
    "column_slugs",
    "fused_columns",
    "row_groups",
]

Key = tuple[str | int, ...]
TaskKind = Literal["cell", "collect", "batch", "batches", "checkpoint", "load"]
FUSED_SLUG_LENGTH = 60  # characters of a fused task's slug before the rest is counted
CHECKPOINT = "row_group"


@dataclass(frozen=True, slots=True)
class RowGroup:
    """A slice of the dataset: row group ``index`` holds global rows [start, start + size)."""

    index: int
    start: int
    size: int


@dataclass(frozen=True)
class RowGroups(Sequence[RowGroup]):
    """The row groups of a run, each made when it is asked for: any number of rows costs
    the same to plan (``-n 10**12`` starts at once, in flat memory).

    ``head`` row groups come first (a resumed run's gaps between kept ones), then regular
    ones of ``row_group_size`` rows: index ``first`` at row ``start``, up to ``num_records``.

    Example:
        >>> groups = RowGroups(10**12, 1000)
        >>> len(groups), groups[-1]
        (1000000000, RowGroup(index=999999999, start=999999999000, size=1000))
    """

    num_records: int
    row_group_size: int
    first: int = 0
    start: int = 0
    head: tuple[RowGroup, ...] = ()

    def __len__(self) -> int:
        return len(self.head) + max(0, -(-(self.num_records - self.start) // self.row_group_size))

    @property
    def rows(self) -> int:
        """Rows the row groups hold, all together (computed, not counted)."""
        return sum(g.size for g in self.head) + max(0, self.num_records - self.start)

    @overload
    def __getitem__(self, i: int) -> RowGroup: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[RowGroup]: ...

    def __getitem__(self, i: int | slice) -> RowGroup | Sequence[RowGroup]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"row group {i} of {len(self)}")
        if i < len(self.head):
            return self.head[i]
        k = i - len(self.head)
        start = self.start + k * self.row_group_size
        return RowGroup(self.first + k, start, min(self.row_group_size, self.num_records - start))

    def __iter__(self) -> Iterator[RowGroup]:
        yield from self.head
        index, start = self.first, self.start
        while start < self.num_records:
            yield RowGroup(index, start, min(self.row_group_size, self.num_records - start))
            index, start = index + 1, start + self.row_group_size


def row_groups(num_records: int, row_group_size: int, first: int = 0) -> RowGroups:
    """The row groups of a dataset of ``num_records`` rows, from row group ``first`` on."""
    return RowGroups(num_records, row_group_size, first, first * row_group_size)


def column_slugs(columns: tuple[str, ...]) -> dict[str, str]:
    """A key prefix per column: unique, ``-``-free (Dask groups keys by ``key_split``)."""
    slugs: dict[str, str] = {}
    taken = {CHECKPOINT}
    for col in columns:
        slug = re.sub(r"[^0-9A-Za-z_.]", "_", col) or "column"
        # dask must group the keys under the slug itself: it shows "_id" as "id", "_" as
        # "Other" and 32 hex digits as "data"; a leading letter avoids that
        while slug in taken or slug.endswith(".rows") or key_split(slug) != slug:
            slug = slug + "_" if key_split(slug) == slug else "c" + slug
        taken.update({slug, slug + ".rows"})
        slugs[col] = slug
    return slugs


AUTO_ASYNC_CELLS_PER_TASK = 20


def chunk_sizes(
    graph: ColumnGraph,
    row_group_size: int,
    cells_per_task: int | None,
    async_columns: Set[str],
    model_shares: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Rows per Dask task of each cell-by-cell column.

    Args:
        graph: the column graph.
        row_group_size: rows per row group.
        cells_per_task: a number for every column (1: one task per cell), or None for the
            measured default (see docs/architecture.md). A column that fixes its own rows
            per task (``graph.rows_per_task``: a validator's ``batch_size``) keeps them.
            The default:
            - model columns: the largest divisor of the smallest per-worker share of the
              model's cap that is at most half of it and at most
              ``AUTO_ASYNC_CELLS_PER_TASK``, so that whole tasks tile each worker's share
              (a task takes one resource unit per cell) and two overlap;
            - other async columns: ``AUTO_ASYNC_CELLS_PER_TASK``;
            - sync columns: the whole row group (their cells run one after another anyway).
        async_columns: the columns whose generators are async.
        model_shares: model column -> smallest positive per-worker share of its model's cap.
    """
    model_shares = model_shares or {}
    sizes = {}
    for col in graph.columns:
        if col in graph.rows_per_task:
            sizes[col] = graph.rows_per_task[col]
        elif cells_per_task is not None:
            sizes[col] = cells_per_task
        elif col in model_shares:
            limit = min(AUTO_ASYNC_CELLS_PER_TASK, max(1, model_shares[col] // 2))
            sizes[col] = max(d for d in range(1, limit + 1) if model_shares[col] % d == 0)
        elif col in async_columns:
            sizes[col] = AUTO_ASYNC_CELLS_PER_TASK
        else:
            sizes[col] = row_group_size
        sizes[col] = min(sizes[col], row_group_size)
    return sizes


def _per_column(graph: ColumnGraph, cells_per_task: int | Mapping[str, int]) -> Mapping[str, int]:
    if isinstance(cells_per_task, int):
        return dict.fromkeys(graph.columns, cells_per_task)
    return cells_per_task


def _covering(chunks: dict[int, Key], k: int, first: int, size: int) -> tuple[Key, ...]:
    """Keys of the chunks of ``k`` rows covering rows [first, first + size)."""
    return tuple(chunks[f] for f in range(first - first % k, first + size, k))


@dataclass(frozen=True, slots=True)
class TaskRef:
    """One Dask task of a row group, in domain coordinates.

    Attributes:
        kind: cell (a chunk of rows of a cell-by-cell column), collect, batch, batches
            (fused full-column columns), checkpoint, load (a column's values read back
            from the output an update replaces).
        column: the column (the first of fused columns; None for the checkpoint).
        row_group: the row group index.
        first_row: first row (within the row group) of a cell chunk, else None.
        rows: rows the task covers (cell chunk: chunk size; batch/collect: row group size).
        key: the Dask key.
        dependencies: keys of the tasks whose results this task reads, in argument order.
        after: key of a task that must finish first without being read (a stateful
            column's previous row group).
        columns: the columns a task produces values of, in order (fused columns: each).
    """

    kind: TaskKind
    column: str | None
    row_group: int
    first_row: int | None
    rows: int
    key: Key
    dependencies: tuple[Key, ...] = field(default=())
    after: Key | None = None
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowGroupPlan:
    """Every task of one row group, in topological order (checkpoint last).

    Attributes:
        row_group: the row group.
        tasks: the tasks, dependencies before dependents.
        block_keys: per column, the key whose result is the column's ``ColumnBlock``.
        checkpoint: the checkpoint task.
    """

    row_group: RowGroup
    tasks: tuple[TaskRef, ...]
    block_keys: dict[str, Key]
    checkpoint: TaskRef

    @classmethod
    def build(
        cls,
        graph: ColumnGraph,
        row_group: RowGroup,
        *,
        run: str,
        cells_per_task: int | Mapping[str, int],
        slugs: Mapping[str, str] | None = None,
        previous: int | None = None,
        loaded: Set[str] = frozenset(),
        fusable: Set[str] = frozenset(),
    ) -> RowGroupPlan:
        """Lower the column graph for one row group (see the module docstring).

        Args:
            graph: the column graph.
            row_group: the row group to lower.
            run: the run token put in every key.
            cells_per_task: rows per task of cell-by-cell columns, one number for all or
                one per column (see ``chunk_sizes``).
            slugs: key prefixes per column (computed when not given).
            previous: the row group whose stateful tasks must finish before this one's.
            loaded: columns whose values an update reads from its output: one load task
                each, read as a whole block by the columns downstream.
            fusable: full-column columns that may share one task (see the module
                docstring); those reading only each other do, when two or more.
        """
        slugs = slugs or column_slugs(graph.columns)
        rg = row_group.index
        per_task = _per_column(graph, cells_per_task)
        tasks: list[TaskRef] = []
        block: dict[str, Key] = {}  # column -> key of its ColumnBlock
        cell: dict[str, dict[int, Key]] = {}  # cell column -> first row -> chunk key
        key: Key
        fused = fused_columns(graph, fusable - loaded)
        if fused:
            key = (_fused_slug([slugs[c] for c in fused]), run, rg)
            tasks.append(TaskRef("batches", fused[0], rg, None, row_group.size, key, columns=fused))
            block.update(dict.fromkeys(fused, key))

        def _inputs(up: str, first: int, size: int) -> tuple[Key, ...]:
            """What a chunk of rows [first, first + size) reads of column ``up``."""
            if not graph.is_cell(up) or up in loaded:
                return (block[up],)
            covering = _covering(cell[up], per_task[up], first, size)
            # a task of the whole row group waits for all the chunks anyway: one collector
            return (block[up],) if len(covering) > 1 and size == row_group.size else covering

        for col in graph.order:
            slug = slugs[col]
            if col in fused:
                continue
            if col in loaded:
                block[col] = (slug, run, rg)
                tasks.append(TaskRef("load", col, rg, None, row_group.size, block[col]))
            elif graph.is_cell(col):
                cell[col] = {}
                k = per_task[col]
                for first in range(0, row_group.size, k):
                    size = min(k, row_group.size - first)
                    deps = _unique(
                        dep
                        for up in sorted(graph.upstream[col], key=graph.order.index)
                        for dep in _inputs(up, first, size)
                    )
                    key = (slug, run, rg, first)
                    tasks.append(TaskRef("cell", col, rg, first, size, key, deps, columns=(col,)))
                    cell[col][first] = key
                key = (slug + ".rows", run, rg)
                tasks.append(
                    TaskRef(
                        "collect", col, rg, None, row_group.size, key, tuple(cell[col].values())
                    )
                )
                block[col] = key
            else:
                deps = _unique(
                    block[up] for up in sorted(graph.upstream[col], key=graph.order.index)
                )
                key = (slug, run, rg)
                after = (
                    (slug, run, previous)
                    if col in graph.stateful and previous is not None
                    else None
                )
                tasks.append(
                    TaskRef("batch", col, rg, None, row_group.size, key, deps, after, (col,))
                )
                block[col] = key

        checkpoint = TaskRef(
            "checkpoint",
            None,
            rg,
            None,
            row_group.size,
            (CHECKPOINT, run, rg),
            _unique(block[col] for col in graph.columns),  # a fused task's key once
        )
        tasks.append(checkpoint)
        return cls(row_group, tuple(tasks), block, checkpoint)


def fused_columns(graph: ColumnGraph, fusable: Set[str]) -> tuple[str, ...]:
    """The ``fusable`` columns reading only each other, in graph order; () for fewer
    than two (a single column keeps its own task)."""
    fused: list[str] = []
    for col in graph.order:
        if col in fusable and all(up in fused for up in graph.upstream[col]):
            fused.append(col)
    return tuple(fused) if len(fused) > 1 else ()


def _fused_slug(slugs: Sequence[str]) -> str:
    """``a+b+c``, or ``a+b+4more`` past ``FUSED_SLUG_LENGTH`` characters."""
    joined = "+".join(slugs)
    if len(joined) <= FUSED_SLUG_LENGTH:
        return joined
    kept: list[str] = []
    for slug in slugs:
        if len("+".join([*kept, slug])) > FUSED_SLUG_LENGTH - 8:
            break
        kept.append(slug)
    kept = kept or [slugs[0]]
    return "+".join([*kept, f"{len(slugs) - len(kept)}more"])


def _unique(keys: Iterable[Key]) -> tuple[Key, ...]:
    """``keys`` without repeats, in order (fused columns share one key)."""
    return tuple(dict.fromkeys(keys))
