"""An example dagen plugin: a ``slug`` column type and a ``.tsv`` seed reader.

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
from dagen.generators import BatchContext

__all__ = ["SlugColumnConfig", "SlugGenerator", "build_slug", "register"]


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


def register() -> None:
    """Add the plugin's column type and seed reader to dagen's registries."""
    dagen.register_column_type(
        dagen.ColumnType(SlugColumnConfig, build_slug, example={"source": "title"})
    )
    dagen.register_seed_reader(".tsv", read_tsv)
