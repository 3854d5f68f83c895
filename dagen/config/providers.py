"""Model providers: where models are served, kept apart from what a dataset asks of them.

A provider is a named endpoint (an OpenAI-compatible ``/v1`` base URL), its type, the name
of the environment variable that holds its key, and extra body fields or headers sent with
every request. A model names its provider (``provider: nim``) instead of carrying an
endpoint, so one dataset config runs against a laptop's vLLM, a team's NIM or OpenAI by
changing only the providers. Providers come from a ``providers:`` section of the config or
from a providers file (``dagen run --providers FILE``, which accepts Data Designer's
``model_providers.yaml`` as it is); a file's provider replaces a config's of the same name.

Keys never live in files: a provider's ``api_key_env`` names a variable. Data Designer's
``api_key`` field is accepted when it names a variable (upper case, as Data Designer reads
it); a literal key in a file is refused, naming the provider.

Example (YAML):
    providers:
      - {name: nim, endpoint: "https://integrate.api.nvidia.com/v1", api_key_env: NVIDIA_API_KEY}
    models:
      - {alias: writer, model: meta/llama-3.1-8b-instruct, provider: nim}

Example (Python):
    >>> ProviderConfig.from_data_designer({"name": "local", "endpoint": "http://127.0.0.1:8000/v1",
    ...     "provider_type": "openai", "api_key": "LOCAL_KEY"}).api_key_env
    'LOCAL_KEY'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dagen.config.base import StrictModel
from dagen.errors import ConfigSyntaxError, ConfigValidationError

__all__ = [
    "ProviderConfig",
    "hide_headers",
    "load_providers",
    "merge_providers",
    "resolve_provider",
]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class ProviderConfig(StrictModel):
    """One place models are served from.

    Attributes:
        name: the name models refer to it by.
        endpoint: base URL of an OpenAI-compatible API (ending in ``/v1``).
        provider_type: the API's dialect: ``openai`` (which vLLM, NIM, SGLang, Ollama
            and OpenAI itself serve) or ``anthropic`` (Anthropic's Messages API).
        api_key_env: the environment variable holding the key; None when none is needed.
        extra_body: JSON fields merged into every request body (a model's own
            ``inference_parameters.extra_body`` wins on a clash).
        extra_headers: HTTP headers sent with every request.
    """

    name: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    provider_type: Literal["openai", "anthropic"] = "openai"
    api_key_env: str | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)
    extra_headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def _subject(cls, data: Any) -> str | None:
        name = data.get("name") if isinstance(data, Mapping) else None
        return f"provider {name!r}" if name is not None else "provider"

    @classmethod
    def from_data_designer(cls, data: Any, *, source: str = "providers") -> ProviderConfig:
        """A provider written in Data Designer's format (``api_key`` naming a variable).

        Raises:
            ConfigValidationError: a field is wrong, or ``api_key`` holds a literal key.
        """
        if not isinstance(data, Mapping):
            raise ConfigValidationError(f"{source}: a provider is a mapping, got {data!r:.60}")
        fields = {k: v for k, v in data.items() if v is not None}
        key = fields.pop("api_key", None)
        if key is not None:
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise ConfigValidationError(
                    f"{source}: provider {fields.get('name')!r} field api_key holds a key, not "
                    "the name of an environment variable; keys never live in files: set "
                    "the key in a variable and write its name (api_key: MY_PROVIDER_KEY)"
                )
            if fields.get("api_key_env", key) != key:
                raise ConfigValidationError(
                    f"{source}: provider {fields.get('name')!r} has both api_key and "
                    "api_key_env; keep one"
                )
            fields["api_key_env"] = key
        return cls.validate_from(fields, source)


def load_providers(path: str | Path) -> list[ProviderConfig]:
    """Read a providers file: ``providers:`` followed by a list, in YAML or JSON.

    Both dagen's fields (``api_key_env``) and Data Designer's (``api_key`` naming a
    variable) are accepted.

    Raises:
        ConfigSyntaxError: the file is missing, does not parse, or has no providers list.
        ConfigValidationError: a provider is invalid (naming it and the field).
    """
    from dagen.config.dataset import read_mapping

    path = Path(path)
    data = read_mapping(path, what="providers file")
    providers = data.get("providers")
    if not isinstance(providers, list):
        raise ConfigSyntaxError(f"{path}: a providers file is a mapping with a 'providers' list")
    found = [ProviderConfig.from_data_designer(p, source=str(path)) for p in providers]
    _check_unique(found, str(path))
    return found


def merge_providers(
    base: Iterable[ProviderConfig], override: Iterable[ProviderConfig]
) -> list[ProviderConfig]:
    """``base`` with each provider of ``override`` replacing the one of the same name.

    >>> a = ProviderConfig(name="a", endpoint="http://127.0.0.1:1/v1")
    >>> b = ProviderConfig(name="a", endpoint="http://127.0.0.1:2/v1")
    >>> [p.endpoint for p in merge_providers([a], [b])]
    ['http://127.0.0.1:2/v1']
    """
    merged = {p.name: p for p in base}
    merged.update({p.name: p for p in override})
    return list(merged.values())


def resolve_provider(model: Any, providers: Iterable[ProviderConfig]) -> Any:
    """``model`` (a ``ModelConfig``) served from its provider, or None when no provider of
    that name is known.

    The provider gives the endpoint, key variable and headers; its ``extra_body`` comes
    first and the model's own fields win. A model without a provider is returned as is.

    >>> from dagen.config.models import ModelConfig
    >>> nim = ProviderConfig(name="nim", endpoint="http://127.0.0.1:9/v1", api_key_env="K")
    >>> resolve_provider(ModelConfig(alias="w", model="m", provider="nim"), [nim]).endpoint
    'http://127.0.0.1:9/v1'
    """
    if model.provider is None:
        return model
    found = {p.name: p for p in providers}.get(model.provider)
    if found is None:
        return None
    params = model.inference_parameters
    extra_body = {**found.extra_body, **params.extra_body}
    return model.model_copy(
        update={
            "endpoint": found.endpoint,
            "provider_type": found.provider_type,
            "api_key_env": found.api_key_env,
            "extra_headers": {**found.extra_headers, **model.extra_headers},
            "inference_parameters": params.model_copy(update={"extra_body": extra_body}),
        }
    )


def hide_headers(config: dict[str, Any]) -> dict[str, Any]:
    """A config's data (``DatasetConfig.to_dict()``) with every header value hidden, for
    what dagen writes (headers may carry credentials).

    >>> hide_headers({"models": [{"extra_headers": {"X-Key": "s3cr3t"}}]})
    {'models': [{'extra_headers': {'X-Key': '<hidden>'}}]}
    """
    for entry in (*config.get("models", ()), *config.get("providers", ())):
        if entry.get("extra_headers"):
            entry["extra_headers"] = dict.fromkeys(entry["extra_headers"], "<hidden>")
    return config


def _check_unique(providers: list[ProviderConfig], source: str) -> None:
    seen: set[str] = set()
    for provider in providers:
        if provider.name in seen:
            raise ConfigValidationError(f"{source}: provider {provider.name!r} is defined twice")
        seen.add(provider.name)
