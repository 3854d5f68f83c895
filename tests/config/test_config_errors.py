"""Config models built directly raise ConfigValidationError naming the field path.

Whether a config comes from a file, from ``model_validate`` or from a constructor call in
Python, a bad value is a ``DagenError`` whose message says where, with pydantic's own
error as its cause; errors of models nested in others keep their full location.
"""

from __future__ import annotations

import pydantic
import pytest

import dagen
from dagen.config.dataset import DatasetConfig
from dagen.errors import ConfigValidationError

UNIFORM = {"name": "x", "column_type": "sampler", "sampler_type": "uniform"}


def test_a_column_built_in_python_with_bad_params_names_the_column_and_field():
    with pytest.raises(ConfigValidationError) as info:
        dagen.SamplerColumnConfig(name="x", sampler_type="uniform", params={"low": 2, "high": 1})
    assert str(info.value) == (
        "SamplerColumnConfig: invalid config\n"
        "  column 'x' field params: high (1.0) must be greater than low (2.0)"
    )
    assert isinstance(info.value.__cause__, pydantic.ValidationError)
    assert isinstance(info.value, dagen.DagenError)


def test_a_model_config_built_in_python_names_each_bad_field():
    with pytest.raises(ConfigValidationError) as info:
        dagen.ModelConfig(alias="writer", model="m", timeout=0, max_parallel_requests=0)
    message = str(info.value)
    assert message.startswith("ModelConfig: invalid config\n")
    assert "  timeout: Input should be greater than 0" in message
    assert "  max_parallel_requests: Input should be greater than or equal to 1" in message


def test_model_validate_and_model_validate_json_raise_config_errors_too():
    with pytest.raises(ConfigValidationError, match="  model: Field required"):
        dagen.ModelConfig.model_validate({"alias": "writer"})
    with pytest.raises(ConfigValidationError, match="  seed: Input should be a valid integer"):
        DatasetConfig.model_validate_json('{"seed": "x", "columns": [{"column_type": "x"}]}')


def test_errors_of_nested_models_keep_their_location_in_the_dataset():
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig(
            columns=[
                {**UNIFORM, "params": {"low": 2, "high": 1}},
                {
                    "name": "verdict",
                    "column_type": "llm-judge",
                    "prompt": "Judge {{ x }}",
                    "scores": [{"name": "s", "description": "d", "options": {}}],
                },
            ],
            models=[{"alias": "default", "model": "m", "max_parallel_requests": 0}],
        )
    lines = str(info.value).splitlines()
    assert lines[0] == "DatasetConfig: invalid config"
    assert lines[1:] == [
        "  column 'x' (columns[0]) field params: high (1.0) must be greater than low (2.0)",
        "  column 'verdict' (columns[1]) field scores.0.options: "
        "Dictionary should have at least 1 item after validation, not 0",
        "  model 'default' (models[0]) field max_parallel_requests: "
        "Input should be greater than or equal to 1",
    ]


def test_columns_built_in_python_are_accepted_as_they_are():
    column = dagen.ExpressionColumnConfig(name="g", expr="{{ x }}")
    config = DatasetConfig(columns=[{**UNIFORM, "params": {"low": 0, "high": 1}}, column])
    assert config.column("g") is column
