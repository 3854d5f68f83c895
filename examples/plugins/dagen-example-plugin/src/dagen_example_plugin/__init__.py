"""An example dagen plugin: a ``slug`` column type, a ``.tsv`` seed reader and a ``dedupe``
processor.

dagen calls ``register`` (the ``dagen.plugins`` entry point of this package) once per
process; it adds one entry to each of dagen's registries and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd

import dagen
from dagen import BaseColumnConfig, ColumnBlock, ColumnGenerator
from dagen.config.base import StrictModel
from dagen.generators import BatchContext
from dagen.generators.base import CellFailure

__all__ = [
    "Dedupe",
    "DedupeConfig",
    "SlugColumnConfig",
    "SlugGenerator",
    "build_dedupe",
    "build_slug",
    "register",
]


class SlugColumnConfig(BaseColumnConfig):
    """The text of another column as a URL slug (lower case, words joined by '-')."""

    column_type: Literal["slug"] = "slug"
    source: str
    separator: str = "-"

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        return frozenset({self.source})


class SlugGenerator(ColumnGenerator):
    """One call per row group: the source column's values, slugified."""

    def __init__(self, config: SlugColumnConfig, reads: tuple[str, ...]) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.source = config.source
        self.separator = config.separator

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        words = frame[self.source].astype(str).str.lower().map(lambda t: re.findall(r"\w+", t))
        return ColumnBlock(pd.DataFrame({self.column: words.map(self.separator.join)}))


def build_slug(config: SlugColumnConfig, context: Any) -> SlugGenerator:
    """The ``slug`` column type's generator factory."""
    return SlugGenerator(config, context.reads)


def read_tsv(path: Path) -> pd.DataFrame:
    """A tab-separated seed file with a header line."""
    return pd.read_csv(path, sep="\t")


class DedupeConfig(StrictModel):
    """Drop each row whose values in ``columns`` repeat an earlier row's of its row group."""

    processor_type: Literal["dedupe"] = "dedupe"
    columns: list[str]


class Dedupe(dagen.Processor):
    """The ``dedupe`` processor: the repeated rows leave the row group, each recorded as
    dropped with the reason ``duplicate``."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        return frame

    def drops(self, frame: pd.DataFrame, *, row_group: int) -> dict[int, CellFailure]:
        repeated = frame.duplicated(subset=self.columns)
        return {
            int(row): CellFailure(self.columns[0], row_group, int(row), "duplicate",
                                  f"repeats an earlier row's {', '.join(self.columns)}")
            for row in frame.index[repeated]
        }  # fmt: skip


def build_dedupe(config: DedupeConfig, context: dagen.ProcessorContext) -> Dedupe:
    """The ``dedupe`` processor type's factory: its columns must be present at its turn."""
    missing = [c for c in config.columns if c not in context.columns]
    if missing:
        raise ValueError(f"field columns: no column(s) {missing} at this processor's turn")
    return Dedupe(config.columns)


def register() -> None:
    """Add the plugin's column type, seed reader and processor to dagen's registries."""
    dagen.register_column_type(
        dagen.ColumnType(SlugColumnConfig, build_slug, example={"source": "title"})
    )
    dagen.register_seed_reader(".tsv", read_tsv)
    dagen.register_processor(dagen.ProcessorType(DedupeConfig, build_dedupe))
