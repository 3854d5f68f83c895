"""Sampler constraints (DD's ``constraints:``): inequalities a sampler column must satisfy.

A constraint names a ``target_column`` (a sampler column), an ``operator`` (``lt``, ``le``,
``gt``, ``ge``) and a right-hand side: a number (``scalar_inequality``) or another
column's name (``column_inequality``, which makes the target read that column).
``constraint_type`` may be left out: a number means scalar, a name means column. They are
met by rejection sampling, in the sampler's generator: the rows of a row group that
violate a constraint of the column are drawn again until every row holds, at most
``MAX_REJECTION_ROUNDS`` times, after which the run stops with a ``ConstraintError``
naming the constraint.

Example (YAML)::

    constraints:
      - {target_column: age, operator: ge, rhs: 18}
      - {target_column: end, operator: gt, rhs: start, constraint_type: column_inequality}

    >>> c = ScalarInequalityConstraint(target_column="age", operator="ge", rhs=18)
    >>> c.describe()
    'scalar_inequality age >= 18.0'
    >>> c.holds(pd.Series([17, 18]), pd.DataFrame()).tolist()
    [False, True]
"""

from __future__ import annotations

import operator as op
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Discriminator, Field, Tag, model_validator

from dagen.config.base import StrictModel

__all__ = [
    "MAX_REJECTION_ROUNDS",
    "ColumnInequalityConstraint",
    "Constraint",
    "ScalarInequalityConstraint",
]

MAX_REJECTION_ROUNDS = 1000  # redraws of a row group's violating rows before giving up

_OPERATORS = {"lt": (op.lt, "<"), "le": (op.le, "<="), "gt": (op.gt, ">"), "ge": (op.ge, ">=")}

Operator = Literal["lt", "le", "gt", "ge"]


class _Inequality(StrictModel):
    target_column: str = Field(min_length=1)
    operator: Operator

    def _rhs(self, frame: pd.DataFrame, n: int) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        """The constraint as text: ``scalar_inequality age >= 18.0``."""
        return (
            f"{self.constraint_type} {self.target_column} {_OPERATORS[self.operator][1]} {self.rhs}"  # type: ignore[attr-defined]
        )

    def holds(self, values: pd.Series, frame: pd.DataFrame) -> np.ndarray:
        """Which of ``values`` (indexed 0..n-1) satisfy the constraint; ``frame`` holds the
        columns the target reads (indexed by row position)."""
        compare = _OPERATORS[self.operator][0]
        rhs = self._rhs(frame, len(values))
        try:
            result = compare(values, rhs)
        except TypeError as exc:
            raise TypeError(f"{self.describe()}: cannot compare the values: {exc}") from exc
        return np.asarray(pd.Series(result).fillna(False), dtype=bool)


class ScalarInequalityConstraint(_Inequality):
    """``target_column`` compared with a number."""

    constraint_type: Literal["scalar_inequality"] = "scalar_inequality"
    rhs: float

    def _rhs(self, frame: pd.DataFrame, n: int) -> Any:
        return self.rhs


class ColumnInequalityConstraint(_Inequality):
    """``target_column`` compared with another column, row by row."""

    constraint_type: Literal["column_inequality"] = "column_inequality"
    rhs: str = Field(min_length=1)

    @model_validator(mode="after")
    def _not_itself(self) -> ColumnInequalityConstraint:
        if self.rhs == self.target_column:
            raise ValueError(f"rhs: {self.target_column!r} cannot be compared with itself")
        return self

    def _rhs(self, frame: pd.DataFrame, n: int) -> Any:
        column = frame[self.rhs].reindex(range(n))
        if pd.api.types.is_object_dtype(column) and column.map(type).eq(str).all():
            return pd.to_datetime(column)  # dates from a seed file or an expression
        return column.to_numpy()


def _kind(value: Any) -> str | None:
    """The constraint type of ``value``: given, or from the type of ``rhs``."""
    if isinstance(value, dict):
        given = value.get("constraint_type")
        if given is not None:
            return str(given)
        return "column_inequality" if isinstance(value.get("rhs"), str) else "scalar_inequality"
    return getattr(value, "constraint_type", None)


Constraint = Annotated[
    Annotated[ScalarInequalityConstraint, Tag("scalar_inequality")]
    | Annotated[ColumnInequalityConstraint, Tag("column_inequality")],
    Discriminator(
        _kind,
        custom_error_type="constraint_type",
        custom_error_message="constraint_type must be scalar_inequality or column_inequality",
    ),
]
