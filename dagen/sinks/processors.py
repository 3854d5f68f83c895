"""Post-batch processors: transforms run on each finished row group before it is written.

A processor gets the row group's surviving rows as a DataFrame and returns a DataFrame;
it may also make a *side dataset* from the rows it was given (``side_dataset``), which
the sink writes next to the main one, one part per row group (Data Designer's layout):

    drop_columns       the removed columns     -> dropped-columns-parquet-files/
    schema_transform   a row per row, from a   -> processors-files/<name>/
                       JSON template of Jinja
    filter             (none: it drops the rows its ``keep_when`` condition does not
                       keep, each recorded as dropped with the reason ``filtered``)

A processor may drop rows (``drops``): they leave the row group before the processors
after it see it, and are recorded with the row group's other dropped rows.

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
    >>> keep = Filter("big", "{{ x > 1 }}")
    >>> {row: f.error_type for row, f in keep.drops(pd.DataFrame({"x": [1, 2]}), row_group=0).items()}
    {0: 'filtered'}
"""

from __future__ import annotations

import fnmatch
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dagen.config.dataset import (
    DatasetConfig,
    DropColumnsProcessorConfig,
    FilterProcessorConfig,
    SchemaTransformProcessorConfig,
)
from dagen.config.processor_types import get_processor_type
from dagen.config.run import TemplateLimits
from dagen.errors import ConfigValidationError, GenerationError, ImportFunctionError, TemplateError
from dagen.generators.base import CellFailure, failure_from
from dagen.generators.expression import Template

__all__ = [
    "DROPPED_COLUMNS_DIR",
    "FALSE_TEXTS",
    "FILTERED",
    "PROCESSORS_DIR",
    "DropColumns",
    "Filter",
    "Processor",
    "ProcessorContext",
    "SchemaTransform",
    "build_processors",
    "drop_columns",
    "filter_rows",
    "resolve_columns",
    "schema_transform",
]

DROPPED_COLUMNS_DIR = "dropped-columns-parquet-files"
PROCESSORS_DIR = "processors-files"
_GLOB = frozenset("*?[")
FILTERED = "filtered"  # the error_type of a row a filter did not keep
FALSE_TEXTS = frozenset({"", "false", "0", "0.0", "none"})  # a condition rendering these fails


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

    def drops(self, frame: pd.DataFrame, *, row_group: int) -> dict[int, CellFailure]:
        """The rows (by row position, the frame's index) this processor removes, and why;
        they are taken out before ``side_dataset`` and ``process`` see the frame."""
        return {}

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        """The columns present after this processor, given those before it (the
        processors after it are checked against these)."""
        return list(columns)


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

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        return [c for c in columns if c not in self.columns]

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


class Filter(Processor):
    """Keep the rows whose ``keep_when`` condition renders true (``FALSE_TEXTS`` are false).

    The condition is a sandboxed template bounded like an expression (``TemplateLimits``);
    a row whose condition fails to render is dropped with that error, naming the filter.
    """

    def __init__(self, name: str, keep_when: str, limits: TemplateLimits | None = None) -> None:
        self.name = name
        self.template = Template(keep_when, name, "filter keep_when", limits)

    def process(self, frame: pd.DataFrame, *, row_group: int) -> pd.DataFrame:
        return frame

    def drops(self, frame: pd.DataFrame, *, row_group: int) -> dict[int, CellFailure]:
        dropped: dict[int, CellFailure] = {}
        columns = list(frame.columns)
        for index, values in zip(
            frame.index, frame.itertuples(index=False, name=None), strict=True
        ):
            row = int(index)
            try:
                text = self.template.render(dict(zip(columns, values, strict=True)), row_group, row)
            except TemplateError:
                raise
            except Exception as exc:
                dropped[row] = failure_from(exc, self.name, row_group, row)
                continue
            if text.strip().lower() in FALSE_TEXTS:
                dropped[row] = CellFailure(
                    self.name,
                    row_group,
                    row,
                    FILTERED,
                    f"keep_when was false: {self.template.source}",
                )
        return dropped


@dataclass(frozen=True)
class ProcessorContext:
    """What a processor factory is given (``dagen.config.processor_types``).

    Attributes:
        where: the processor's place in the config, for errors (``processors[1] (filter)``).
        columns: the columns present at its turn (after the processors before it).
        names: the side-dataset names taken so far; a factory that writes one adds its own.
        limits: bounds on each render of a template (None: the defaults).
    """

    where: str
    columns: tuple[str, ...]
    names: set[str]
    limits: TemplateLimits | None = None


def build_processors(
    config: DatasetConfig, outputs: Iterable[str], limits: TemplateLimits | None = None
) -> tuple[Processor, ...]:
    """The processors a config declares, each built by its type's factory and checked
    against the columns present at its turn.

    Args:
        config: the dataset config.
        outputs: the output columns the columns produce, in order.
        limits: bounds on each render of a filter's condition.

    Raises:
        ConfigValidationError: a processor names (or a pattern selects) no column, reads an
            unknown column, two processors of a kind share a name, or a plugin's factory
            fails or returns something that is not a ``Processor``.
    """
    known: list[str] = list(dict.fromkeys(outputs))
    processors: list[Processor] = []
    names: set[str] = set()
    for index, spec in enumerate(config.processors):
        tag = getattr(spec, "processor_type", "?")
        where = f"processors[{index}] ({tag})"
        context = ProcessorContext(where, tuple(known), names, limits)
        try:
            processor = get_processor_type(tag).build(spec, context)
        except (ConfigValidationError, ImportFunctionError):
            raise
        except (ValueError, TypeError, KeyError) as exc:  # a plugin's factory refusing
            raise ConfigValidationError(f"{where}: {exc}") from exc
        if not isinstance(processor, Processor):
            raise ConfigValidationError(
                f"{where}: its factory returned {type(processor).__name__}, not a Processor"
            )
        known = processor.output_columns(known)
        processors.append(processor)
    return tuple(processors)


def drop_columns(spec: DropColumnsProcessorConfig, context: ProcessorContext) -> DropColumns:
    """The ``drop_columns`` processor; its names and patterns must match present columns."""
    try:
        return DropColumns(resolve_columns(spec.columns, context.columns))
    except ValueError as exc:
        raise ConfigValidationError(f"{context.where} field columns: {exc}") from None


def schema_transform(
    spec: SchemaTransformProcessorConfig, context: ProcessorContext
) -> SchemaTransform:
    """The ``schema_transform`` processor; its template must read present columns and its
    name be its own."""
    unknown = sorted(spec.columns - set(context.columns))
    if unknown:
        raise ConfigValidationError(
            f"{context.where} {spec.name!r} field template: reads unknown column(s) {unknown}"
        )
    if spec.name in context.names:
        raise ConfigValidationError(f"{context.where}: name {spec.name!r} is used twice")
    context.names.add(spec.name)
    return SchemaTransform(spec.name, spec.template)


def filter_rows(spec: FilterProcessorConfig, context: ProcessorContext) -> Filter:
    """The ``filter`` processor, its condition checked against the columns present at its
    turn.

    Raises:
        ConfigValidationError: the condition reads an unknown column, or the name is taken.
    """
    unknown = sorted(spec.columns - set(context.columns))
    if unknown:
        raise ConfigValidationError(
            f"{context.where} {spec.name!r} field keep_when: reads unknown column(s) {unknown}"
        )
    if f"filter:{spec.name}" in context.names:
        raise ConfigValidationError(
            f"{context.where}: name {spec.name!r} is used by another filter; give each a name"
        )
    context.names.add(f"filter:{spec.name}")
    return Filter(spec.name, spec.keep_when, context.limits)
