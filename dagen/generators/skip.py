"""Skipping rows of a column: the rule a generator carries, and the cells it leaves.

A column skips a row when its ``skip.when`` expression is truthy for the row, or, with
``propagate_skip`` (the default), when a column it requires was skipped in that row
(``dagen.config.skip``). The engine (``dagen.cluster.tasks``) asks the column's
``SkipRule`` before calling the generator; a skipped row is never given to it, so an LLM
column makes no call. What a skip leaves behind:

    cell by cell    a ``SkippedCell`` in the chunk: {output: value}, the type marks the skip
    full column     the row in the block's frame with the skip value, its index in
                    ``ColumnBlock.skipped``

Downstream, the skipped output columns of a row (the column and its side effects) are what
``propagate_skip`` looks at. A column that is null in every row keeps its type where the
generator declares one (``ColumnGenerator.value_type``).

Example:
    >>> rule = SkipRule("reply", ("reply", "reply__trace"), when="{{ tier == 'free' }}")
    >>> rule.applies({"tier": "free"}, frozenset()), rule.applies({"tier": "pro"}, frozenset())
    (True, False)
    >>> rule.cell()
    {'reply': None, 'reply__trace': None}
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd
from jinja2 import StrictUndefined, Template
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["SkipRule", "SkippedCell", "fill_skipped", "typed_nulls"]

log = logging.getLogger("dagen")


class _NativeSandbox(SandboxedEnvironment, NativeEnvironment):
    """A sandbox whose templates render to Python values (``{{ n > 2 }}`` is a bool)."""


_ENV = _NativeSandbox(undefined=StrictUndefined)


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Template:
    return _ENV.from_string(expression)


class SkippedCell(dict):  # type: ignore[type-arg]
    """The outputs of a skipped cell; its type tells downstream cells it was skipped."""


@dataclass(frozen=True)
class SkipRule:
    """When one column skips a row, and what the skipped cells hold.

    Attributes:
        column: the column.
        outputs: the column and its side-effect columns.
        when: the ``skip.when`` expression, or None.
        value: what the column's skipped cell holds (its side effects hold null).
        propagate: whether a skipped required column skips this one.
        requires: the columns the column requires (by output name).
    """

    column: str
    outputs: tuple[str, ...]
    when: str | None = None
    value: Any = None
    propagate: bool = True
    requires: frozenset[str] = frozenset()

    def applies(self, row: Mapping[str, Any], skipped: Collection[str]) -> bool:
        """Whether the row is skipped, given the output columns skipped upstream in it."""
        if self.propagate and not self.requires.isdisjoint(skipped):
            return True
        if self.when is None:
            return False
        try:
            return bool(_compiled(self.when).render(dict(row)))
        except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
            log.warning(
                "column %r: skip.when %r failed for a row (%s: %s); the row is skipped",
                self.column,
                self.when,
                type(exc).__name__,
                exc,
            )
            return True

    def cell(self) -> SkippedCell:
        """The outputs of a skipped cell."""
        return SkippedCell({o: self.value if o == self.column else None for o in self.outputs})


def typed_nulls(frame: pd.DataFrame, column: str, value_type: str | None) -> pd.DataFrame:
    """``frame`` with ``column`` cast to ``value_type`` when it holds nothing but nulls
    (a column skipped in every row of a row group still has its type in the file)."""
    if value_type is None or column not in frame.columns or frame[column].notna().any():
        return frame
    return frame.assign(**{column: frame[column].astype(value_type)})


def fill_skipped(
    frame: pd.DataFrame, rule: SkipRule, rows: Collection[int], value_type: str | None = None
) -> pd.DataFrame:
    """The generator's ``frame`` with the skipped ``rows`` added (skip values), row order."""
    if rows:
        index = pd.Index(sorted(rows), dtype="int64")
        filler = pd.DataFrame(
            {
                o: pd.Series([rule.cell()[o]] * len(index), index=index, dtype=object)
                for o in rule.outputs
            }
        )
        parts = [f.astype(object) for f in (frame, filler) if len(f)]
        # object columns: Arrow types ints with nulls as int64 (pandas would make floats)
        frame = pd.concat(parts).sort_index() if len(parts) > 1 else parts[0]
    return typed_nulls(frame, rule.column, value_type)
