"""Model pricing: declared per model in USD, validated, never part of the fingerprint."""

from __future__ import annotations

import math

import pytest

import dagen
from dagen.errors import ConfigValidationError


def dataset(pricing=None) -> dagen.DatasetConfig:
    model = {"alias": "writer", "model": "m", **({"pricing": pricing} if pricing else {})}
    return dagen.DatasetConfig.from_dict({
        "models": [model],
        "columns": [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                     "prompt": "Hi"}],
    })  # fmt: skip


def test_pricing_is_read_and_priced_per_million_tokens():
    cfg = dataset({"input_per_million": 2.5, "output_per_million": 10})
    pricing = cfg.models[0].pricing
    assert pricing == dagen.Pricing(input_per_million=2.5, output_per_million=10.0)
    assert pricing.cost(1_000, 100) == pytest.approx(0.0035)


def test_an_embedding_model_needs_no_output_price():
    assert dagen.Pricing(input_per_million=0.02).output_per_million == 0.0


def test_prices_change_neither_the_fingerprint_nor_what_resume_compares():
    plain = dataset()
    assert dataset({"input_per_million": 1.0}).fingerprint() == plain.fingerprint()
    assert dataset({"input_per_million": 9.0}).fingerprint() == plain.fingerprint()


@pytest.mark.parametrize(
    ("pricing", "field"),
    [
        ({"input_per_million": -1.0}, "input_per_million"),
        ({"input_per_million": 1.0, "output_per_million": math.inf}, "output_per_million"),
        ({"input_per_million": math.nan}, "input_per_million"),
        ({"input_per_million": "cheap"}, "input_per_million"),
        ({"output_per_million": 1.0}, "input_per_million"),
        ({"input_per_million": 1.0, "per_call": 0.1}, "per_call"),
    ],
)
def test_a_bad_price_names_the_model_and_the_field(pricing, field):
    with pytest.raises(ConfigValidationError) as error:
        dataset(pricing)
    assert "models[0]" in str(error.value) or "writer" in str(error.value)
    assert f"pricing.{field}" in str(error.value)


def test_the_builder_sets_a_models_price():
    builder = dagen.ConfigBuilder(model_configs=[{"alias": "writer", "model": "m"}])
    builder.add_column(name="t", column_type="llm-text", model_alias="writer", prompt="Hi")
    builder.set_model_pricing("writer", input_per_million=1.0, output_per_million=4.0)
    assert builder.build().models[0].pricing == dagen.Pricing(
        input_per_million=1.0, output_per_million=4.0
    )
    with pytest.raises(ConfigValidationError, match=r"pricing\.input_per_million"):
        builder.set_model_pricing("writer", input_per_million=-2.0)
    with pytest.raises(ConfigValidationError, match="no model alias 'judge'"):
        builder.set_model_pricing("judge", input_per_million=1.0)


def test_max_cost_is_a_finite_number_of_dollars():
    assert dagen.RunSettings(max_cost=2.5).max_cost == 2.5
    with pytest.raises(ValueError, match="max_cost"):
        dagen.RunSettings(max_cost=-1)
    with pytest.raises(TypeError, match="max_cost"):
        dagen.RunSettings(max_cost="5")
