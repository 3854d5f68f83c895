"""The column-type registry: one entry per ``column_type`` (config class, generator, example).

A column type is its config class (a ``BaseColumnConfig`` subclass whose ``column_type``
field defaults to the type's tag), the generator factory that turns one such column into
a ``ColumnGenerator``, and a minimal valid ``example``. The dataset config validates each
column by the class registered for its ``column_type``; ``build_generators`` builds every
column through its factory. Nothing else names a concrete column type.

The config layer must not import the generators, so the factory is named by a
``"module:attr"`` path resolved when generators are built (the way fsspec's
``known_implementations`` names filesystem classes). Every factory has one signature:

    factory(column_config, build_context) -> ColumnGenerator

where the context holds the dataset config, the columns the column reads, the run's
``ModelRuntime`` and the config's folder (``dagen.generators.build.BuildContext``).

State: ``_TYPES`` (tag -> ColumnType), filled by ``dagen.config.columns`` at import and by
``register_column_type`` calls in users' modules; a type registered later is valid in every
``DatasetConfig`` validated afterwards (columns are dispatched at validation time).

Example:
    >>> entry = get_column_type("expression")
    >>> entry.factory, entry.example
    ('dagen.generators.expression:build', {'expr': 'Hi {{ city }}'})

    To add one (the config class and the factory may live in the user's module)::

        class NoteColumnConfig(BaseColumnConfig):
            '''A fixed note in every row.'''
            column_type: Literal["note"] = "note"
            text: str

        register_column_type(ColumnType(NoteColumnConfig, "mymodule:build_note",
                                        example={"text": "hi"}))
"""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, PlainValidator, SerializeAsAny, field_validator, model_validator

from dagen.config.base import StrictModel, validate_nested
from dagen.config.skip import SKIP_UNSUPPORTED, SkipConfig
from dagen.errors import ConfigValidationError, ImportFunctionError

__all__ = [
    "REASONING_SUFFIX",
    "TRACE_SUFFIX",
    "BaseColumnConfig",
    "ColumnConfig",
    "ColumnType",
    "GenerationStrategy",
    "column_type_names",
    "column_types",
    "get_column_type",
    "register_column_type",
]

TRACE_SUFFIX = "__trace"
REASONING_SUFFIX = "__reasoning_content"


class GenerationStrategy(enum.StrEnum):
    """How a column's generator is called: once per row, or once per row group."""

    CELL_BY_CELL = "cell_by_cell"
    FULL_COLUMN = "full_column"


class BaseColumnConfig(StrictModel):
    """Fields every column has, and what the column graph asks of a column.

    ``skip`` and ``propagate_skip`` gate a column row by row (``dagen.config.skip``).
    """

    column_type: str
    name: str = Field(min_length=1)
    drop: bool = False
    skip: SkipConfig | None = None
    propagate_skip: bool = True

    @model_validator(mode="after")
    def _skip_scope(self) -> BaseColumnConfig:
        if self.skip is None:
            return self
        if self.column_type in SKIP_UNSUPPORTED:
            raise ValueError(
                f"skip is not supported on {self.column_type} columns (their generator "
                "makes all its columns at once)"
            )
        own = {self.name, *self.side_effect_columns} & self.skip.columns
        if own:
            raise ValueError(f"skip.when reads the column itself ({', '.join(sorted(own))})")
        return self

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if value.endswith((TRACE_SUFFIX, REASONING_SUFFIX)):
            raise ValueError(f"column names may not end in {TRACE_SUFFIX} or {REASONING_SUFFIX}")
        return value

    @classmethod
    def _subject(cls, data: Any) -> str | None:
        name = data.get("name") if isinstance(data, Mapping) else None
        return f"column {name!r}" if name is not None else "column"

    @property
    def strategy(self) -> GenerationStrategy:
        return GenerationStrategy.FULL_COLUMN

    @property
    def side_effect_columns(self) -> tuple[str, ...]:
        return ()

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The columns this column's generator writes: itself, then its side effects."""
        return (self.name, *self.side_effect_columns)

    @property
    def stateful(self) -> bool:
        return False

    @property
    def model_alias(self) -> str | None:
        """The model whose calls are the column's cells (admission hands them over)."""
        return None

    @property
    def rows_per_task(self) -> int | None:
        """Rows of a cell-by-cell column per Dask task, when the column fixes it (a
        validation column's ``batch_size``); None lets the engine choose."""
        return None

    @property
    def model_aliases(self) -> tuple[str, ...]:
        """Every model the column calls (their caps, keys and endpoints are set up)."""
        return (self.model_alias,) if self.model_alias is not None else ()

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        """The columns this column reads.

        Args:
            earlier: names of the columns declared before this one (and their side-effect
                columns), for generators that infer what they read.
            search_path: folders to import custom functions from (the config's folder).
        """
        return frozenset()

    def value_domain(self) -> list[Any] | None:
        """Every value this column can take, when that is a known finite list (else None)."""
        return None

    def check_columns(self, columns: Mapping[str, BaseColumnConfig]) -> str | None:
        """A problem with the other columns (name -> config) this column reads, or None.

        Run by the dataset config when it loads, so that ``validate`` finds it.
        """
        return None


Factory = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ColumnType:
    """One column type.

    Attributes:
        config: the config class; its ``column_type`` default is the tag, its docstring
            the description.
        factory: ``"module:attr"`` of ``factory(column_config, build_context)``, or the
            callable itself.
        example: a minimal valid column of this type (without ``name``/``column_type``),
            used by docs and tests.
    """

    config: type[BaseColumnConfig]
    factory: str | Factory
    example: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """The ``column_type`` that selects this entry."""
        return str(self.config.model_fields["column_type"].default)

    @property
    def description(self) -> str:
        """The first line of the config class's docstring."""
        doc = inspect.cleandoc(self.config.__doc__ or "")
        return doc.splitlines()[0] if doc else ""

    def load_factory(self) -> Factory:
        """The generator factory, imported on first use.

        Raises:
            ImportFunctionError: the factory path does not import.
        """
        if callable(self.factory):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ImportFunctionError(
                f"column_type {self.tag!r}: generator factory {self.factory!r} cannot be "
                f"imported: {exc}"
            ) from exc
        if not callable(found):
            raise ImportFunctionError(
                f"column_type {self.tag!r}: generator factory {self.factory!r} is not callable"
            )
        return found  # type: ignore[no-any-return]


_TYPES: dict[str, ColumnType] = {}  # column_type tag -> entry


def register_column_type(entry: ColumnType) -> ColumnType:
    """Add a column type to the table (replacing one with the same tag) and return it.

    Raises:
        TypeError: ``entry`` is not a ``ColumnType``, its config is not a
            ``BaseColumnConfig`` subclass, or its factory is neither a path nor callable.
        ValueError: the config's ``column_type`` has no text default (the tag), or the
            factory path is not ``module:attr``.
    """
    if not isinstance(entry, ColumnType):
        raise TypeError(f"register_column_type takes a ColumnType, not {type(entry).__name__}")
    if not (isinstance(entry.config, type) and issubclass(entry.config, BaseColumnConfig)):
        raise TypeError("a column type's config must be a BaseColumnConfig subclass")
    if not isinstance(entry.config.model_fields["column_type"].default, str):
        raise ValueError(
            f"{entry.config.__name__}.column_type needs a Literal tag as its default, "
            'e.g. column_type: Literal["row_number"] = "row_number"'
        )
    if isinstance(entry.factory, str):
        if ":" not in entry.factory:
            raise ValueError(f"factory {entry.factory!r} must be 'module:attr'")
    elif not callable(entry.factory):
        raise TypeError("a column type's factory is a 'module:attr' path or a callable")
    _TYPES[entry.tag] = entry
    return entry


def column_type_names() -> list[str]:
    """The registered column types, sorted."""
    return sorted(_TYPES)


def column_types() -> Iterator[ColumnType]:
    """Every registered column type, by tag."""
    return (_TYPES[tag] for tag in column_type_names())


def get_column_type(tag: str) -> ColumnType:
    """The column type registered as ``tag``.

    Raises:
        ConfigValidationError: no column type has that tag (listing the known ones).
    """
    try:
        return _TYPES[tag]
    except KeyError:
        known = ", ".join(column_type_names())
        raise ConfigValidationError(f"unknown column_type {tag!r}; known: {known}") from None


def _validate_column(value: Any) -> BaseColumnConfig:
    """A column validated by the class its ``column_type`` names (at validation time, so
    that types registered after import are valid). Raises ValueError or pydantic's own
    error, which pydantic reports at the column's location."""
    if isinstance(value, BaseColumnConfig):
        if _TYPES.get(value.column_type) is None:
            raise ValueError(f"column_type {value.column_type!r} is not registered")
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"a column is a mapping with a column_type, not {type(value).__name__}")
    known = ", ".join(column_type_names())
    tag = value.get("column_type")
    if tag is None:
        raise ValueError(f"column_type is missing; expected one of {known}")
    entry = _TYPES.get(tag) if isinstance(tag, str) else None
    if entry is None and isinstance(tag, str):  # perhaps an installed plugin's type
        from dagen.config.plugins import load_plugins

        load_plugins()
        entry = _TYPES.get(tag)
    if entry is None:
        raise ValueError(f"unknown column_type {tag!r}; expected one of {known}")
    return validate_nested(entry.config, value)


# a column of any registered type; serialised as the class it is, not as the base class
ColumnConfig = Annotated[SerializeAsAny[BaseColumnConfig], PlainValidator(_validate_column)]
