"""Sampler columns: their params are checked against the sampler type when the config loads."""

from __future__ import annotations

from typing import Any

import pytest

from dagen.config.dataset import DatasetConfig
from dagen.config.samplers import CategoryParams, params_model
from dagen.errors import ConfigValidationError


def load_sampler(sampler_type: str, params: dict[str, Any], name: str = "col") -> DatasetConfig:
    """A config whose second column (columns[1]) is the sampler under test."""
    first = {"name": "id", "column_type": "sampler", "sampler_type": "uuid"}
    column = {"name": name, "column_type": "sampler", "sampler_type": sampler_type}
    return DatasetConfig.from_dict({"columns": [first, {**column, "params": params}]})


@pytest.mark.parametrize(
    ("name", "sampler_type", "params", "field", "reason"),
    [
        ("city", "category", {"values": ["Oslo", "Lima"], "weights": [1]}, "weights", "1 entries"),
        ("city", "category", {"values": ["Oslo", "Lima"], "weights": [0, 0]}, "weights", "zero"),
        ("city", "category", {"values": ["Oslo"], "weights": [-1]}, "weights", "non-negative"),
        ("age", "uniform", {"low": 90, "high": 18}, "high", "greater than low"),
        ("age", "uniform", {"low": 18, "high": 18}, "high", "greater than low"),
        ("signup", "datetime", {"start": "2025-01-01", "end": "2021-01-01"}, "end", "after start"),
        ("signup", "datetime", {"start": "2025-01-01", "end": "2025-01-01"}, "end", "after start"),
        ("visits", "poisson", {"mean": 0}, "mean", "greater than 0"),
        ("churned", "bernoulli", {"p": 1.5}, "p", "less than or equal to 1"),
        ("person", "person", {"age_range": [60, 20]}, "age_range", "low <= high"),
    ],
)
def test_bad_sampler_values_name_the_column_and_the_field(
    name, sampler_type, params, field, reason
):
    with pytest.raises(ConfigValidationError) as info:
        load_sampler(sampler_type, params, name=name)
    message = str(info.value)
    assert f"column {name!r} (columns[1])" in message
    assert field in message
    assert reason in message


def test_an_unknown_sampler_param_is_reported_under_params():
    with pytest.raises(ConfigValidationError) as info:
        load_sampler("uniform", {"low": 0, "hgh": 5}, name="age")
    message = str(info.value)
    assert "column 'age' (columns[1]) field params.hgh: unknown field" in message
    assert "column 'age' (columns[1]) field params.high: Field required" in message


def test_a_sampler_without_its_required_params_is_invalid():
    with pytest.raises(ConfigValidationError) as info:
        load_sampler("category", {}, name="city")
    assert "column 'city' (columns[1]) field params.values" in str(info.value)


def test_an_unknown_sampler_type_is_reported_under_sampler_type():
    with pytest.raises(ConfigValidationError) as info:
        load_sampler("gauss", {}, name="noise")
    message = str(info.value)
    assert "column 'noise' (columns[1]) field sampler_type" in message
    assert "gaussian" in message  # the known types are listed


def test_valid_params_are_typed_by_their_sampler():
    config = load_sampler("category", {"values": ["a", "b"], "weights": [3, 1]})
    assert config.column("col").typed_params == CategoryParams(values=["a", "b"], weights=[3, 1])
    assert params_model("uniform").model_validate({"low": 0, "high": 1}).decimal_places is None
    with pytest.raises(
        ConfigValidationError, match=r"unknown sampler_type 'gauss'; known: .*gaussian"
    ):
        params_model("gauss")
