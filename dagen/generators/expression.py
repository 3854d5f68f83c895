"""Expression generators: a Jinja2 template rendered per row in a sandbox.

The template is compiled once per process with ``StrictUndefined``, so a reference to a
variable the row does not have is an error naming the column and the variable rather
than an empty string. A row whose render or type conversion fails is dropped with that
reason; the other rows of the row group are kept.

Example:
    >>> gen = ExpressionGenerator(ExpressionColumnConfig(name="g", expr="Hi {{ who }}"), ("who",))
    >>> frame = pd.DataFrame({"who": ["Ada", "Leo"]})
    >>> gen.run_batch(frame, BatchContext("g", 0, 0, 2, seed=0)).frame["g"].tolist()
    ['Hi Ada', 'Hi Leo']
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dagen.config.columns import ExpressionColumnConfig
from dagen.errors import TemplateError, TemplateRenderError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator, failure_from

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["ExpressionGenerator", "Template", "build", "to_plain"]

_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


def to_plain(value: Any) -> Any:
    """A value as templates should see it (numpy scalars as Python, NaN as None)."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, float) and value != value:
        return None
    return value


class Template:
    """A compiled sandboxed template that names its column when it fails.

    Args:
        source: the Jinja2 text.
        column: the column it belongs to (for errors).
        what: what the template is ("expression", "prompt", "system prompt").
    """

    def __init__(self, source: str, column: str, what: str) -> None:
        self.source = source
        self.column = column
        self.what = what

    @cached_property
    def _compiled(self) -> jinja2.Template:
        try:
            return _ENV.from_string(self.source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"column {self.column!r}: {self.what} does not compile: {exc}"
            ) from exc

    def render(
        self, row: dict[str, Any], row_group: int | None = None, index: int | None = None
    ) -> str:
        """Render for one row.

        Raises:
            TemplateRenderError: a variable is missing or the template raised.
        """
        try:
            return self._compiled.render({k: to_plain(v) for k, v in row.items()})
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(
                f"column {self.column!r}: {self.what} references a missing variable: {exc.message}",
                column=self.column,
                row_group=row_group,
                row=index,
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(
                f"column {self.column!r}: {self.what} failed to render: {exc}",
                column=self.column,
                row_group=row_group,
                row=index,
            ) from exc

    def __getstate__(self) -> dict[str, Any]:
        return {"source": self.source, "column": self.column, "what": self.what}


_CASTS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": lambda s: int(float(s)),
    "float": float,
    "bool": lambda s: s.strip().lower() in ("true", "1", "yes"),
}

# dtype -> the pandas dtype of a column of nulls that keeps the type in Arrow
_NULLABLE = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean"}


class ExpressionGenerator(ColumnGenerator):
    """A full-column generator rendering one template per row."""

    def __init__(self, config: ExpressionColumnConfig, reads: tuple[str, ...]) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.template = Template(config.expr, config.name, "expression")
        self.cast = _CASTS[config.dtype]
        self.value_type = _NULLABLE[config.dtype]

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        values: dict[int, Any] = {}
        failures = {}
        columns = list(frame.columns)
        for index, row in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
            try:
                values[index] = self.cast(
                    self.template.render(dict(zip(columns, row, strict=True)), ctx.row_group, index)
                )
            except TemplateError:
                raise
            except Exception as exc:
                failures[int(index)] = failure_from(exc, self.column, ctx.row_group, int(index))
        series = pd.Series(
            list(values.values()), index=pd.Index(list(values), dtype="int64"), dtype=object
        )
        return ColumnBlock(pd.DataFrame({self.column: series}), failures)


def build(config: ExpressionColumnConfig, context: BuildContext) -> ExpressionGenerator:
    """The generator of an expression column (the ``expression`` column type's factory)."""
    return ExpressionGenerator(config, context.reads)
