"""Post-batch processors: transforms run on each finished row group before it is written.

A processor gets the row group's surviving rows as a DataFrame and returns a DataFrame.
It runs inside the row group's checkpoint task (on a worker), so it must be picklable and
must not depend on other row groups.

Example:
    >>> DropColumns(["a"]).process(pd.DataFrame({"a": [1], "b": [2]}), row_group=0).columns.tolist()
    ['b']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

import pandas as pd

from dagen.config.dataset import DatasetConfig, DropColumnsProcessorConfig
from dagen.errors import ConfigValidationError

__all__ = ["DropColumns", "Processor", "build_processors"]


class Processor(ABC):
    """A transform of one finished row group."""

    @abstractmethod
    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        """The row group after the transform."""


class DropColumns(Processor):
    """Remove the named columns."""

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = tuple(columns)

    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        return frame.drop(columns=list(self.columns))


def build_processors(config: DatasetConfig, outputs: Iterable[str]) -> tuple[Processor, ...]:
    """The processors a config declares, checked against the columns it produces.

    Raises:
        ConfigValidationError: a processor names a column that does not exist.
    """
    known = set(outputs)
    processors: list[Processor] = []
    for index, spec in enumerate(config.processors):
        if isinstance(spec, DropColumnsProcessorConfig):
            unknown = [c for c in spec.columns if c not in known]
            if unknown:
                raise ConfigValidationError(
                    f"processors[{index}] (drop_columns) names unknown column(s) {unknown}"
                )
            processors.append(DropColumns(spec.columns))
    return tuple(processors)
