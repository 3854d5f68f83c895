"""Providers: models served from named endpoints, given in the config or a providers file."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import dagen
from dagen.config.providers import ProviderConfig, load_providers
from dagen.errors import ConfigSyntaxError, ConfigValidationError, ModelAuthError
from dagen.warnings import DagenWarning

pytestmark = pytest.mark.cluster


def reviews(models, providers=()) -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict({
        "seed": 1,
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["billing", "shipping"]}},
            {"name": "review", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "A review about {{ topic }}"},
        ],
        "models": models,
        "providers": list(providers),
    })  # fmt: skip


def test_a_data_designer_providers_file_is_read_as_it_is(tmp_path):
    path = tmp_path / "model_providers.yaml"
    path.write_text(
        "providers:\n"
        "  - name: nvidia\n"
        "    endpoint: https://integrate.api.nvidia.com/v1\n"
        "    provider_type: openai\n"
        "    api_key: NVIDIA_API_KEY\n"
        "    extra_body: null\n"
        "    extra_headers: null\n"
        "  - name: local\n"
        "    endpoint: http://127.0.0.1:8000/v1\n"
    )
    nvidia, local = load_providers(path)
    assert (nvidia.name, nvidia.api_key_env) == ("nvidia", "NVIDIA_API_KEY")
    assert (local.endpoint, local.api_key_env) == ("http://127.0.0.1:8000/v1", None)


def test_a_literal_key_in_a_providers_file_is_refused_naming_the_provider(tmp_path):
    path = tmp_path / "providers.json"
    path.write_text(json.dumps({"providers": [
        {"name": "openai", "endpoint": "https://api.openai.com/v1", "api_key": "sk-abc123"}]}))  # fmt: skip
    with pytest.raises(
        ConfigValidationError, match="provider 'openai' field api_key holds a key"
    ) as err:
        load_providers(path)
    assert "sk-abc123" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("providers: {name: x}\n", ConfigSyntaxError, "a 'providers' list"),
        ("- a\n", ConfigSyntaxError, "is a mapping"),
        ("providers:\n  - {name: x}\n", ConfigValidationError, "provider 'x' field endpoint"),
        ("providers:\n  - {name: x, endpoint: http://127.0.0.1:1/v1, provider_type: bedrock}\n",
         ConfigValidationError, "provider 'x' field provider_type"),
        ("providers:\n  - {name: x, endpoint: http://127.0.0.1:1/v1}\n"
         "  - {name: x, endpoint: http://127.0.0.1:2/v1}\n",
         ConfigValidationError, "'x' is defined twice"),
    ],
)  # fmt: skip
def test_a_bad_providers_file_is_named_with_what_is_wrong(tmp_path, text, error, message):
    path = tmp_path / "providers.yaml"
    path.write_text(text)
    with pytest.raises(error, match=message) as err:
        load_providers(path)
    assert str(path) in str(err.value)


def test_a_model_names_its_provider_or_its_endpoint_not_both():
    with pytest.raises(ConfigValidationError, match="names provider 'local' and sets endpoint"):
        reviews([{"alias": "writer", "model": "m", "provider": "local",
                  "endpoint": "http://127.0.0.1:1/v1"}])  # fmt: skip


def test_a_model_is_served_by_its_provider_with_the_providers_key(
    client, keyed_server, server_key, tmp_path, monkeypatch
):
    monkeypatch.setenv("TEAM_LLM_KEY", server_key)
    provider = {"name": "team", "endpoint": keyed_server.url, "api_key_env": "TEAM_LLM_KEY"}
    cfg = reviews([{"alias": "writer", "model": "mock-writer", "provider": "team"}], [provider])
    result = dagen.generate(cfg, 40, tmp_path / "out", client=client)
    assert result.to_pandas()["review"].str.len().min() > 0
    assert keyed_server.stats()["completed"] == 40
    # the config and its fingerprint do not depend on where the model is served
    served_elsewhere = reviews([{"alias": "writer", "model": "mock-writer",
                                 "endpoint": "http://127.0.0.1:9/v1"}])  # fmt: skip
    assert cfg.fingerprint() == served_elsewhere.fingerprint()
    assert server_key not in (tmp_path / "out" / "metadata.json").read_text()


def test_a_providers_headers_reach_the_server_and_never_the_metadata(
    client, keyed_server, server_key, tmp_path
):
    provider = {"name": "gateway", "endpoint": keyed_server.url,
                "extra_headers": {"Authorization": f"Bearer {server_key}"}}  # fmt: skip
    cfg = reviews([{"alias": "writer", "model": "mock-writer", "provider": "gateway"}], [provider])
    dagen.generate(cfg, 10, tmp_path / "out", client=client)
    assert keyed_server.stats()["completed"] == 10
    metadata = (tmp_path / "out" / "metadata.json").read_text()
    assert server_key not in metadata and "<hidden>" in metadata


def test_a_providers_file_replaces_the_configs_provider_of_the_same_name(
    client, keyed_server, server_key, tmp_path, monkeypatch
):
    monkeypatch.setenv("TEAM_LLM_KEY", "a-wrong-key")
    cfg = reviews(
        [{"alias": "writer", "model": "mock-writer", "provider": "team"}],
        [{"name": "team", "endpoint": keyed_server.url, "api_key_env": "TEAM_LLM_KEY"}],
    )
    with pytest.raises(ModelAuthError, match="'writer'"):
        dagen.generate(cfg, 5, tmp_path / "refused", client=client)
    monkeypatch.setenv("RIGHT_KEY", server_key)
    override = ProviderConfig(name="team", endpoint=keyed_server.url, api_key_env="RIGHT_KEY")
    dagen.generate(cfg.with_providers([override]), 5, tmp_path / "out", client=client)
    assert len(pd.read_parquet(tmp_path / "out" / "data")) == 5


def test_a_model_whose_provider_is_not_defined_is_answered_by_the_mock_with_a_warning(
    client, tmp_path
):
    cfg = reviews([{"alias": "writer", "model": "mock-writer", "provider": "nim"}])
    with pytest.warns(DagenWarning, match="model 'writer': provider 'nim' is not defined"):
        result = dagen.generate(cfg, 8, tmp_path / "out", client=client)
    assert len(result.to_pandas()) == 8


def test_an_unused_models_missing_provider_says_nothing(client, tmp_path):
    cfg = reviews([
        {"alias": "writer", "model": "mock-writer"},
        {"alias": "spare", "model": "other", "provider": "nowhere"},
    ])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", DagenWarning)
        dagen.generate(cfg, 4, tmp_path / "out", client=client)
