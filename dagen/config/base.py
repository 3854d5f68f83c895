"""The base of every config model: strict, frozen pydantic models whose errors are DagenErrors.

Unknown fields are rejected (``extra="forbid"``) so that a typo in a YAML file is an error
that names the field, never a setting silently ignored. Building a model directly
(``SamplerColumnConfig(...)``, ``ModelConfig.model_validate(...)``) raises
``ConfigValidationError`` with one line per problem, naming the field path; the pydantic
``ValidationError`` is its ``__cause__``.

Nested models are validated by pydantic itself, not through the wrapping ``__init__``
(it is marked as pydantic's base ``__init__``), so an error deep in a config keeps its
full location (``columns.1.params.high``) instead of escaping as a foreign exception.
Validators that validate another model by hand use ``validate_nested``, which raises the
plain pydantic error for the same reason.

Example:
    >>> class Point(StrictModel):
    ...     x: int
    >>> Point(x="one")
    Traceback (most recent call last):
    ...
    dagen.errors.ConfigValidationError: Point: invalid config
      x: Input should be a valid integer, unable to parse string as an integer
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict

from dagen.errors import ConfigValidationError

__all__ = ["StrictModel", "describe_errors", "validate_nested"]

M = TypeVar("M", bound=BaseModel)


_NAMED_LISTS = {"columns": ("column", "name"), "models": ("model", "alias")}  # list -> (what, key)


def _item_name(data: Any, field: str, key: str, index: int) -> str:
    try:
        item = data[field][index]
    except (KeyError, IndexError, TypeError):
        return "?"
    if isinstance(item, Mapping):
        return str(item.get(key, "?"))
    return str(getattr(item, key, "?"))


def _where(loc: tuple[int | str, ...], data: Any, subject: str | None) -> str:
    """``column 'x' (columns[0]) field a.b`` for a column (or model) of a dataset, else ``a.b``."""
    if len(loc) >= 2 and loc[0] in _NAMED_LISTS and isinstance(loc[1], int):
        what, key = _NAMED_LISTS[str(loc[0])]
        subject = f"{what} {_item_name(data, str(loc[0]), key, loc[1])!r} ({loc[0]}[{loc[1]}])"
        loc = loc[2:]
    path = ".".join(str(p) for p in loc)
    if subject is None:
        return path or "(root)"
    return f"{subject} field {path}" if path else subject


def describe_errors(
    exc: pydantic.ValidationError, data: Any, source: str, subject: str | None = None
) -> str:
    """One line per error of ``exc``: where (column, field path) and what.

    Args:
        exc: the pydantic error.
        data: the input that was validated (to name columns by their ``name``).
        source: what was validated (a file, or a model's class name).
        subject: what the fields belong to (``column 'x'``), when not a whole dataset.

    Example:
        >>> class Point(StrictModel):
        ...     x: int
        >>> try:
        ...     Point.__pydantic_validator__.validate_python({"x": 1, "y": 2})
        ... except pydantic.ValidationError as exc:
        ...     print(describe_errors(exc, {}, "point.yaml"))
        point.yaml: invalid config
          y: unknown field
    """
    lines = [f"{source}: invalid config"]
    for err in exc.errors():
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        where = _where(tuple(err["loc"]), data, subject)
        # a whole-config check names its column itself
        lines.append(f"  {message}" if where == "(root)" else f"  {where}: {message}")
    return "\n".join(lines)


def validate_nested(model: type[M], value: Any) -> M:
    """``value`` validated as ``model`` inside another model's validator.

    Raises:
        pydantic.ValidationError: so that pydantic reports the errors at their location
            within the parent model.
    """
    return model.__pydantic_validator__.validate_python(value)  # type: ignore[no-any-return]


class StrictModel(BaseModel):
    """A frozen pydantic model that rejects unknown fields and raises ConfigValidationError."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            message = describe_errors(exc, data, type(self).__name__, type(self)._subject(data))
            raise ConfigValidationError(message) from exc

    # pydantic's own __init__ carries this mark; with it, nested models are built by
    # pydantic directly and their errors keep their location in the parent
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def _subject(cls, data: Any) -> str | None:
        """What the fields of ``data`` belong to, for error messages (None: nothing)."""
        return None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` (see ``pydantic.BaseModel.model_validate``).

        Raises:
            ConfigValidationError: naming each field at fault.
        """
        return cls.validate_from(obj, cls.__name__, **kwargs)

    @classmethod
    def validate_from(cls, obj: Any, source: str, **kwargs: Any) -> Self:
        """Validate ``obj``, naming ``source`` (a file, say) in the error.

        Raises:
            ConfigValidationError: naming each field at fault.
        """
        try:
            return super().model_validate(obj, **kwargs)
        except pydantic.ValidationError as exc:
            message = describe_errors(exc, obj, source, cls._subject(obj))
            raise ConfigValidationError(message) from exc

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate JSON text (see ``pydantic.BaseModel.model_validate_json``).

        Raises:
            ConfigValidationError: naming each field at fault.
        """
        try:
            return super().model_validate_json(json_data, **kwargs)
        except pydantic.ValidationError as exc:
            raise ConfigValidationError(describe_errors(exc, None, cls.__name__)) from exc
