"""Preflight: what a run needs from the outside world, checked before anything runs.

    1. every model an LLM column names is configured;
    2. a model naming a ``provider`` takes its endpoint, key variable and headers from it;
       a model without an ``endpoint`` (or whose provider is not defined, with a warning
       naming both) is served by the bundled mock server, which dagen starts on 127.0.0.1
       for the length of the run (configs point at a real endpoint, vLLM, NIM, OpenAI...,
       with ``endpoint`` and ``api_key_env``, or through a provider);
    3. the API keys are read from this process's environment (on a cluster dagen does not
       start, a key this process lacks is left to the workers, which read their own:
       ``dagen.cluster.keys``);
    4. each endpoint answers (``GET /models``) and accepts its key (a model whose key
       only the workers hold is not asked from here);
    5. the MCP providers of the columns' tool configs start and offer the tools asked for
       (``dagen.runner.tool_check``).

Only then is the run spec built and the output folder touched: a run that cannot call its
models never clears a good dataset.

Example:
    >>> with preflight(config) as ready:  # doctest: +SKIP
    ...     spec = RunSpec.build(ready.config, settings, 1000, api_keys=ready.api_keys)
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dagen.config.dataset import DatasetConfig
from dagen.config.models import ModelConfig
from dagen.config.providers import resolve_provider
from dagen.errors import (
    ConfigValidationError,
    MissingApiKeyError,
    ModelAuthError,
    ModelConnectionError,
)
from dagen.inference.client import ApiKey
from dagen.runner.tool_check import check_tools
from dagen.warnings import DagenWarning

__all__ = ["Preflight", "check_endpoints", "preflight", "read_api_keys", "resolved_models"]

log = logging.getLogger("dagen")

MOCK_LATENCY = 0.05  # seconds per answer of the embedded mock: enough to look like a model


@dataclass(frozen=True)
class Preflight:
    """A config ready to run: every model resolved to an endpoint that answered.

    Attributes:
        config: the config, models without an endpoint pointed at the mock server.
        api_keys: each model's API key, by alias (for models that have one).
    """

    config: DatasetConfig
    api_keys: Mapping[str, ApiKey]


@contextlib.contextmanager
def preflight(config: DatasetConfig, *, keys_on_workers: bool = False) -> Iterator[Preflight]:
    """The steps of the module docstring; the mock server, if started, lives as long as
    the context.

    Args:
        config: the config.
        keys_on_workers: the run goes to workers dagen does not start (a client, a
            scheduler address, a cluster class): a key variable unset here may be set
            there, and is not an error yet.

    Raises:
        ConfigError: an unknown model alias, or a key variable that is not set.
        ModelConnectionError: an endpoint is unreachable.
        ModelAuthError: an endpoint rejects its key.
        ConfigValidationError: a tool config cannot serve its columns (``check_tools``).
    """
    with resolved_models(config) as resolved:
        keys = read_api_keys(resolved, required=not keys_on_workers)
        check_endpoints(resolved, keys, skip=_keyed_elsewhere(resolved, keys))
        check_tools(resolved)
        yield Preflight(resolved, keys)


def _keyed_elsewhere(config: DatasetConfig, keys: Mapping[str, ApiKey]) -> frozenset[str]:
    """The models with a key variable this process lacks (their workers hold the key)."""
    return frozenset(m.alias for m in config.models if m.api_key_env and m.alias not in keys)


@contextlib.contextmanager
def resolved_models(config: DatasetConfig) -> Iterator[DatasetConfig]:
    """``config`` with every model's endpoint set, starting the mock server if needed.

    Raises:
        ConfigValidationError: an LLM column names a model alias that is not configured.

    """
    used = {a for c in config.columns for a in c.model_aliases}
    known = {m.alias for m in config.models}
    missing = sorted(used - known)
    if missing:
        users = [c.name for c in config.columns if set(c.model_aliases) & set(missing)]
        raise ConfigValidationError(
            f"column(s) {users} use model alias(es) {missing}, which are not in models "
            f"(known: {sorted(known) or 'none'})"
        )
    config = _served_by_providers(config, used)
    offline = [m for m in config.models if m.endpoint is None and m.alias in used]
    if not offline:
        yield config
        return
    from dagen.mock.handles import MockServerThread  # only when needed
    from dagen.mock.server import MockServerSettings

    with MockServerThread(MockServerSettings(port=0, latency=MOCK_LATENCY)) as server:
        url = server.url
        log.info(
            "model(s) %s have no endpoint: using the bundled mock server at %s",
            ", ".join(m.alias for m in offline),
            url,
        )
        models = [
            m.model_copy(update={"endpoint": url}) if m.endpoint is None else m
            for m in config.models
        ]
        resolved = config.model_copy(update={"models": models})
        resolved._source_dir = config.source_dir
        yield resolved


def _served_by_providers(config: DatasetConfig, used: set[str]) -> DatasetConfig:
    """``config`` with each model that names a provider given that provider's endpoint."""
    if not any(m.provider for m in config.models):
        return config
    models: list[ModelConfig] = []
    for model in config.models:
        served = resolve_provider(model, config.providers)
        if served is None:
            if model.alias in used:
                known = ", ".join(p.name for p in config.providers) or "none"
                warnings.warn(
                    f"model {model.alias!r}: provider {model.provider!r} is not defined "
                    f"(providers: {known}; add it to the config's providers: or pass "
                    "--providers FILE); the bundled mock server answers for it",
                    DagenWarning,
                    stacklevel=4,
                )
            served = model
        models.append(served)
    resolved = config.model_copy(update={"models": models})
    resolved._source_dir = config.source_dir
    return resolved


def read_api_keys(config: DatasetConfig, *, required: bool = True) -> dict[str, ApiKey]:
    """The API keys of the models LLM columns use, read from this process's environment.

    Workers read their own; a key is sent only to a worker that lacks its variable
    (``dagen.cluster.keys``). Keys are never logged or written (``ApiKey`` hides its value).

    Args:
        config: the config, models resolved.
        required: a variable that is not set is an error (else the key is left out).

    Raises:
        MissingApiKeyError: ``required`` and a model's ``api_key_env`` variable is not set
            or empty (a config problem: it names the model and the variable, never a value).
    """
    used = {a for c in config.columns for a in c.model_aliases}
    keys = {}
    for model in config.models:
        if model.alias not in used or not model.api_key_env:
            continue
        value = os.environ.get(model.api_key_env)
        if not value and not required:
            continue
        if not value:
            raise MissingApiKeyError(model.alias, model.api_key_env)
        keys[model.alias] = ApiKey(value)
    return keys


def check_endpoints(
    config: DatasetConfig,
    api_keys: Mapping[str, ApiKey],
    timeout: float = 10.0,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Fail fast, before anything runs, when a model's endpoint cannot be reached.

    Asks ``GET {endpoint}/models`` once per endpoint. Endpoints that do not serve that
    route are not faulted for it; only a refused connection, a timeout or rejected
    credentials stop the run. The models named in ``skip`` are not asked.

    Raises:
        ConfigValidationError: an endpoint is not an http(s) URL (naming the model).
        ModelConnectionError: the endpoint is unreachable (naming the model and endpoint).
        ModelAuthError: the endpoint rejects the model's credentials.
    """
    used = {a for c in config.columns for a in c.model_aliases}
    for model in config.models:
        if model.alias not in used or model.endpoint is None:
            continue
        url = urllib.parse.urlsplit(model.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigValidationError(
                f"model {model.alias!r} field endpoint: {model.endpoint!r} is not an http(s) "
                "URL (e.g. http://127.0.0.1:8000/v1)"
            )
        if model.skip_health_check or model.alias in skip:
            continue
        request = urllib.request.Request(
            model.endpoint.rstrip("/") + "/models", headers=model.extra_headers
        )
        if model.alias in api_keys:
            request.add_header("Authorization", f"Bearer {api_keys[model.alias].reveal()}")
            if model.provider_type == "anthropic":  # the Messages API reads x-api-key
                request.add_header("x-api-key", api_keys[model.alias].reveal())
                request.add_header("anthropic-version", "2023-06-01")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ModelAuthError(
                    f"model {model.alias!r}: {model.endpoint} rejected the credentials (HTTP {exc.code})"
                ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ModelConnectionError(
                f"model {model.alias!r}: endpoint {model.endpoint} is unreachable: {reason}"
            ) from None
