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
      - alias: embedder                       # an embedding model (DD's EmbeddingInferenceParams)
        model: nvidia/nv-embedqa-e5-v5
        inference_parameters: {generation_type: embedding, dimensions: 256}
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from dagen.config.base import StrictModel

__all__ = [
    "GENERATION_TYPES",
    "SERVING_FIELDS",
    "Distribution",
    "InferenceParameters",
    "ManualDistribution",
    "ManualDistributionParams",
    "ModelConfig",
    "Pricing",
    "UniformDistribution",
    "UniformDistributionParams",
]


class UniformDistributionParams(StrictModel):
    """Bounds of a uniform draw: ``low`` (inclusive) to ``high`` (exclusive)."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> UniformDistributionParams:
        if self.low >= self.high:
            raise ValueError("low must be less than high")
        return self


class UniformDistribution(StrictModel):
    """A value drawn uniformly from [low, high) for each request."""

    distribution_type: Literal["uniform"] = "uniform"
    params: UniformDistributionParams

    def sample(self, rng: random.Random) -> float:
        """One draw."""
        return rng.uniform(self.params.low, self.params.high)

    def bounds(self) -> tuple[float, float]:
        return self.params.low, self.params.high


class ManualDistributionParams(StrictModel):
    """Values to draw from, with optional weights (equal when omitted)."""

    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> ManualDistributionParams:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("values and weights must have the same length")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and sum to more than 0")
        return self


class ManualDistribution(StrictModel):
    """A value drawn from ``values`` (with ``weights``) for each request."""

    distribution_type: Literal["manual"] = "manual"
    params: ManualDistributionParams

    def sample(self, rng: random.Random) -> float:
        """One draw."""
        return float(rng.choices(self.params.values, weights=self.params.weights)[0])

    def bounds(self) -> tuple[float, float]:
        return min(self.params.values), max(self.params.values)


Distribution = Annotated[
    UniformDistribution | ManualDistribution, Field(discriminator="distribution_type")
]

_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}

GENERATION_TYPES = ("chat-completion", "embedding", "image")
_CHAT_ONLY = ("temperature", "top_p", "max_tokens")
_EMBEDDING_ONLY = ("dimensions", "encoding_format")


class InferenceParameters(StrictModel):
    """Parameters sent with every request to a model.

    ``generation_type`` says what the model does: ``chat-completion`` (LLM columns) or
    ``embedding`` (embedding columns, ``/v1/embeddings``) or ``image`` (image columns,
    ``/v1/images/generations``: their options go in ``extra_body``). As in Data Designer, a model
    whose parameters name ``dimensions`` or ``encoding_format`` is an embedding model
    without saying so; sampling parameters on an embedding model (or embedding
    parameters on a chat model) are an error.

    ``temperature`` and ``top_p`` are a number or a distribution drawn for each request
    (Data Designer's shape), deterministic from the run seed, the column and the row:

        temperature: {distribution_type: uniform, params: {low: 0.5, high: 1.0}}
        top_p: {distribution_type: manual, params: {values: [0.9, 1.0], weights: [3, 1]}}

    Attributes:
        generation_type: ``chat-completion`` (the default), ``embedding`` or ``image``.
        temperature: sampling temperature; the endpoint's default when None.
        top_p: nucleus sampling; the endpoint's default when None.
        max_tokens: cap on completion tokens; the endpoint's default when None.
        dimensions: embedding models: length of each vector; the model's own when None.
        encoding_format: embedding models: ``float`` (the default) or ``base64`` on the
            wire; dagen stores floats either way.
        extra_body: extra JSON fields merged into the request body (e.g. vLLM's
            ``guided_json`` or a ``reasoning_effort``).
    """

    generation_type: Literal["chat-completion", "embedding", "image"] = "chat-completion"
    temperature: float | Distribution | None = None
    top_p: float | Distribution | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    encoding_format: Literal["float", "base64"] | None = None
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _embedding_when_implied(cls, data: Any) -> Any:
        implied = isinstance(data, dict) and "generation_type" not in data
        if implied and any(data.get(name) is not None for name in _EMBEDDING_ONLY):
            return {**data, "generation_type": "embedding"}
        return data

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> InferenceParameters:
        wrong = {"embedding": _CHAT_ONLY, "image": _CHAT_ONLY + _EMBEDDING_ONLY}.get(
            self.generation_type, _EMBEDDING_ONLY
        )
        given = [name for name in wrong if getattr(self, name) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} cannot be set when generation_type is {self.generation_type}"
            )
        return self

    @field_validator("temperature", "top_p")
    @classmethod
    def _in_range(cls, value: Any, info: Any) -> Any:
        low, high = _RANGES[info.field_name]
        if value is None:
            return value
        seen = value.bounds() if hasattr(value, "bounds") else (value, value)
        if seen[0] < low or seen[1] > high:
            raise ValueError(f"{info.field_name} must be between {low:g} and {high:g}")
        return value

    def draw(self, rng: random.Random) -> dict[str, float]:
        """The values of this request's distribution-valued parameters (fixed ones are
        sent as they are)."""
        return {
            name: value.sample(rng)
            for name in ("temperature", "top_p")
            if hasattr(value := getattr(self, name), "sample")
        }


class Pricing(StrictModel):
    """What a model's tokens cost, in USD per million tokens, as the user declares it
    (dagen keeps no price table: prices change and differ by contract).

    Prices never change the data: they are not part of the config's fingerprint, and a
    resumed run may change them (each row group keeps the prices it was costed at).

    Attributes:
        input_per_million: USD per million prompt (input) tokens.
        output_per_million: USD per million completion (output) tokens; an embedding
            model has none, so it may be left at 0.

    Example:
        >>> Pricing(input_per_million=0.15, output_per_million=0.6).cost(1_000_000, 500_000)
        0.45
    """

    input_per_million: float = Field(ge=0, allow_inf_nan=False)
    output_per_million: float = Field(default=0.0, ge=0, allow_inf_nan=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for ``prompt_tokens`` in and ``completion_tokens`` out."""
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


# model fields that say where and how hard a model is served, or what it costs: not what it
# generates (left out of every fingerprint: ``DatasetConfig.fingerprint``, per column)
SERVING_FIELDS = frozenset(
    {
        "endpoint",
        "provider",
        "provider_type",
        "api_key_env",
        "extra_headers",
        "skip_health_check",
        "timeout",
        "max_parallel_requests",
        "max_retries",
        "pricing",
    }
)


class ModelConfig(StrictModel):
    """One model reachable over an OpenAI-compatible ``/v1`` API.

    Attributes:
        alias: the name columns use to refer to this model.
        model: the model name sent in requests.
        endpoint: base URL ending in ``/v1``; None (and no ``provider``) means the bundled
            mock server, which dagen starts on loopback for offline runs.
        provider: the name of a provider (``dagen.config.providers``) that gives the
            endpoint, key variable, extra body fields and headers; excludes ``endpoint``.
        provider_type: the API the endpoint speaks: ``openai`` (chat completions, the
            default) or ``anthropic`` (the Messages API, ``dagen.inference.anthropic``);
            a model served by a provider takes the provider's.
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
        pricing: USD per million input and output tokens (``Pricing``); None when not
            declared (tokens are still counted; the cost then names the model as unpriced).
    """

    alias: str = Field(min_length=1)
    model: str = Field(min_length=1)
    endpoint: str | None = None
    provider: str | None = Field(default=None, min_length=1)
    provider_type: Literal["openai", "anthropic"] = "openai"
    api_key_env: str | None = None
    extra_headers: dict[str, str] = Field(default_factory=dict)
    skip_health_check: bool = False
    inference_parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    timeout: float = Field(default=120.0, gt=0)
    max_parallel_requests: int = Field(default=16, ge=1)
    max_retries: int = Field(default=5, ge=0)
    pricing: Pricing | None = None

    @model_validator(mode="after")
    def _endpoint_or_provider(self) -> ModelConfig:
        if self.provider is not None and (self.endpoint is not None or self.api_key_env):
            raise ValueError(
                f"model {self.alias!r} names provider {self.provider!r} and sets endpoint or "
                "api_key_env too; the provider gives both: keep one"
            )
        return self

    @property
    def generation_type(self) -> str:
        """``chat-completion``, ``embedding`` or ``image`` (from the inference parameters)."""
        return self.inference_parameters.generation_type

    @field_validator("endpoint")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host (and a valid port, when given)."""
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError on a port out of range)
        except ValueError as exc:
            raise ValueError(f"endpoint {value!r} is not a URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"endpoint {value!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)"
            )
        return value
