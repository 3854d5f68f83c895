"""Sampler constraints in the config: DD's fields, the type inferred from ``rhs``, and the
errors that name the constraint and the field at fault."""

from __future__ import annotations

from typing import Any

import pytest

from dagen.config.constraints import ColumnInequalityConstraint, ScalarInequalityConstraint
from dagen.config.dataset import DatasetConfig
from dagen.errors import ConfigValidationError
from dagen.graph import ColumnGraph

COLUMNS = [
    {"name": "low", "column_type": "sampler", "sampler_type": "uniform",
     "params": {"low": 0, "high": 1}},
    {"name": "high", "column_type": "sampler", "sampler_type": "uniform",
     "params": {"low": 0, "high": 1}},
    {"name": "label", "column_type": "expression", "expr": "{{ low }}"},
]  # fmt: skip


def config(*constraints: dict[str, Any]) -> DatasetConfig:
    return DatasetConfig.from_dict({"columns": COLUMNS, "constraints": list(constraints)})


def error(*constraints: dict[str, Any]) -> str:
    with pytest.raises(ConfigValidationError) as info:
        config(*constraints)
    return str(info.value)


def test_the_constraint_type_is_given_or_inferred_from_the_rhs():
    cfg = config(
        {"target_column": "high", "operator": "gt", "rhs": "low"},
        {"target_column": "high", "operator": "le", "rhs": 0.9},
        {"target_column": "low", "operator": "ge", "rhs": 0.1,
         "constraint_type": "scalar_inequality"},
    )  # fmt: skip

    assert [type(c) for c in cfg.constraints] == [
        ColumnInequalityConstraint,
        ScalarInequalityConstraint,
        ScalarInequalityConstraint,
    ]
    assert [c.describe() for c in cfg.constraints_on("high")] == [
        "column_inequality high > low",
        "scalar_inequality high <= 0.9",
    ]


def test_a_column_inequality_makes_the_target_read_the_other_column():
    graph = ColumnGraph.from_config(
        config({"target_column": "high", "operator": "gt", "rhs": "low"})
    )

    assert graph.upstream["high"] == {"low"}
    assert graph.order.index("low") < graph.order.index("high")


def test_a_constraint_on_an_unknown_or_non_sampler_column_is_rejected():
    assert "constraints[0] (scalar_inequality hihg > 1.0): target_column 'hihg' is unknown" in (
        error({"target_column": "hihg", "operator": "gt", "rhs": 1})
    )
    message = error(
        {"target_column": "low", "operator": "lt", "rhs": 1},
        {"target_column": "label", "operator": "lt", "rhs": 1},
    )
    assert "constraints[1] (scalar_inequality label < 1.0): target_column 'label' is not a " in (
        message
    )
    assert "sampler columns: high, low" in message
    assert "rhs 'hi' is not a column" in error(
        {"target_column": "low", "operator": "lt", "rhs": "hi"}
    )


def test_bad_fields_of_a_constraint_are_named():
    assert "constraints.0.scalar_inequality.operator: Input should be 'lt', 'le', 'gt' or 'ge'" in (
        error({"target_column": "low", "operator": "<", "rhs": 1})
    )
    assert "constraint_type must be scalar_inequality or column_inequality" in error(
        {"target_column": "low", "operator": "lt", "rhs": 1, "constraint_type": "range"}
    )
    assert "unknown field" in error({"target_column": "low", "operator": "lt", "rhs": 1, "x": 1})
    assert "cannot be compared with itself" in error(
        {"target_column": "low", "operator": "lt", "rhs": "low"}
    )


def test_constraints_change_the_fingerprint():
    plain = config().fingerprint()
    assert config({"target_column": "low", "operator": "lt", "rhs": 0.5}).fingerprint() != plain
