"""Loading a dataset config from YAML or JSON, its errors, and its fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagen.config.columns import (
    CustomColumnConfig,
    ExpressionColumnConfig,
    LLMTextColumnConfig,
    SamplerColumnConfig,
)
from dagen.config.dataset import DatasetConfig, load_config
from dagen.errors import (
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    UnknownColumnError,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CITIES_YAML = """
    seed: 7
    columns:
      - name: city
        column_type: sampler
        sampler_type: category
        params: {values: [Oslo, Lima], weights: [3, 1]}
      - name: greeting
        column_type: expression
        expr: "Hi from {{ city }}"
    models:
      - alias: writer
        model: meta/llama-3.1-8b-instruct
        endpoint: http://127.0.0.1:8000/v1
        max_parallel_requests: 8
"""

CITIES = {
    "seed": 7,
    "columns": [
        {
            "name": "city",
            "column_type": "sampler",
            "sampler_type": "category",
            "params": {"values": ["Oslo", "Lima"], "weights": [3, 1]},
        },
        {"name": "greeting", "column_type": "expression", "expr": "Hi from {{ city }}"},
    ],
    "models": [
        {
            "alias": "writer",
            "model": "meta/llama-3.1-8b-instruct",
            "endpoint": "http://127.0.0.1:8000/v1",
            "max_parallel_requests": 8,
        }
    ],
}


def with_changes(**changes) -> DatasetConfig:
    data = json.loads(json.dumps(CITIES))
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return DatasetConfig.from_dict(data)


# -- loading -----------------------------------------------------------------------------


def test_a_yaml_config_loads_with_its_columns_in_order(write):
    path = write("cities.yaml", CITIES_YAML)
    config = load_config(path)
    assert config.seed == 7
    assert [c.name for c in config.columns] == ["city", "greeting"]
    assert isinstance(config.column("city"), SamplerColumnConfig)
    assert config.column("city").typed_params.weights == [3.0, 1.0]
    assert isinstance(config.column("greeting"), ExpressionColumnConfig)
    assert config.model("writer").max_parallel_requests == 8
    assert config.source_dir == path.parent.resolve()


def test_a_json_config_loads_like_the_same_yaml(write):
    from_json = load_config(write("cities.json", json.dumps(CITIES)))
    from_yaml = load_config(write("cities.yaml", CITIES_YAML))
    assert from_json == from_yaml
    assert from_json.fingerprint() == from_yaml.fingerprint()


def test_the_people_example_loads():
    config = load_config(EXAMPLES / "people.yaml")
    assert config.seed == 42
    assert isinstance(config.column("score"), CustomColumnConfig)
    assert config.column("score_rank").strategy == "full_column"


def test_unknown_column_and_model_names_are_config_errors_naming_what_exists():
    config = DatasetConfig.from_dict(CITIES)
    with pytest.raises(
        UnknownColumnError, match="no column named 'country'; columns: city, greeting"
    ):
        config.column("country")
    with pytest.raises(ConfigValidationError, match="no model with alias 'judge'; models: writer"):
        config.model("judge")


# -- syntax errors -------------------------------------------------------------------------


def test_invalid_yaml_names_the_file_and_the_line(write):
    path = write(
        "broken.yaml",
        """
        seed: 1
        columns:
          - name: city
            column_type: sampler: category
        """,
    )
    with pytest.raises(ConfigSyntaxError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "line 4" in str(info.value)


def test_invalid_json_names_the_file_and_the_line(write):
    path = write("broken.json", '{\n  "seed": 1,\n  "columns": [,]\n}\n')
    with pytest.raises(ConfigSyntaxError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "line 3" in str(info.value)


def test_a_yaml_list_is_not_a_config(write):
    path = write("list.yaml", "- name: city\n")
    with pytest.raises(ConfigSyntaxError, match="mapping"):
        load_config(path)


def test_a_missing_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


# -- validation errors ---------------------------------------------------------------------


def test_an_unknown_top_level_field_is_named(write):
    path = write("typo.yaml", CITIES_YAML + "    sed: 3\n")
    with pytest.raises(ConfigValidationError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "sed: unknown field" in message


def test_an_unknown_column_field_names_the_column_and_the_field():
    data = json.loads(json.dumps(CITIES))
    data["columns"][1]["exprr"] = "typo"
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    assert "column 'greeting' (columns[1]) field exprr: unknown field" in str(info.value)


def test_an_unknown_column_type_names_the_column_and_the_type():
    data = json.loads(json.dumps(CITIES))
    data["columns"][0]["column_type"] = "samplr"
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    message = str(info.value)
    assert "column 'city'" in message
    assert "column_type" in message
    assert "'samplr'" in message


def test_an_unknown_sampler_type_names_the_column_and_lists_the_known_ones():
    data = json.loads(json.dumps(CITIES))
    data["columns"][0]["sampler_type"] = "categorical"
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    message = str(info.value)
    assert "column 'city'" in message
    assert "sampler_type 'categorical'" in message
    assert "category" in message


def test_bad_jinja_in_an_expression_names_the_column():
    data = json.loads(json.dumps(CITIES))
    data["columns"][1]["expr"] = "Hi from {{ city "
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    assert "column 'greeting'" in str(info.value)
    assert "expr" in str(info.value)


def test_bad_jinja_in_a_prompt_names_the_column():
    data = json.loads(json.dumps(CITIES))
    data["columns"].append(
        {"name": "story", "column_type": "llm-text", "prompt": "{% for c in city %}{{ c }}"}
    )
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(data)
    assert "column 'story'" in str(info.value)
    assert "prompt" in str(info.value)


def test_a_config_without_columns_is_invalid():
    with pytest.raises(ConfigValidationError, match="columns"):
        DatasetConfig.from_dict({"seed": 1, "columns": []})


# -- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_ignores_key_order_whitespace_and_comments(write):
    reordered = write(
        "reordered.yaml",
        """
        # the same dataset, written differently
        models:
          - {max_parallel_requests: 8, endpoint: "http://127.0.0.1:8000/v1",
             model: meta/llama-3.1-8b-instruct, alias: writer}
        columns:
          - params:
              weights: [3, 1]
              values: [Oslo,   Lima]
            sampler_type: category
            column_type: sampler
            name: city
          - {expr: "Hi from {{ city }}", column_type: expression, name: greeting}
        seed: 7
        """,
    )
    original = write("original.yaml", CITIES_YAML)
    assert load_config(reordered).fingerprint() == load_config(original).fingerprint()


def test_fingerprint_changes_with_what_changes_the_data():
    base = DatasetConfig.from_dict(CITIES).fingerprint()
    assert with_changes(seed=8).fingerprint() != base
    assert with_changes(columns__0__params__weights=[1, 1]).fingerprint() != base
    assert with_changes(columns__1__expr="Hello from {{ city }}").fingerprint() != base
    assert with_changes(models__0__model="other-model").fingerprint() != base


def test_fingerprint_ignores_where_models_are_served_and_how_hard_they_are_pushed():
    base = DatasetConfig.from_dict(CITIES).fingerprint()
    assert with_changes(models__0__endpoint="https://example.com/v1").fingerprint() == base
    assert with_changes(models__0__max_parallel_requests=64).fingerprint() == base
    assert with_changes(models__0__api_key_env="OTHER_KEY").fingerprint() == base
    assert with_changes(models__0__timeout=5).fingerprint() == base
    assert with_changes(models__0__max_retries=0).fingerprint() == base


def loyalty(row):
    return row["visits"] * 2


def loyalty_v2(row):
    return row["visits"] * 3


def test_fingerprint_of_a_config_built_in_python_with_a_function():
    def config(function):
        return DatasetConfig.from_dict(
            {
                "seed": 1,
                "columns": [
                    {
                        "name": "visits",
                        "column_type": "sampler",
                        "sampler_type": "poisson",
                        "params": {"mean": 3},
                    },
                    CustomColumnConfig(name="loyalty", function=function),
                ],
            }
        )

    fingerprint = config(loyalty).fingerprint()
    assert fingerprint == config(loyalty).fingerprint()
    assert fingerprint != config(loyalty_v2).fingerprint()
    # to_dict writes the function by name, so the config can be recorded in metadata
    assert config(loyalty).to_dict()["columns"][1]["function"] == f"{__name__}:loyalty"


def test_python_built_columns_are_the_same_config_as_plain_data():
    built = DatasetConfig(
        seed=7,
        columns=[
            SamplerColumnConfig(
                name="city",
                sampler_type="category",
                params={"values": ["Oslo", "Lima"], "weights": [3, 1]},
            ),
            ExpressionColumnConfig(name="greeting", expr="Hi from {{ city }}"),
        ],
    )
    plain = {k: v for k, v in CITIES.items() if k != "models"}
    assert built.fingerprint() == DatasetConfig.from_dict(plain).fingerprint()
    assert LLMTextColumnConfig(name="s", prompt="x").strategy == "cell_by_cell"


def test_unquoted_yaml_dates_are_recorded_as_iso_text(write):
    def signup(start: str, end: str):
        return f"""
            seed: 1
            columns:
              - name: signup
                column_type: sampler
                sampler_type: datetime
                params: {{start: {start}, end: {end}}}
            """

    unquoted = load_config(write("unquoted.yaml", signup("2021-01-01", "2025-12-31")))
    quoted = load_config(write("quoted.yaml", signup('"2021-01-01"', '"2025-12-31"')))
    params = unquoted.to_dict()["columns"][0]["params"]
    assert params == {"start": "2021-01-01", "end": "2025-12-31"}
    json.dumps(unquoted.to_dict())  # the metadata file can hold it
    assert unquoted.fingerprint() == quoted.fingerprint()


def test_sampled_inference_parameters_are_drawn_from_their_distribution_deterministically():
    import random

    from dagen.config.models import InferenceParameters

    params = InferenceParameters(
        temperature={"distribution_type": "uniform", "params": {"low": 0.1, "high": 0.3}},
        top_p={"distribution_type": "manual", "params": {"values": [0.5, 1.0], "weights": [0, 1]}},
        max_tokens=10,
    )
    draws = [params.draw(random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1] and 0.1 <= draws[0]["temperature"] < 0.3
    assert draws[0]["top_p"] == 1.0  # a zero weight is never drawn
    assert InferenceParameters(temperature=0.5).draw(random.Random(1)) == {}
    with pytest.raises(ConfigValidationError, match="low must be less than high"):
        InferenceParameters(temperature={"distribution_type": "uniform",
                                         "params": {"low": 1, "high": 1}})  # fmt: skip
    with pytest.raises(ConfigValidationError, match="top_p must be between 0 and 1"):
        InferenceParameters(top_p=1.5)
