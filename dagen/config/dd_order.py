"""The column order of Data Designer's output, for the config of a file DD wrote.

DD 0.9.7 does not keep a file's column order: it compiles the columns into the seed's
columns first, then every sampler (in the file's order), then the other columns in the
order of Kahn's algorithm over their dependencies (``required_columns`` and ``skip.when``,
a side-effect column standing for the column that makes it): the columns that read no
other generated column first, in the file's order, then each column as soon as the last
column it reads is placed. Its output has that order, each column followed by its side
effects (``__trace``, a custom column's extra columns).

``in_dd_order`` gives a DD file's config that order, so dagen's output has DD's columns in
DD's order. DD's own order is not the same on every run, and dagen's is one of DD's:

- where several columns become ready when one column is placed, DD takes them in the order
  of a Python set of names (which changes from process to process with the hash seed);
  dagen takes them in the file's order;
- DD's output has its columns in the order their first row's cells were written, so a
  column that reads no other column at all (``expr: always``) runs beside the samplers and
  lands where it finished (usually before them); dagen places it with the generated
  columns, after the samplers.

Example:
    >>> from dagen.config.dataset import DatasetConfig
    >>> config = DatasetConfig.from_dict({"columns": [
    ...     {"name": "a", "column_type": "expression", "expr": "x"},
    ...     {"name": "b", "column_type": "expression", "expr": "{{ a }}"},
    ...     {"name": "c", "column_type": "expression", "expr": "y"},
    ...     {"name": "n", "column_type": "sampler", "sampler_type": "category",
    ...      "params": {"values": [1]}}]})
    >>> [c.name for c in in_dd_order(config).columns]
    ['n', 'a', 'c', 'b']
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagen.config.dataset import DatasetConfig

__all__ = ["in_dd_order"]

_FIRST = ("seed_dataset", "sampler")  # DD's seed columns, then its samplers


def in_dd_order(config: DatasetConfig) -> DatasetConfig:
    """``config`` with its columns in the order DD's output has them (unchanged when the
    columns read each other in a cycle: the column graph names the cycle)."""
    columns = list(config.columns)
    producers = {out: c.name for c in columns for out in (c.name, *c.output_columns)}
    outputs = [out for c in columns for out in c.output_columns]
    search_path = (config.source_dir,) if config.source_dir else ()
    first = [c for kind in _FIRST for c in columns if c.column_type == kind]
    dag = [c for c in columns if c.column_type not in _FIRST]
    names = {c.name for c in dag}
    upstream: dict[str, set[str]] = {}
    for column in dag:
        others = [out for out in outputs if out not in column.output_columns]
        reads = set(column.required_columns(others, search_path))
        reads |= set(column.skip.columns) if column.skip else set()
        upstream[column.name] = {producers[r] for r in reads if producers.get(r) in names}
        upstream[column.name].discard(column.name)
    waiting = {name: len(ups) for name, ups in upstream.items()}
    ready = deque(c.name for c in dag if waiting[c.name] == 0)
    placed: list[str] = []
    while ready:
        name = ready.popleft()
        placed.append(name)
        for child in dag:
            if name in upstream[child.name]:
                waiting[child.name] -= 1
                if waiting[child.name] == 0:
                    ready.append(child.name)
    if len(placed) != len(dag):
        return config
    by_name = {c.name: c for c in dag}
    ordered = first + [by_name[name] for name in placed]
    return config.model_copy(update={"columns": ordered})
