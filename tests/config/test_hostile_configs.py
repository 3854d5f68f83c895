"""Configs written to hurt: each is refused when it loads, naming the file and what is wrong,
before a run could spend time or money on it."""

from __future__ import annotations

import pytest

import dagen
from dagen.config.dataset import MAX_CONFIG_NODES, DatasetConfig, load_config
from dagen.errors import ConfigSyntaxError, ConfigValidationError

CITY = {"name": "city", "column_type": "sampler", "sampler_type": "category",
        "params": {"values": ["Oslo", "Lima"]}}  # fmt: skip


def alias_bomb(levels: int = 9) -> str:
    """A few lines of YAML whose aliases expand to 9**levels values."""
    lines = ["columns:", "  - name: a", "    column_type: sampler", "    sampler_type: category",
             "    params:", "      values:", '        - &l0 ["x","x","x","x","x","x","x","x","x"]']  # fmt: skip
    for level in range(1, levels):
        lines.append(f"        - &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(60)  # expanded, the bomb would never finish
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())

    with pytest.raises(ConfigSyntaxError, match=f"more than {MAX_CONFIG_NODES:,} values"):
        load_config(path)


def test_aliases_that_stay_small_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(alias_bomb(levels=3))  # 729 values

    assert load_config(path).columns[0].name == "a"


def test_an_alias_that_refers_to_itself_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a\n  - *a\ncolumns: []\n")

    with pytest.raises(ConfigSyntaxError, match="an alias refers to itself"):
        load_config(path)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_config_nested_too_deep_is_refused(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text('{"columns": ' + "[" * 100_000 + "]" * 100_000 + "}")

    with pytest.raises(ConfigSyntaxError, match="nests too deeply"):
        load_config(path)


def test_a_config_that_is_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("columns: [{name: café}]\n".encode("latin-1"))

    with pytest.raises(ConfigSyntaxError, match=r"latin1.yaml: not UTF-8 text \(byte 0xe9"):
        load_config(path)


@pytest.mark.parametrize(
    "endpoint", ["not a url", "localhost:8000/v1", "http://", "http://h:abc/v1",
                 "http://h:99999/v1", "http://[::1/v1", "ftp://h/v1"],
)  # fmt: skip
def test_an_endpoint_that_is_not_an_http_url_is_refused_naming_the_model(endpoint):
    with pytest.raises(ConfigValidationError, match=r"model 'w' \(models\[0\]\) field endpoint"):
        DatasetConfig.from_dict(
            {"models": [{"alias": "w", "model": "m", "endpoint": endpoint}], "columns": [CITY]}
        )


def test_two_models_with_one_alias_are_refused():
    with pytest.raises(ConfigValidationError, match="alias 'w' is used by more than one model"):
        DatasetConfig.from_dict(
            {
                "models": [{"alias": "w", "model": "a"}, {"alias": "w", "model": "b"}],
                "columns": [CITY],
            }
        )


def test_a_judge_with_two_scores_of_one_name_is_refused():
    judge = {"name": "j", "column_type": "llm-judge", "prompt": "{{ city }}", "scores": [
        {"name": "q", "description": "a", "options": {1: "x"}},
        {"name": "q", "description": "b", "options": {2: "y"}}]}  # fmt: skip

    with pytest.raises(ConfigValidationError, match=r"column 'j' .*field scores: .*'q' appear"):
        DatasetConfig.from_dict({"models": [{"alias": "default", "model": "m"}],
                                 "columns": [CITY, judge]})  # fmt: skip


@pytest.mark.parametrize(
    "schema", [{"type": "objekt"}, {"type": "object", "properties": {"a": {"type": 3}}},
               {"type": "object", "required": "a"}],
)  # fmt: skip
def test_an_output_format_that_is_not_a_json_schema_is_refused(schema):
    column = {"name": "s", "column_type": "llm-structured", "prompt": "{{ city }}",
              "output_format": schema}  # fmt: skip

    with pytest.raises(
        ConfigValidationError, match=r"column 's' .*output_format: not a valid JSON schema"
    ):
        DatasetConfig.from_dict({"models": [{"alias": "default", "model": "m"}],
                                 "columns": [CITY, column]})  # fmt: skip


@pytest.mark.parametrize(
    ("sampler", "params", "convert_to"),
    [("category", {"values": ["Oslo", "Lima"]}, "int"),
     ("category", {"values": [1, None]}, "float"),
     ("datetime", {"start": "2021-01-01", "end": "2022-01-01"}, "int"),
     ("uuid", {}, "float"),
     ("person", {}, "str")],
)  # fmt: skip
def test_a_convert_to_the_values_cannot_take_is_refused(sampler, params, convert_to):
    column = {"name": "x", "column_type": "sampler", "sampler_type": sampler, "params": params,
              "convert_to": convert_to}  # fmt: skip

    with pytest.raises(
        ConfigValidationError, match=f"column 'x'.*convert_to '{convert_to}' cannot apply"
    ):
        DatasetConfig.from_dict({"columns": [column]})


def test_a_convert_to_the_values_can_take_is_kept():
    column = {"name": "x", "column_type": "sampler", "sampler_type": "category",
              "params": {"values": [1, "2", 3.5]}, "convert_to": "int"}  # fmt: skip

    assert DatasetConfig.from_dict({"columns": [column]}).columns[0].convert_to == "int"


def test_a_subcategory_missing_a_value_of_its_category_column_is_refused():
    area = {"name": "area", "column_type": "sampler", "sampler_type": "subcategory",
            "params": {"category": "city", "values": {"Oslo": ["Frogner"]}}}  # fmt: skip

    with pytest.raises(ConfigValidationError, match=r"column 'area' \(columns\[1\]\): .*'Lima'"):
        DatasetConfig.from_dict({"columns": [CITY, area]})


def test_a_subcategory_of_a_column_with_unknown_values_is_left_to_the_run():
    city = {"name": "city", "column_type": "expression", "expr": "Oslo"}
    area = {"name": "area", "column_type": "sampler", "sampler_type": "subcategory",
            "params": {"category": "city", "values": {"Oslo": ["Frogner"]}}}  # fmt: skip

    assert len(dagen.DatasetConfig.from_dict({"columns": [city, area]}).columns) == 2


def test_a_template_nested_too_deep_to_compile_is_refused():
    deep = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"

    with pytest.raises(
        ConfigValidationError, match=r"column 'a' .*field expr: template nests too deeply"
    ):
        DatasetConfig.from_dict(
            {"columns": [{"name": "a", "column_type": "expression", "expr": deep}]}
        )
