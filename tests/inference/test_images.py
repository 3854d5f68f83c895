"""``ModelClient.generate_images`` against the mock's ``/v1/images/generations`` over HTTP:
decoded pictures and usage, 5xx retried until it answers, a 429 that outlasts the retries,
a 4xx that is not retried, and answers that hold no image."""

from __future__ import annotations

import asyncio
import base64

import pytest

from dagen.errors import ModelOutputError, ModelRequestError, RateLimitError
from dagen.inference.client import ModelClient
from dagen.inference.images import parse_images
from dagen.mock.images import png_image


def generate(client: ModelClient, prompt: str):
    async def go():
        try:
            return await client.generate_images(prompt)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_pictures_arrive_decoded_and_usage_counts_the_call(server, make_config):
    client = ModelClient(make_config(server.url, model="dall-e-3"))
    result = generate(client, "a red fox")
    assert [base64.b64decode(i) for i in result.images] == [png_image("a red fox", 0, "dall-e-3")]
    assert result.attempts == 1
    assert (client.usage.requests, client.usage.successes, client.usage.failures) == (1, 1, 0)


def test_500s_are_retried_until_the_endpoint_answers(server, make_config, fast_retry):
    client = ModelClient(make_config(server.url), retry=fast_retry)
    result = generate(client, "a cat [[mock:fail-times=2]]")
    assert result.attempts == 3 and len(result.images) == 1
    assert (client.usage.server_errors, client.usage.retries, client.usage.successes) == (2, 2, 1)


def test_a_429_that_outlasts_the_retries_is_a_rate_limit_error(server, make_config, fast_retry):
    client = ModelClient(make_config(server.url, max_retries=2), retry=fast_retry)
    with pytest.raises(RateLimitError, match=r"HTTP 429"):
        generate(client, "a dog [[mock:status=429]]")
    assert (client.usage.requests, client.usage.rate_limited, client.usage.failures) == (3, 3, 1)


def test_a_4xx_is_not_retried_and_names_the_model_and_endpoint(server, make_config, fast_retry):
    config = make_config(server.url, alias="painter")
    client = ModelClient(config, retry=fast_retry)
    with pytest.raises(ModelRequestError) as raised:
        generate(client, "a bird [[mock:status=400]]")
    assert f"model 'painter' at {server.url}" in str(raised.value)
    assert "HTTP 400" in str(raised.value) and client.usage.requests == 1


@pytest.mark.parametrize(
    "raw",
    [b'{"data": [{"b64_json": "bm90IGFuIGltYWdl"}]}', b'{"data": [{"url": "http://127.0.0.1/x.png"}]}',
     b'{"data": []}', b"not json"],
)  # fmt: skip
def test_an_answer_without_a_valid_image_is_a_model_output_error(raw):
    with pytest.raises(ModelOutputError, match="model 'p'"):
        parse_images(raw, "model 'p'", attempts=1)
