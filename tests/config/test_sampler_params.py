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
        ("trials", "binomial", {"n": -1, "p": 0.5}, "params.n", "greater than or equal to 0"),
        (
            "wait",
            "scipy",
            {"dist_name": "gama", "dist_params": {"a": 2}},
            "params.dist_name",
            "scipy.stats has no distribution 'gama' (did you mean 'gamma'?)",
        ),
        (
            "wait",
            "scipy",
            {"dist_name": "ttest_ind", "dist_params": {}},
            "params.dist_name",
            "no distribution 'ttest_ind'",
        ),
        (
            "wait",
            "scipy",
            {"dist_name": "gamma", "dist_params": {"shape": 2}},
            "params.dist_params",
            "scipy.stats.gamma does not accept {'shape': 2}",
        ),
        (
            "wait",
            "scipy",
            {"dist_name": "gamma", "dist_params": {"a": -2}},
            "params.dist_params",
            "scipy.stats.gamma does not accept {'a': -2}",
        ),
        (
            "spend",
            "bernoulli_mixture",
            {"p": 0.5, "dist_name": "norm", "dist_params": {"loc": 0, "scale": -1}},
            "params.dist_params",
            "does not accept",
        ),
        ("spend", "bernoulli_mixture", {"p": 2, "dist_name": "norm"}, "params.p", "less than"),
        (
            "due",
            "timedelta",
            {"dt_min": 5, "dt_max": 5, "reference_column_name": "id"},
            "params",
            "dt_max (5) must be greater than dt_min (5)",
        ),
        (
            "due",
            "timedelta",
            {"dt_min": 1, "dt_max": 5, "reference_column_name": "id", "unit": "M"},
            "params.unit",
            "'D', 'h', 'm' or 's'",
        ),
        (
            "who",
            "person_from_faker",
            {"locale": "xx_XX"},
            "params.locale",
            "Faker has no locale 'xx_XX'",
        ),
        (
            "who",
            "person_from_faker",
            {"select_field_values": {"age": [3]}},
            "params",
            "'age' is not a field that can be selected",
        ),
        ("who", "person", {"locale": "en_XX"}, "params.locale", "for this language: en, en_AU"),
        ("who", "person", {"with_synthetic_personas": True}, "params", "does not bundle"),
        (
            "who",
            "person",
            {"select_field_values": {"email": ["a@b"]}},
            "params",
            "select_field_values: 'email' needs",
        ),
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


def test_conditional_params_are_checked_against_the_sampler_and_conditions_must_parse():
    column = {"name": "income", "column_type": "sampler", "sampler_type": "gaussian",
              "params": {"mean": 1}}  # fmt: skip
    bad_params = {**column, "conditional_params": {"age > 65": {"mean": 2, "stdev": 1}}}
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict({"columns": [bad_params]})
    assert (
        "column 'income' (columns[0]) field conditional_params.age > 65.stdev: unknown field"
        in (str(info.value))
    )
    bad_condition = {**column, "conditional_params": {"age >": {"mean": 2}}}
    with pytest.raises(ConfigValidationError, match="condition 'age >' is not an expression"):
        DatasetConfig.from_dict({"columns": [bad_condition]})
