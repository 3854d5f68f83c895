"""The column graph: which column reads which, built once from a config and never changed.

Nodes are *generator columns* (the columns a generator produces); side-effect columns such
as ``summary__trace`` are outputs of their producer, so a reference to one is an edge to
the producer. Construction validates everything a run would otherwise trip on later:
duplicate names, references to columns nobody produces, cycles. Each error names the
columns involved.

State (all computed in ``__init__``, all immutable):

    upstream[col]     -> frozenset of columns col reads          # col -> producers
    downstream[col]   -> frozenset of columns that read col
    strategy[col]     -> cell_by_cell | full_column
    rows_per_task[col] -> rows per task the column fixes (a validator's batch_size)
    side_effects[out] -> producer column                         # "a__trace" -> "a"
    reads[col]        -> the columns col reads, side-effect columns by their own name
                         (its data inputs and the columns of its ``skip.when``)
    requires[col]     -> its data inputs only (what ``propagate_skip`` looks at)
    order             -> topological order, ties broken by declaration order

Example:
    >>> g = ColumnGraph.from_edges({"a": [], "b": ["a"], "c": ["a", "b"]})
    >>> g.order, g.critical_path()
    (('a', 'b', 'c'), ('a', 'b', 'c'))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dagen.config.columns import GenerationStrategy
from dagen.config.dataset import DatasetConfig
from dagen.errors import CycleError, DuplicateColumnError, UnknownColumnError

__all__ = ["ColumnGraph"]

CELL = GenerationStrategy.CELL_BY_CELL


@dataclass(frozen=True, eq=False)
class ColumnGraph:
    """An immutable column-level DAG.

    Build it with ``ColumnGraph.from_config`` (or ``from_edges`` in tests).
    """

    upstream: Mapping[str, frozenset[str]]
    strategy: Mapping[str, GenerationStrategy]
    side_effects: Mapping[str, str]
    stateful: frozenset[str] = frozenset()
    declared: tuple[str, ...] = ()
    reads: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rows_per_task: Mapping[str, int] = field(default_factory=dict)
    requires: Mapping[str, frozenset[str]] = field(default_factory=dict)
    downstream: Mapping[str, frozenset[str]] = field(init=False)
    order: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        down: dict[str, set[str]] = {col: set() for col in self.upstream}
        for col, ups in self.upstream.items():
            for up in ups:
                down[up].add(col)
        object.__setattr__(
            self, "downstream", MappingProxyType({c: frozenset(d) for c, d in down.items()})
        )
        object.__setattr__(self, "order", self._topological_order())

    # -- construction ----------------------------------------------------------------

    @classmethod
    def from_config(cls, config: DatasetConfig) -> ColumnGraph:
        """Build and validate the graph of a dataset config.

        Raises:
            TypeError: ``config`` is not a ``DatasetConfig`` (a path: ``dagen.load_config``).
            DuplicateColumnError: two columns (or side-effect columns) share a name.
            UnknownColumnError: a column reads a column nobody produces.
            CycleError: columns read each other in a cycle.
        """
        if not isinstance(config, DatasetConfig):
            raise TypeError(
                f"ColumnGraph.from_config(): config must be a DatasetConfig, got "
                f"{type(config).__name__}; read a file with dagen.load_config(path)"
            )
        producers: dict[str, str] = {}  # output column -> generator column
        for col in config.columns:
            for out in dict.fromkeys((col.name, *col.output_columns)):
                if out in producers:
                    raise DuplicateColumnError(
                        f"column name {out!r} is used twice (by {producers[out]!r} and {col.name!r})"
                    )
                producers[out] = col.name
        search_path = (config.source_dir,) if config.source_dir else ()
        upstream: dict[str, frozenset[str]] = {}
        reads_of: dict[str, frozenset[str]] = {}
        requires: dict[str, frozenset[str]] = {}  # col -> its data inputs (not skip.when's)
        earlier: list[str] = []
        for col in config.columns:
            requires[col.name] = frozenset(
                col.required_columns(list(earlier), search_path)
            ) | config.constraint_reads(col.name)
            reads = requires[col.name] | (col.skip.columns if col.skip else frozenset())
            resolved = set()
            for name in sorted(reads):
                if name not in producers:
                    raise UnknownColumnError(
                        f"column {col.name!r} references unknown column {name!r}"
                        + _did_you_mean(name, producers)
                    )
                resolved.add(producers[name])
            if col.name in resolved:
                raise CycleError(f"column {col.name!r} references itself")
            upstream[col.name] = frozenset(resolved)
            reads_of[col.name] = frozenset(reads)
            earlier.extend(col.output_columns)
        return cls(
            upstream=MappingProxyType(upstream),
            strategy=MappingProxyType({c.name: c.strategy for c in config.columns}),
            side_effects=MappingProxyType({out: p for out, p in producers.items() if out != p}),
            stateful=frozenset(c.name for c in config.columns if c.stateful),
            declared=tuple(c.name for c in config.columns),
            reads=MappingProxyType(reads_of),
            rows_per_task=MappingProxyType(
                {c.name: c.rows_per_task for c in config.columns if c.rows_per_task is not None}
            ),
            requires=MappingProxyType(requires),
        )

    @classmethod
    def from_edges(
        cls,
        edges: Mapping[str, Iterable[str]],
        strategy: Mapping[str, GenerationStrategy] | None = None,
    ) -> ColumnGraph:
        """A graph from ``{column: [columns it reads]}`` (cell-by-cell unless told)."""
        for col, ups in edges.items():
            for up in ups:
                if up not in edges:
                    raise UnknownColumnError(f"column {col!r} references unknown column {up!r}")
        strategy = strategy or {}
        return cls(
            upstream=MappingProxyType({c: frozenset(u) for c, u in edges.items()}),
            strategy=MappingProxyType({c: strategy.get(c, CELL) for c in edges}),
            side_effects=MappingProxyType({}),
            declared=tuple(edges),
        )

    def _topological_order(self) -> tuple[str, ...]:
        declared = self.declared or tuple(self.upstream)
        rank = {c: i for i, c in enumerate(declared)}
        missing = {c: set(u) for c, u in self.upstream.items()}
        order: list[str] = []
        ready = sorted((c for c, u in missing.items() if not u), key=rank.__getitem__)
        while ready:
            col = ready.pop(0)
            order.append(col)
            for down in self.downstream[col]:
                missing[down].discard(col)
                if not missing[down]:
                    ready.append(down)
            ready.sort(key=rank.__getitem__)
        if len(order) < len(self.upstream):
            raise CycleError(f"columns form a cycle: {' -> '.join(self._find_cycle(set(order)))}")
        return tuple(order)

    def _find_cycle(self, done: set[str]) -> list[str]:
        """One cycle among the columns not in ``done``, as a closed path."""
        start = next(c for c in (self.declared or self.upstream) if c not in done)
        path: list[str] = [start]
        while True:
            nxt = sorted(u for u in self.upstream[path[-1]] if u not in done)[0]
            if nxt in path:
                cycle = [*path[path.index(nxt) :], nxt]
                return list(reversed(cycle))
            path.append(nxt)

    # -- queries -----------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        """Generator columns in declaration order."""
        return self.declared or tuple(self.upstream)

    def producer(self, column: str) -> str:
        """The generator column that produces ``column`` (itself, or a side effect's owner)."""
        return self.side_effects.get(column, column)

    def is_cell(self, column: str) -> bool:
        return self.strategy[column] is CELL

    def depth(self, weight: Callable[[str], float] = lambda c: 1.0) -> dict[str, float]:
        """Longest weighted path ending at each column (its own weight included)."""
        depth: dict[str, float] = {}
        for col in self.order:
            depth[col] = weight(col) + max((depth[u] for u in self.upstream[col]), default=0.0)
        return depth

    def critical_path(self, weight: Callable[[str], float] = lambda c: 1.0) -> tuple[str, ...]:
        """The heaviest chain of columns from a root to a leaf.

        Args:
            weight: cost of one column along a path (1 each by default; LLM columns only
                to count model round trips).
        """
        depth = self.depth(weight)
        col = max(self.order, key=lambda c: (depth[c], -self.order.index(c)))
        path = [col]
        while self.upstream[col]:
            col = max(self.upstream[col], key=lambda c: (depth[c], -self.order.index(c)))
            path.append(col)
        return tuple(reversed(path))

    def task_counts(
        self, num_records: int, row_group_size: int, cells_per_task: int | Mapping[str, int] = 1
    ) -> dict[str, int]:
        """Dask tasks each column creates for a run of ``num_records`` rows.

        Cell-by-cell columns make one task per ``cells_per_task`` rows of each row group
        plus one collector per row group; full-column columns make one per row group.
        """
        full, rest = divmod(num_records, row_group_size)
        groups = [row_group_size] * full + ([rest] if rest else [])
        counts = {}
        for col in self.columns:
            if self.is_cell(col):
                k = cells_per_task if isinstance(cells_per_task, int) else cells_per_task[col]
                counts[col] = sum(math.ceil(n / k) + 1 for n in groups)
            else:
                counts[col] = len(groups)
        return counts

    def to_mermaid(self) -> str:
        """The graph as Mermaid flowchart text (cell-by-cell columns drawn as rounded)."""
        lines = ["flowchart LR"]
        ids = {c: f"c{i}" for i, c in enumerate(self.columns)}
        for col in self.columns:
            label = col.replace('"', "'")
            lines.append(
                f'    {ids[col]}("{label}")' if self.is_cell(col) else f'    {ids[col]}["{label}"]'
            )
        for col in self.order:
            for up in sorted(self.upstream[col], key=self.order.index):
                lines.append(f"    {ids[up]} --> {ids[col]}")
        return "\n".join(lines)


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
