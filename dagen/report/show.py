"""``dagen show``: rows of an output folder laid out for reading in a terminal.

Each row is a two-column table (field, value) titled with its position in the dataset;
a struct value is shown field by field (indented, nested structs deeper), a list one item
per line, long text wrapped to the terminal. Only the rows shown are read
(``OutputFolder.head``).

Example:
    >>> import io
    >>> table = pa.table({"city": ["Oslo"], "person": [{"name": "Ada", "age": 36}]})
    >>> console = Console(width=60, record=True, file=io.StringIO())
    >>> print_rows(console, table, first=0, total=1)
    >>> text = console.export_text()
    >>> "person.age" in text and "Oslo" in text
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["print_rows", "rows_as_json"]


def print_rows(console: Console, table: pa.Table, *, first: int, total: int) -> None:
    """Print each row of ``table`` (rows ``first`` ... of a dataset of ``total`` rows)."""
    for i, row in enumerate(table.to_pylist()):
        grid = Table(
            title=f"row {first + i:,}",
            title_justify="left",
            show_header=False,
            expand=True,
        )
        grid.add_column("field", style="bold cyan", no_wrap=True)
        grid.add_column("value", overflow="fold", ratio=1)
        for name, value in row.items():
            for path, shown in _flat(name, value):
                grid.add_row(path, shown)
        console.print(grid)
    if table.num_rows == 0:
        console.print(
            f"no rows from row {first:,} on: the dataset has {total:,} (rows 0 to {total - 1:,})"
        )
    else:
        console.print(
            f"rows {first:,} to {first + table.num_rows - 1:,} of {total:,} (counted from 0)"
        )


def rows_as_json(table: pa.Table) -> Iterator[str]:
    """Each row as one JSON line (dates and other values JSON lacks as text)."""
    for row in table.to_pylist():
        yield json.dumps(row, default=str, ensure_ascii=False)


def _flat(path: str, value: Any) -> Iterator[tuple[str, Text]]:
    """A value as (field path, text) lines: structs field by field, lists item by item."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _flat(f"{path}.{key}", inner)
    elif isinstance(value, list):
        items = [json.dumps(v, default=str, ensure_ascii=False) for v in value]
        yield path, Text("\n".join(f"- {v}" for v in items) if items else "[]")
    elif value is None:
        yield path, Text("null", style="dim italic")
    elif isinstance(value, str):
        yield path, Text(value)
    else:
        yield path, Text(json.dumps(value, default=str))
