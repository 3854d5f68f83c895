"""Runs whose model speaks Anthropic's Messages API (``provider_type: anthropic``), on a real
LocalCluster against the mock server's ``/v1/messages``."""

from __future__ import annotations

import json

import jsonschema
import pytest

import dagen

pytestmark = pytest.mark.cluster

KEY_ENV = "DAGEN_TEST_ANTHROPIC_RUN_KEY"
PROFILE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "level": {"type": "string", "enum": ["junior", "senior"]},
    },
    "required": ["name", "level"],
}


def config(server, *, provider: bool = False) -> dagen.DatasetConfig:
    model = {
        "alias": "claude",
        "model": "mock-claude",
        "max_parallel_requests": 8,
        "max_retries": 12,
        "pricing": {"input_per_million": 3.0, "output_per_million": 15.0},
    }
    if provider:
        model["provider"] = "anthropic"
    else:
        model.update(endpoint=server.url, provider_type="anthropic")
    providers = [
        {
            "name": "anthropic",
            "endpoint": server.url,
            "provider_type": "anthropic",
            "api_key_env": KEY_ENV,
        }
    ]
    return dagen.DatasetConfig.from_dict({
        "seed": 5,
        "models": [model],
        "providers": providers if provider else [],
        "columns": [
            {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []},
            {"name": "profile", "column_type": "llm-structured", "model_alias": "claude",
             "prompt": "Invent engineer number {{ n }}.", "output_format": PROFILE},
            {"name": "bio", "column_type": "llm-text", "model_alias": "claude",
             "system_prompt": "You write short bios.", "with_trace": True,
             "prompt": "Write a bio of {{ profile.name }}, a {{ profile.level }} engineer."},
            {"name": "verdict", "column_type": "llm-judge", "model_alias": "claude",
             "prompt": "Bio: {{ bio }}",
             "scores": [{"name": "clarity", "description": "Is it clear?",
                         "options": {1: "no", 2: "yes"}}]},
        ],
    })  # fmt: skip


def test_text_structured_and_judge_columns_through_the_messages_api_with_429s(
    server, client, tmp_path
):
    server.set(rate_limit_rate=0.2, retry_after=0.01, seed=7)
    out = tmp_path / "out"
    result = dagen.generate(config(server), 30, out, client=client,
                            settings=dagen.RunSettings(row_group_size=10))  # fmt: skip

    df = result.to_pandas()
    assert result.num_records == 30
    for profile in df["profile"]:
        jsonschema.validate(dict(profile), PROFILE)
    assert all(v["clarity"]["score"] in (1, 2) for v in df["verdict"])
    assert all(
        row.bio.startswith(f'"Write a bio of {row.profile["name"].split()[0]}')
        for row in df.itertuples()
    )
    assert [m["role"] for m in df["bio__trace"].iloc[0]] == ["system", "user", "assistant"]
    stats = server.stats()
    served = stats["by_model"]["mock-claude"]
    usage = result.usage["claude"]
    assert served["completed"] == usage["successes"] == 90  # no call went to chat/completions
    assert usage["rate_limited"] == stats["rate_limited"] > 0
    assert usage["prompt_tokens"] == served["prompt_tokens"] > 0
    assert usage["completion_tokens"] == served["completion_tokens"] > 0
    cost = json.loads((out / "metadata.json").read_text())["cost"]
    assert cost["tokens"]["claude"]["calls"] == 90
    expected = (3.0 * served["prompt_tokens"] + 15.0 * served["completion_tokens"]) / 1e6
    assert cost["by_model"]["claude"] == pytest.approx(expected)


def test_a_provider_of_type_anthropic_serves_its_models_with_their_key(
    keyed_server, server_key, client, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, server_key)
    result = dagen.generate(config(keyed_server, provider=True), 10, None, client=client)
    assert result.num_records == 10
    assert keyed_server.stats()["by_model"]["mock-claude"]["completed"] == 30
