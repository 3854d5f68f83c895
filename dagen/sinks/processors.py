"""Post-batch processors: transforms run on each finished row group before it is written.

A processor gets the row group's surviving rows as a DataFrame and returns a DataFrame;
it may also make a *side dataset* from the rows it was given (``side_dataset``), which
the sink writes next to the main one, one part per row group (Data Designer's layout):

    drop_columns       the removed columns     -> dropped-columns-parquet-files/
    schema_transform   a row per row, from a   -> processors-files/<name>/
                       JSON template of Jinja

A processor runs inside the row group's checkpoint task (on a worker), so it must be
picklable and must not depend on other row groups. ``build_processors`` checks every
processor against the columns the config produces, so ``dagen validate`` and a run
reject the same configs: a ``drop_columns`` name or glob pattern that matches nothing,
a template reading an unknown column, two processors writing the same side dataset.

Example:
    >>> DropColumns(["a"]).process(pd.DataFrame({"a": [1], "b": [2]}), row_group=0).columns.tolist()
    ['b']
    >>> resolve_columns(["*__trace", "id"], ["id", "q", "q__trace", "r__trace"])
    ['q__trace', 'r__trace', 'id']
"""

from __future__ import annotations

import fnmatch
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dagen.config.dataset import (
    DatasetConfig,
    DropColumnsProcessorConfig,
    SchemaTransformProcessorConfig,
)
from dagen.errors import ConfigValidationError, GenerationError

__all__ = [
    "DROPPED_COLUMNS_DIR",
    "PROCESSORS_DIR",
    "DropColumns",
    "Processor",
    "SchemaTransform",
    "build_processors",
    "resolve_columns",
]

DROPPED_COLUMNS_DIR = "dropped-columns-parquet-files"
PROCESSORS_DIR = "processors-files"
_GLOB = frozenset("*?[")


class Processor(ABC):
    """A transform of one finished row group."""

    @abstractmethod
    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        """The row group after the transform."""

    def side_dataset(
        self, frame: pd.DataFrame, *, row_group: int
    ) -> tuple[str, pd.DataFrame] | None:
        """A dataset to write next to the main one from the rows given to ``process``:
        (its folder, relative to the output folder; its rows), or None."""
        return None


def resolve_columns(patterns: Sequence[str], available: Sequence[str]) -> list[str]:
    """The columns that names or glob patterns (fnmatch) select, in pattern order.

    Raises:
        ValueError: a name or pattern selects no column (naming it).
    """
    selected: dict[str, None] = {}
    for pattern in patterns:
        if pattern in available:
            found = [pattern]
        elif _GLOB & set(pattern):
            found = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        else:
            found = []
        if not found:
            kind = "pattern" if _GLOB & set(pattern) else "column"
            raise ValueError(f"{kind} {pattern!r} matches no column")
        selected.update(dict.fromkeys(found))
    return list(selected)


class DropColumns(Processor):
    """Remove the named columns, keeping them in the dropped-columns side dataset."""

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = tuple(columns)

    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        return frame.drop(columns=list(self.columns))

    def side_dataset(self, frame: pd.DataFrame, *, row_group: int) -> tuple[str, pd.DataFrame]:
        return DROPPED_COLUMNS_DIR, frame[list(self.columns)]


def _json_text(value: Any) -> Any:
    """A rendered value escaped to sit inside a JSON string of the template."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or (isinstance(value, float) and value != value):
        return "null"
    if isinstance(value, str):
        return json.dumps(value)[1:-1]
    if isinstance(value, dict | list):
        return json.dumps(json.dumps(value, default=str))[1:-1]
    return json.dumps(str(value))[1:-1]


_ENV = SandboxedEnvironment(undefined=StrictUndefined, finalize=_json_text, autoescape=False)


class SchemaTransform(Processor):
    """Make the ``processors-files/<name>`` dataset, one row per row, from a template."""

    def __init__(self, name: str, template: dict[str, Any]) -> None:
        self.name = name
        self.source = json.dumps(template)

    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        return frame

    def side_dataset(self, frame: pd.DataFrame, *, row_group: int) -> tuple[str, pd.DataFrame]:
        template = _ENV.from_string(self.source)
        rows = []
        for index, record in frame.to_dict("index").items():
            try:
                rows.append(json.loads(template.render(record)))
            except Exception as exc:
                raise GenerationError(
                    f"processor {self.name!r} (schema_transform), row group {row_group}, row "
                    f"{index}: {type(exc).__name__}: {exc}",
                    row_group=row_group,
                    row=int(index),
                ) from exc
        return f"{PROCESSORS_DIR}/{self.name}", pd.DataFrame(rows, index=frame.index)


def build_processors(config: DatasetConfig, outputs: Iterable[str]) -> tuple[Processor, ...]:
    """The processors a config declares, checked against the columns it produces.

    Raises:
        ConfigValidationError: a processor names (or a pattern selects) no column, reads an
            unknown column, or two schema transforms share a name.
    """
    known = list(dict.fromkeys(outputs))
    processors: list[Processor] = []
    names: set[str] = set()
    for index, spec in enumerate(config.processors):
        where = f"processors[{index}] ({spec.processor_type})"
        if isinstance(spec, DropColumnsProcessorConfig):
            try:
                columns = resolve_columns(spec.columns, known)
            except ValueError as exc:
                raise ConfigValidationError(f"{where} field columns: {exc}") from None
            known = [c for c in known if c not in columns]
            processors.append(DropColumns(columns))
        elif isinstance(spec, SchemaTransformProcessorConfig):
            unknown = sorted(spec.columns - set(known))
            if unknown:
                raise ConfigValidationError(
                    f"{where} {spec.name!r} field template: reads unknown column(s) {unknown}"
                )
            if spec.name in names:
                raise ConfigValidationError(f"{where}: name {spec.name!r} is used twice")
            names.add(spec.name)
            processors.append(SchemaTransform(spec.name, spec.template))
    return tuple(processors)
