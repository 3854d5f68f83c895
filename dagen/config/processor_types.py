"""The processor-type registry: one entry per ``processor_type`` (config class, factory).

A processor type is its config class (a ``StrictModel`` whose ``processor_type`` field
defaults to the type's tag) and the factory that turns one such config into the
``dagen.sinks.processors.Processor`` that transforms each finished row group. The dataset
config validates each processor by the class registered for its ``processor_type``;
``build_processors`` builds each through its factory, in order. The three built-in types
(``drop_columns``, ``schema_transform``, ``filter``) are entries like any plugin's.

As for column types, the config layer does not import the processors: a factory is a
``"module:attr"`` path resolved when processors are built, or a callable. Every factory
has one signature:

    factory(processor_config, context) -> Processor

where the context holds where the processor is (for errors), the columns present at its
turn, the names of the side datasets taken so far and the run's template limits
(``dagen.sinks.processors.ProcessorContext``).

State: ``_TYPES`` (tag -> ProcessorType), filled by ``dagen.config.dataset`` at import and
by ``register_processor`` calls (a plugin's, ``dagen.config.plugins``); a type registered
later is valid in every config validated afterwards.

Example:
    >>> get_processor_type("drop_columns").factory
    'dagen.sinks.processors:drop_columns'

    To add one::

        class UpperConfig(StrictModel):
            '''Upper-case the text of some columns.'''
            processor_type: Literal["upper"] = "upper"
            columns: list[str]

        register_processor(ProcessorType(UpperConfig, "mymodule:build_upper"))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainValidator, SerializeAsAny

from dagen.config.base import StrictModel, validate_nested
from dagen.errors import ConfigValidationError, ImportFunctionError

__all__ = [
    "ProcessorConfig",
    "ProcessorType",
    "get_processor_type",
    "processor_type_names",
    "register_processor",
]


@dataclass(frozen=True)
class ProcessorType:
    """A processor type: its config class and its factory (a ``module:attr`` path or a
    callable ``(config, context) -> Processor``)."""

    config: type[StrictModel]
    factory: str | Callable[..., Any]

    @property
    def tag(self) -> str:
        """The ``processor_type`` value that selects this type."""
        return str(self.config.model_fields["processor_type"].default)

    def build(self, config: Any, context: Any) -> Any:
        """The processor of ``config`` (the factory imported when it is a path)."""
        factory = self.factory
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            try:
                factory = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ImportFunctionError(
                    f"processor_type {self.tag!r}: cannot import its factory {self.factory!r}: {exc}"
                ) from exc
        return factory(config, context)


_TYPES: dict[str, ProcessorType] = {}


def register_processor(entry: ProcessorType) -> ProcessorType:
    """Add a processor type to the table (replacing one with the same tag) and return it.

    Raises:
        TypeError: ``entry`` is not a ``ProcessorType``, its config is not a
            ``StrictModel`` subclass, or its factory is neither a path nor callable.
        ValueError: the config's ``processor_type`` has no text default (the tag), or the
            factory path is not ``module:attr``.
    """
    if not isinstance(entry, ProcessorType):
        raise TypeError(f"register_processor takes a ProcessorType, not {type(entry).__name__}")
    if not (isinstance(entry.config, type) and issubclass(entry.config, StrictModel)):
        raise TypeError("a processor type's config must be a StrictModel subclass")
    field = entry.config.model_fields.get("processor_type")
    if field is None or not isinstance(field.default, str):
        raise ValueError(
            f"{entry.config.__name__}.processor_type needs a Literal tag as its default, "
            'e.g. processor_type: Literal["upper"] = "upper"'
        )
    if isinstance(entry.factory, str):
        if ":" not in entry.factory:
            raise ValueError(f"factory {entry.factory!r} must be 'module:attr'")
    elif not callable(entry.factory):
        raise TypeError("a processor type's factory is a 'module:attr' path or a callable")
    _TYPES[entry.tag] = entry
    return entry


def processor_type_names() -> list[str]:
    """The registered processor types, sorted."""
    return sorted(_TYPES)


def get_processor_type(tag: str) -> ProcessorType:
    """The processor type registered as ``tag``.

    Raises:
        ConfigValidationError: no processor type has that tag (listing the known ones).
    """
    try:
        return _TYPES[tag]
    except KeyError:
        known = ", ".join(processor_type_names())
        raise ConfigValidationError(f"unknown processor_type {tag!r}; known: {known}") from None


def _validate_processor(value: Any) -> StrictModel:
    """A processor validated by the class its ``processor_type`` names (at validation time,
    so that types registered after import, a plugin's among them, are valid)."""
    if isinstance(value, StrictModel) and type(value) in {t.config for t in _TYPES.values()}:
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f"a processor is a mapping with a processor_type, not {type(value).__name__}"
        )
    tag = value.get("processor_type")
    entry = _TYPES.get(tag) if isinstance(tag, str) else None
    if entry is None and isinstance(tag, str):  # perhaps an installed plugin's type
        from dagen.config.plugins import load_plugins

        load_plugins()
        entry = _TYPES.get(tag)
    if entry is None:
        known = ", ".join(processor_type_names())
        what = "processor_type is missing" if tag is None else f"unknown processor_type {tag!r}"
        raise ValueError(f"{what}; expected one of {known}")
    return validate_nested(entry.config, value)


# a processor of any registered type; serialised as the class it is
ProcessorConfig = Annotated[SerializeAsAny[StrictModel], PlainValidator(_validate_processor)]
