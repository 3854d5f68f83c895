"""Expression generators: a Jinja2 template rendered per row in a sandbox.

The template is compiled once per process with ``StrictUndefined``, so a reference to a
variable the row does not have is an error naming the column and the variable rather
than an empty string. A row whose render or type conversion fails is dropped with that
reason; the other rows of the row group are kept. Each render is bounded in time and in
the size of what it builds (``TemplateLimits``, enforced by ``dagen.generators.sandbox``);
once a render of a row group runs out of time, its remaining rows are dropped for the
same reason rather than given the same time each.

A template that is only text and plain variables (``"{{ city }}-{{ age }}"``: no filters,
attributes, tags or expressions) is rendered by joining the text with ``str`` of each
value, which is what Jinja's compiled code does for it, without the sandbox's machinery
(a tenth of the time). Whatever that join cannot do exactly as Jinja would (a variable
the row lacks, a value whose ``str`` raises, a result over ``max_value_bytes``) goes to the
sandboxed render, which raises its usual error. Such a template is joined for a whole row
group at once, each column's values made text once.

Example:
    >>> gen = ExpressionGenerator(ExpressionColumnConfig(name="g", expr="Hi {{ who }}"), ("who",))
    >>> frame = pd.DataFrame({"who": ["Ada", "Leo"]})
    >>> gen.run_batch(frame, BatchContext("g", 0, 0, 2, seed=0)).frame["g"].tolist()
    ['Hi Ada', 'Hi Leo']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.nodes
import pandas as pd

from dagen.config.columns import ExpressionColumnConfig
from dagen.config.run import TemplateLimits
from dagen.errors import TemplateError, TemplateLimitError, TemplateRenderError
from dagen.generators.base import BatchContext, ColumnBlock, ColumnGenerator, failure_from
from dagen.generators.sandbox import LimitedEnvironment, TemplateLimitExceeded, TemplateTimeout

if TYPE_CHECKING:
    from dagen.generators.build import BuildContext

__all__ = ["ExpressionGenerator", "Template", "build", "to_plain"]

_ENVIRONMENTS: dict[TemplateLimits, LimitedEnvironment] = {}  # one per limits, per process


def _environment(limits: TemplateLimits) -> LimitedEnvironment:
    if limits not in _ENVIRONMENTS:
        _ENVIRONMENTS[limits] = LimitedEnvironment(limits)
    return _ENVIRONMENTS[limits]


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
        limits: the time and size bounds of one render.
    """

    def __init__(
        self, source: str, column: str, what: str, limits: TemplateLimits | None = None
    ) -> None:
        self.source = source
        self.column = column
        self.what = what
        self.limits = limits or TemplateLimits()

    @property
    def _env(self) -> LimitedEnvironment:
        return _environment(self.limits)

    @cached_property
    def _compiled(self) -> jinja2.Template:
        try:
            return self._env.from_string(self.source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"column {self.column!r}: {self.what} does not compile: {exc}"
            ) from exc

    @cached_property
    def pieces(self) -> tuple[tuple[str, bool], ...] | None:
        """The template as (text, is a variable name) pieces when it is only text and plain
        variables, else None (see the module docstring)."""
        self._compiled  # noqa: B018  (a template that does not compile fails as it always did)
        pieces: list[tuple[str, bool]] = []
        for node in self._env.parse(self.source).body:
            if not isinstance(node, jinja2.nodes.Output):
                return None
            for child in node.nodes:
                if isinstance(child, jinja2.nodes.TemplateData):
                    pieces.append((child.data, False))
                elif isinstance(child, jinja2.nodes.Name) and child.ctx == "load":
                    pieces.append((child.name, True))
                else:
                    return None
        return tuple(pieces)

    def join(self, values: dict[str, Any]) -> str | None:
        """The render of a plain template (``pieces``) for ``values``, or None when only
        the sandboxed render can say what it is (see the module docstring)."""
        pieces = self.pieces
        if pieces is None:
            return None
        try:
            text = "".join(
                str(to_plain(values[piece])) if name else piece for piece, name in pieces
            )
        except Exception:  # a missing variable, a value whose str() raises
            return None
        return text if len(text) <= self.limits.max_value_bytes else None

    def join_columns(self, columns: Mapping[str, list[Any]], rows: int) -> list[str] | None:
        """``join`` for every row at once, the values given column by column (each
        value's ``str`` made once per column); None when a row needs the sandboxed render."""
        pieces = self.pieces
        if pieces is None or any(name and piece not in columns for piece, name in pieces):
            return None
        try:
            texts = {
                piece: [str(to_plain(v)) for v in columns[piece]] for piece, name in pieces if name
            }
        except Exception:  # a value whose str() raises: the render says what it is
            return None
        parts = [texts[piece] if name else [piece] * rows for piece, name in pieces]
        joined = ["".join(row) for row in zip(*parts, strict=True)] if parts else [""] * rows
        limit = self.limits.max_value_bytes
        return None if any(len(text) > limit for text in joined) else joined

    def render(
        self, row: dict[str, Any], row_group: int | None = None, index: int | None = None
    ) -> str:
        """Render for one row.

        Raises:
            TemplateRenderError: a variable is missing or the template raised.
            TemplateLimitError: the render went past ``limits`` (time or size).
        """
        joined = self.join(row)
        if joined is not None:
            return joined
        try:
            return self._env.render(self._compiled, {k: to_plain(v) for k, v in row.items()})
        except TemplateLimitExceeded as exc:
            setting = "render_seconds" if isinstance(exc, TemplateTimeout) else "max_value_bytes"
            error = TemplateLimitError(
                f"column {self.column!r}: {self.what} went past a limit: {exc} "
                f"(RunSettings.template_limits.{setting})",
                column=self.column,
                row_group=row_group,
                row=index,
            )
            error.setting = setting
            raise error from None
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
        return {
            "source": self.source,
            "column": self.column,
            "what": self.what,
            "limits": self.limits,
        }


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

    def __init__(
        self,
        config: ExpressionColumnConfig,
        reads: tuple[str, ...],
        limits: TemplateLimits | None = None,
    ) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.template = Template(config.expr, config.name, "expression", limits)
        self.cast = _CASTS[config.dtype]
        self.value_type = _NULLABLE[config.dtype]

    def generate_batch(self, frame: pd.DataFrame, ctx: BatchContext) -> ColumnBlock:
        joined = self._joined(frame)
        if joined is not None:
            return self._cast_all(frame.index, joined, ctx)
        values: dict[int, Any] = {}
        failures = {}
        columns = list(frame.columns)
        pieces = self.template.pieces
        if pieces is not None and all(p in frame.columns for p, name in pieces if name):
            columns = list(dict.fromkeys(p for p, name in pieces if name))  # only those read
        rows = (
            zip(*(frame[c].tolist() for c in columns), strict=True)
            if columns
            else iter(((),) * len(frame))
        )
        timed_out = None  # the failure of the render that ran out of time, if one did
        for index, row in zip(frame.index, rows, strict=True):
            if timed_out is not None:
                failures[int(index)] = replace(timed_out, row=int(index))
                continue
            try:
                values[index] = self.cast(
                    self.template.render(dict(zip(columns, row, strict=True)), ctx.row_group, index)
                )
            except TemplateError:
                raise
            except Exception as exc:
                failures[int(index)] = failure_from(exc, self.column, ctx.row_group, int(index))
                if getattr(exc, "setting", None) == "render_seconds":
                    timed_out = failures[int(index)]
        series = pd.Series(
            list(values.values()), index=pd.Index(list(values), dtype="int64"), dtype=object
        )
        return ColumnBlock(pd.DataFrame({self.column: series}), failures)

    def _joined(self, frame: pd.DataFrame) -> list[str] | None:
        """Every row's text of a plain template, made column by column (None: not plain)."""
        pieces = self.template.pieces
        if pieces is None or any(name and piece not in frame.columns for piece, name in pieces):
            return None
        read = dict.fromkeys(piece for piece, name in pieces if name)
        return self.template.join_columns({c: frame[c].tolist() for c in read}, len(frame))

    def _cast_all(self, index: pd.Index, texts: list[str], ctx: BatchContext) -> ColumnBlock:
        """The column of texts joined for each row, converted to its dtype (a row that
        does not convert is dropped with the reason)."""
        values: dict[int, Any] = {}
        failures = {}
        for row, text in zip(index.tolist(), texts, strict=True):
            try:
                values[row] = self.cast(text)
            except Exception as exc:
                failures[row] = failure_from(exc, self.column, ctx.row_group, row)
        series = pd.Series(
            list(values.values()), index=pd.Index(list(values), dtype="int64"), dtype=object
        )
        return ColumnBlock(pd.DataFrame({self.column: series}), failures)


def build(config: ExpressionColumnConfig, context: BuildContext) -> ExpressionGenerator:
    """The generator of an expression column (the ``expression`` column type's factory)."""
    return ExpressionGenerator(config, context.reads, context.template_limits)
