"""``ModelClient.embed`` against the real mock server process: vectors, retries, usage, errors."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from dagen.config.models import ModelConfig
from dagen.errors import ConfigValidationError, ModelOutputError, ModelRequestError, RateLimitError
from dagen.inference.client import ModelClient, RetryPolicy
from dagen.inference.embeddings import embedding_body, parse_embeddings


def embed(client: ModelClient, texts: list[str]) -> Any:
    async def go() -> Any:
        try:
            return await client.embed(texts)
        finally:
            await client.aclose()

    return asyncio.run(go())


def embedder(url: str, **params: Any) -> ModelConfig:
    return ModelConfig(
        alias="emb",
        model="mock-embed",
        endpoint=url,
        inference_parameters=params or {"dimensions": 12},
    )


def test_vectors_have_the_requested_dimension_are_unit_length_and_deterministic(server):
    first = embed(ModelClient(embedder(server.url, dimensions=12)), ["a cat", "a dog", "a cat"])
    again = embed(ModelClient(embedder(server.url, dimensions=12)), ["a cat"])

    assert [len(v) for v in first.vectors] == [12, 12, 12]
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9) for v in first.vectors)
    assert first.vectors[0] == first.vectors[2] == again.vectors[0]
    assert first.vectors[0] != first.vectors[1]
    assert first.prompt_tokens == 6 and first.attempts == 1


def test_base64_vectors_decode_to_the_same_floats(server):
    floats = embed(ModelClient(embedder(server.url, dimensions=8)), ["hello"]).vectors[0]
    packed = embed(
        ModelClient(embedder(server.url, dimensions=8, encoding_format="base64")), ["hello"]
    ).vectors[0]
    assert packed == pytest.approx(floats, rel=1e-6)  # float32 on the wire


def test_the_body_carries_the_models_embedding_parameters():
    config = embedder("http://127.0.0.1:1/v1", dimensions=64, extra_body={"input_type": "query"})
    assert embedding_body(config, ["x"]) == {
        "model": "mock-embed",
        "input": ["x"],
        "dimensions": 64,
        "input_type": "query",
    }


def test_429s_are_retried_and_counted_in_usage_like_chat(server):
    server.set(rate_limit_rate=0.5, seed=7)
    client = ModelClient(
        embedder(server.url),
        retry=RetryPolicy(max_retries=30, backoff_base=0.001, backoff_max=0.005),
    )

    async def many() -> list[Any]:
        try:
            return await asyncio.gather(*(client.embed([f"text {i}"]) for i in range(20)))
        finally:
            await client.aclose()

    results = asyncio.run(many())
    assert len(results) == 20 and all(len(r.vectors[0]) == 12 for r in results)
    usage = client.usage
    assert usage.successes == 20 and usage.failures == 0
    assert usage.rate_limited == server.stats()["rate_limited"] > 0
    assert usage.requests == 20 + usage.retries
    assert usage.prompt_tokens == 40


def test_a_429_that_never_ends_raises_and_a_bad_request_is_not_retried(server):
    retry = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.002)
    with pytest.raises(RateLimitError, match=r"model 'emb' .* \(attempt 3/3\): HTTP 429"):
        embed(ModelClient(embedder(server.url), retry=retry), ["[[mock:status=429]] x"])
    huge = ModelClient(embedder(server.url, dimensions=9000), retry=retry)
    with pytest.raises(ModelRequestError, match="HTTP 400: 'dimensions' must be between"):
        embed(huge, ["x"])
    assert server.stats()["client_errors"] == 1


def test_an_answer_without_one_vector_per_text_is_a_model_output_error(server):
    client = ModelClient(embedder(server.url))
    with pytest.raises(ModelRequestError, match="'input' must be a non-empty text"):
        embed(client, [""])
    with pytest.raises(ModelOutputError, match="1 embeddings for 2 inputs"):
        parse_embeddings(b'{"data": [{"index": 0, "embedding": [1.0]}]}', 2, "here", attempts=1)


def test_chat_parameters_on_an_embedding_model_are_refused():
    with pytest.raises(
        ConfigValidationError, match="temperature cannot be set when generation_type is embedding"
    ):
        ModelConfig(
            alias="e", model="m", inference_parameters={"dimensions": 8, "temperature": 0.3}
        )
    with pytest.raises(
        ConfigValidationError,
        match="dimensions cannot be set when generation_type is chat-completion",
    ):
        ModelConfig(
            alias="e",
            model="m",
            inference_parameters={"generation_type": "chat-completion", "dimensions": 8},
        )
    assert (
        ModelConfig(
            alias="e", model="m", inference_parameters={"encoding_format": "float"}
        ).generation_type
        == "embedding"
    )
    assert ModelConfig(alias="c", model="m").generation_type == "chat-completion"
