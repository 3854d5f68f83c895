"""Model (LLM endpoint) settings: which endpoint, which model, how hard to push it.

A column names a model by ``alias``; the alias maps to one ``ModelConfig``. The API key is
never part of the config: ``api_key_env`` names the environment variable that holds it, and
the key is read from the environment where the call is made.

Example (YAML):
    models:
      - alias: writer
        model: meta/llama-3.1-8b-instruct
        endpoint: http://127.0.0.1:8000/v1
        api_key_env: NIM_API_KEY
        max_parallel_requests: 32
      - alias: judge                 # served from a named provider (see dagen.config.providers)
        model: meta/llama-3.1-70b-instruct
        provider: nim
        inference_parameters: {temperature: 0.7, max_tokens: 512}
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from dagen.config.base import StrictModel

__all__ = ["InferenceParameters", "ModelConfig"]


class InferenceParameters(StrictModel):
    """Sampling parameters sent with every request to a model.

    Attributes:
        temperature: sampling temperature; the endpoint's default when None.
        top_p: nucleus sampling; the endpoint's default when None.
        max_tokens: cap on completion tokens; the endpoint's default when None.
        extra_body: extra JSON fields merged into the request body (e.g. vLLM's
            ``guided_json`` or a ``reasoning_effort``).
    """

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    extra_body: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(StrictModel):
    """One model reachable over an OpenAI-compatible ``/v1`` API.

    Attributes:
        alias: the name columns use to refer to this model.
        model: the model name sent in requests.
        endpoint: base URL ending in ``/v1``; None (and no ``provider``) means the bundled
            mock server, which dagen starts on loopback for offline runs.
        provider: the name of a provider (``dagen.config.providers``) that gives the
            endpoint, key variable, extra body fields and headers; excludes ``endpoint``.
        api_key_env: name of the environment variable holding the API key; None when the
            endpoint needs no key.
        extra_headers: HTTP headers sent with every request to this model.
        skip_health_check: do not ask the endpoint ``GET /models`` before the run (for
            endpoints that reject it).
        inference_parameters: sampling parameters.
        timeout: seconds to wait for one response before the call counts as timed out.
        max_parallel_requests: cap on calls in flight to this model across the whole
            cluster.
        max_retries: retries of a retryable failure (429, 5xx, timeout) within one cell.
    """

    alias: str = Field(min_length=1)
    model: str = Field(min_length=1)
    endpoint: str | None = None
    provider: str | None = Field(default=None, min_length=1)
    api_key_env: str | None = None
    extra_headers: dict[str, str] = Field(default_factory=dict)
    skip_health_check: bool = False
    inference_parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    timeout: float = Field(default=120.0, gt=0)
    max_parallel_requests: int = Field(default=16, ge=1)
    max_retries: int = Field(default=5, ge=0)

    @model_validator(mode="after")
    def _endpoint_or_provider(self) -> ModelConfig:
        if self.provider is not None and (self.endpoint is not None or self.api_key_env):
            raise ValueError(
                f"model {self.alias!r} names provider {self.provider!r} and sets endpoint or "
                "api_key_env too; the provider gives both: keep one"
            )
        return self
