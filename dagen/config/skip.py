"""Conditional generation: ``skip`` (an expression gate) and what a skip means downstream.

Following Data Designer, any column other than a sampler or seed dataset may carry

    skip: {when: "{{ tier == 'free' }}", value: null}     # value: what a skipped cell holds
    propagate_skip: true                                  # the default

``when`` is a Jinja expression (with its ``{{ }}``) rendered per row to a native value;
a truthy result skips the row: the column's generator is not called for it (an LLM
column makes no model call), the cell holds ``value`` (null by default) and the column's
side-effect columns hold null. An expression that cannot be evaluated for a row (an
undefined variable, a type error) skips the row too: an unknown filter status never pays
for a model call. ``propagate_skip`` (default true) skips a row of a column when a column
it *reads* (its required columns, not the columns of its own ``when``) was skipped in that
row; set it to false for a column that copes with nulls.

Example:
    >>> gate = SkipConfig(when="{{ n > 2 }}")
    >>> sorted(gate.columns), gate.value
    (['n'], None)
"""

from __future__ import annotations

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import field_validator

from dagen.config.base import StrictModel

__all__ = ["SKIP_UNSUPPORTED", "SkipConfig"]

# column types whose generator makes several columns at once: a row cannot skip one of them
SKIP_UNSUPPORTED = frozenset({"sampler", "seed_dataset"})

_ENV = ImmutableSandboxedEnvironment()


class SkipConfig(StrictModel):
    """An expression gate: when ``when`` is truthy for a row, the column skips it.

    Attributes:
        when: a Jinja expression including its delimiters (``"{{ score < 3 }}"``) over
            other columns.
        value: what a skipped cell holds (null by default).
    """

    when: str
    value: bool | int | float | str | None = None

    @field_validator("when")
    @classmethod
    def _references_columns(cls, value: str) -> str:
        try:
            parsed = _ENV.parse(value)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(
                f"template does not compile: {exc.message} (line {exc.lineno})"
            ) from exc
        if not jinja2.meta.find_undeclared_variables(parsed):
            raise ValueError(
                f"skip.when {value!r} references no column; write the expression with its "
                "delimiters, e.g. '{{ in_stock == 0 }}'"
            )
        return value

    @property
    def columns(self) -> frozenset[str]:
        """The columns ``when`` reads."""
        return frozenset(jinja2.meta.find_undeclared_variables(_ENV.parse(self.when)))
