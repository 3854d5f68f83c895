"""Column configs: which columns each one reads, its side effects, and its own checks."""

from __future__ import annotations

import jinja2
import pydantic
import pytest

from dagen.config.columns import (
    CustomColumnConfig,
    ExpressionColumnConfig,
    LLMJudgeColumnConfig,
    LLMStructuredColumnConfig,
    LLMTextColumnConfig,
    SamplerColumnConfig,
    template_variables,
)
from dagen.errors import ConfigValidationError


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        ("Hi {{ name }}", {"name"}),
        ("Hi {{ p.name }} ({{ p['age'] }})", {"p"}),
        ("{{ name | upper }}{% if vip %}!{% endif %}", {"name", "vip"}),
        ("{% for item in basket %}{{ item.name }} x{{ qty }}{% endfor %}", {"basket", "qty"}),
        ("{% set n = count * 2 %}{{ n }} {{ label }}", {"count", "label"}),
        ("{{ a ~ b }} {{ c if d else e }}", {"a", "b", "c", "d", "e"}),
        ("no variables at all", set()),
    ],
)
def test_template_variables_are_the_top_level_names_a_template_reads(template, variables):
    assert template_variables(template) == variables


def test_template_variables_of_a_broken_template_raise():
    with pytest.raises(jinja2.TemplateSyntaxError):
        template_variables("{{ name ")


def test_an_expression_reads_its_template_variables():
    column = ExpressionColumnConfig(name="greeting", expr="Hi {{ person.first_name }}, {{ city }}")
    assert column.required_columns(["person", "city", "age"]) == {"person", "city"}
    assert column.strategy == "full_column"


def test_an_llm_column_reads_its_prompt_and_system_prompt():
    column = LLMTextColumnConfig(
        name="bio", prompt="Write about {{ person.first_name }}", system_prompt="You are {{ tone }}"
    )
    assert column.required_columns([]) == {"person", "tone"}
    assert column.strategy == "cell_by_cell"
    assert column.model_alias == "default"


def test_a_subcategory_reads_its_category_column_and_other_samplers_read_nothing():
    district = SamplerColumnConfig(
        name="district",
        sampler_type="subcategory",
        params={"category": "city", "values": {"Oslo": ["Frogner"]}},
    )
    assert district.required_columns(["city", "age"]) == {"city"}
    age = SamplerColumnConfig(name="age", sampler_type="uniform", params={"low": 0, "high": 1})
    assert age.required_columns(["city"]) == frozenset()


def test_declared_required_columns_are_trusted_without_importing_the_function():
    column = CustomColumnConfig.model_validate(
        {"name": "score", "function": "not_installed_anywhere:score", "required_columns": ["age"]}
    )
    assert column.required_columns(["age", "visits"]) == {"age"}


def test_llm_side_effect_columns_follow_their_options():
    plain = LLMTextColumnConfig(name="summary", prompt="x")
    traced = LLMTextColumnConfig(
        name="summary", prompt="x", with_trace=True, extract_reasoning_content=True
    )
    assert plain.side_effect_columns == ()
    assert traced.side_effect_columns == ("summary__reasoning_content", "summary__trace")


@pytest.mark.parametrize("name", ["summary__trace", "summary__reasoning_content"])
def test_a_column_may_not_be_named_like_a_side_effect(name):
    with pytest.raises(ConfigValidationError, match="may not end in"):
        ExpressionColumnConfig(name=name, expr="x")


def test_a_stateful_custom_column_must_be_full_column():
    with pytest.raises(ConfigValidationError, match="full_column"):
        CustomColumnConfig.model_validate({"name": "n", "function": "m:f", "stateful": True})
    column = CustomColumnConfig.model_validate(
        {"name": "n", "function": "m:f", "stateful": True, "generation_strategy": "full_column"}
    )
    assert column.stateful


@pytest.mark.parametrize("field", ["prompt", "system_prompt"])
def test_a_prompt_that_does_not_compile_is_rejected(field):
    fields = {"prompt": "ok", field: "{% if x %}"}
    with pytest.raises(ConfigValidationError, match="does not compile"):
        LLMTextColumnConfig(name="bio", **fields)


def test_a_structured_column_takes_its_schema_from_a_pydantic_model():
    class Answer(pydantic.BaseModel):
        text: str
        confidence: float

    column = LLMStructuredColumnConfig(name="answer", prompt="x", output_format=Answer)
    assert column.output_format["properties"].keys() == {"text", "confidence"}


def test_judge_score_options_are_keyed_by_text():
    judge = LLMJudgeColumnConfig.model_validate(
        {
            "name": "grade",
            "prompt": "Grade {{ answer }}",
            "scores": [{"name": "accuracy", "description": "d", "options": {1: "bad", 5: "good"}}],
        }
    )
    assert judge.scores[0].options == {"1": "bad", "5": "good"}


def test_with_trace_takes_data_designers_trace_types_and_the_old_flag():
    from dagen.config.columns import LLMTextColumnConfig, TraceType

    def trace(value):
        return LLMTextColumnConfig(name="t", prompt="p", with_trace=value)

    assert trace(True).with_trace is TraceType.ALL_MESSAGES
    assert trace(False).side_effect_columns == ()
    assert trace("last_message").side_effect_columns == ("t__trace",)
    with pytest.raises(ConfigValidationError, match="with_trace"):
        trace("some")


def test_a_skip_gate_reads_its_columns_as_inputs():
    from dagen.config.dataset import DatasetConfig
    from dagen.graph import ColumnGraph

    config = DatasetConfig.from_dict({"columns": [
        {"name": "n", "column_type": "sampler", "sampler_type": "poisson", "params": {"mean": 2}},
        {"name": "tier", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["a", "b"]}},
        {"name": "e", "column_type": "expression", "expr": "{{ n }}",
         "skip": {"when": "{{ tier == 'a' }}"}},
    ]})  # fmt: skip
    graph = ColumnGraph.from_config(config)
    assert graph.upstream["e"] == {"n", "tier"} and graph.requires["e"] == {"n"}
