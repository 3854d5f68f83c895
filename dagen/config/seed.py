"""The seed-dataset column config: where the seed rows come from and which of them are used.

A seed is a file, a folder of files or a glob (parquet, CSV, JSON lines), or a pandas
DataFrame given from Python; ``selection_strategy`` keeps an index range or a partition
block of it, as DD's ``IndexRange`` and ``PartitionBlock`` do. The generator
(``dagen.generators.seed``) reads it once, where the run starts.

Example:
    >>> PartitionBlock(index=2, num_partitions=3).rows(10)
    range(6, 10)
    >>> IndexRange(start=2, end=4).rows(10)
    range(2, 5)
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import pandas as pd
from pydantic import AliasChoices, Field, field_serializer, field_validator, model_validator

from dagen.config.base import StrictModel
from dagen.config.column_types import BaseColumnConfig
from dagen.config.seed_files import DIRECTORY_COLUMNS

__all__ = ["IndexRange", "PartitionBlock", "SeedDatasetColumnConfig"]


class IndexRange(StrictModel):
    """Seed rows ``start`` to ``end`` (both included, counted from 0)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> IndexRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        return self

    def rows(self, size: int) -> range:
        """The selected row positions of a seed of ``size`` rows.

        Raises:
            ValueError: the range ends past the last row.
        """
        if self.end >= size:
            raise ValueError(f"end {self.end} is past the last seed row ({size - 1})")
        return range(self.start, self.end + 1)


class PartitionBlock(StrictModel):
    """Partition ``index`` (from 0) of the seed cut into ``num_partitions`` equal blocks; the
    last block also takes the rows left over."""

    index: int = Field(default=0, ge=0)
    num_partitions: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _inside(self) -> PartitionBlock:
        if self.index >= self.num_partitions:
            raise ValueError(
                f"index ({self.index}) must be less than num_partitions ({self.num_partitions})"
            )
        return self

    def rows(self, size: int) -> range:
        """The selected row positions of a seed of ``size`` rows.

        Raises:
            ValueError: the seed has fewer rows than partitions.
        """
        if size < self.num_partitions:
            raise ValueError(f"{size} seed rows cannot make {self.num_partitions} partitions")
        block = size // self.num_partitions
        last = self.index == self.num_partitions - 1
        return range(self.index * block, size if last else (self.index + 1) * block)


class SeedDatasetColumnConfig(BaseColumnConfig):
    """Rows of an existing dataset (parquet, CSV or JSON lines) as columns of the output.

    ``columns`` are taken from the seed (its column names become output columns other
    columns may reference); ``name`` names the generator. The seed is ``path`` (a file, a
    folder of files, or a glob such as ``data/*.parquet``; relative to the config file;
    files are read in name order) or, from Python, ``dataframe`` (a pandas DataFrame).
    ``source`` is ``files`` (the rows of the files), or one of Data Designer's directory
    sources: ``directory`` (a row per file under the folder ``path`` whose name matches
    ``file_pattern``, in ``recursive`` folders too: ``source_kind``, ``source_path``,
    ``relative_path``, ``file_name``) or ``file_contents`` (those and ``content``, the
    file's text in ``encoding``). ``selection_strategy`` keeps a part of it (DD's ``{start, end}`` index range, ends
    included, or ``{index, num_partitions}`` partition block). Sampling
    (``sampling_strategy`` in DD): ``ordered`` (row i of the output is row i mod N of the
    selection), ``shuffle`` (a seeded permutation, repeated) or ``random`` (independent
    seeded draws with replacement).
    """

    column_type: Literal["seed_dataset"] = "seed_dataset"
    path: str | None = Field(default=None, min_length=1)
    dataframe: Any = None
    columns: list[str] = Field(min_length=1)
    sampling: Literal["ordered", "shuffle", "random"] = Field(
        default="ordered", validation_alias=AliasChoices("sampling", "sampling_strategy")
    )
    selection_strategy: IndexRange | PartitionBlock | None = None
    # Data Designer's directory sources: a row per file under the folder ``path``
    source: Literal["files", "directory", "file_contents"] = "files"
    file_pattern: str = Field(default="*", min_length=1, pattern=r"^[^/\\]+$")
    recursive: bool = True
    encoding: str = "utf-8"

    @field_validator("dataframe")
    @classmethod
    def _a_dataframe(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, pd.DataFrame):
            raise ValueError(f"must be a pandas DataFrame, not {type(value).__name__}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SeedDatasetColumnConfig:
        if (self.path is None) == (self.dataframe is None):
            raise ValueError("give the seed as path or as dataframe (exactly one of them)")
        if self.source != "files":
            offered = (
                (*DIRECTORY_COLUMNS, "content")
                if self.source == "file_contents"
                else DIRECTORY_COLUMNS
            )
            unknown = [c for c in self.columns if c not in offered]
            if self.path is None or unknown:
                raise ValueError(
                    f"a {self.source} source reads the folder path and offers the columns "
                    f"{list(offered)}" + (f", not {unknown}" if unknown else "")
                )
        if self.dataframe is not None:
            missing = [c for c in self.columns if c not in self.dataframe.columns]
            if missing:
                raise ValueError(
                    f"the dataframe has no column(s) {missing}; it has {list(self.dataframe.columns)}"
                )
        return self

    @field_serializer("dataframe")
    def _describe_dataframe(self, value: Any) -> str | None:
        """A DataFrame as its shape and a hash of its contents (what the fingerprint needs)."""
        if value is None:
            return None
        digest = hashlib.sha256(pd.util.hash_pandas_object(value, index=True).values.tobytes())
        return f"DataFrame({len(value)} rows, columns {list(value.columns)}, sha256 {digest.hexdigest()[:16]})"

    @property
    def output_columns(self) -> tuple[str, ...]:
        return tuple(self.columns)
