"""Fused full-column columns: the result of one task that ran several columns
(``dagen.lowering.plan``: the full-column columns that read only each other).

``run_fused`` runs the columns in order, each on the blocks of the columns it reads, as its
own task would; the result, ``FusedBlocks``, holds each column's ``ColumnBlock``, and a
task reading it takes the blocks out with ``blocks_of``. ``FailedFusedBlocks`` marks a
result holding a failure, so the client sees failures from the future's type alone (as
``FailedBlock``).

Example:
    >>> blocks_of([FusedBlocks({"a": "block of a", "b": "block of b"}), "block of c"])
    ['block of a', 'block of b', 'block of c']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagen.errors import DagenError, GenerationError
from dagen.generators import ColumnBlock

__all__ = ["FailedFusedBlocks", "FusedBlocks", "blocks_of", "run_fused"]


@dataclass(frozen=True)
class FusedBlocks:
    """The blocks of fused full-column columns, by column."""

    blocks: dict[str, ColumnBlock]


class FailedFusedBlocks(FusedBlocks):
    """``FusedBlocks`` with at least one failure."""


def blocks_of(inputs: Sequence[Any]) -> list[Any]:
    """``inputs`` with each ``FusedBlocks`` replaced by its blocks."""
    found: list[Any] = []
    for source in inputs:
        found.extend(source.blocks.values() if isinstance(source, FusedBlocks) else (source,))
    return found


def run_fused(
    columns: Sequence[str],
    upstream: Mapping[str, Sequence[str]],
    row_group: int,
    run_one: Callable[[str, list[ColumnBlock]], ColumnBlock],
) -> FusedBlocks:
    """``run_one(column, its upstream blocks)`` for each column in order.

    Raises:
        GenerationError: ``run_one`` raised, naming the column and the row group.
    """
    made: dict[str, ColumnBlock] = {}
    for column in columns:
        inputs = [made[up] for up in upstream[column]]  # fused columns read only each other
        try:
            made[column] = run_one(column, inputs)
        except DagenError:
            raise
        except Exception as exc:  # named here: the task's key names every fused column
            raise GenerationError(
                f"row group {row_group}, column {column!r}: task failed: "
                f"{type(exc).__name__}: {exc}",
                column=column,
                row_group=row_group,
            ) from exc
    failed = any(block.failures for block in made.values())
    return (FailedFusedBlocks if failed else FusedBlocks)(made)
