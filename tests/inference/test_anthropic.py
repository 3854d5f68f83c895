"""The Anthropic Messages API client against the mock server's ``/v1/messages``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import jsonschema
import pytest

from dagen.errors import ModelAuthError, ModelOutputError, ModelRequestError, RateLimitError
from dagen.inference.anthropic import AnthropicClient
from dagen.inference.client import RetryPolicy
from dagen.inference.pool import client_for, close_clients

KEY_ENV = "DAGEN_TEST_ANTHROPIC_KEY"


def claude(make_config: Any, url: str, **fields: Any) -> Any:
    return make_config(url, provider_type="anthropic", model="mock-claude", **fields)


def run(client: AnthropicClient, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    async def scenario() -> Any:
        try:
            return await client.chat(messages, **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(scenario())


def test_a_text_call_goes_to_messages_with_system_on_top_and_counts_usage(server, make_config):
    client = AnthropicClient(claude(make_config, server.url))
    messages = [
        {"role": "system", "content": "You write haiku."},
        {"role": "user", "content": "Write a haiku about the sea"},
    ]
    result = run(client, messages)
    stats = server.stats()["by_model"]["mock-claude"]
    assert result.content.startswith('"Write a haiku about the sea"')
    assert result.finish_reason == "end_turn"
    assert result.prompt_tokens == 9 == stats["prompt_tokens"]  # system + user words
    assert result.completion_tokens == len(result.content.split()) == stats["completion_tokens"]
    assert client.usage.successes == 1 and client.usage.prompt_tokens == 9
    assert server.stats()["completed"] == 1


def test_structured_output_is_a_forced_tool_whose_input_is_the_answer(server, make_config):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
        "required": ["city", "people"],
    }
    client = AnthropicClient(claude(make_config, server.url))
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    body = client.build_body(
        [{"role": "user", "content": "A city"}], response_format=response_format
    )
    assert body["tool_choice"] == {"type": "tool", "name": "place"}
    assert body["tools"][0]["input_schema"] == schema and "response_format" not in body
    result = run(client, [{"role": "user", "content": "A city"}], response_format=response_format)
    jsonschema.validate(json.loads(result.content), schema)
    assert result.finish_reason == "tool_use"


def test_a_429_is_retried_honouring_retry_after_and_counted(server, make_config):
    server.set(retry_after=0.01)
    retry = RetryPolicy(max_retries=0, backoff_base=0.001, backoff_max=0.01)
    client = AnthropicClient(claude(make_config, server.url), retry=retry)
    with pytest.raises(RateLimitError, match="HTTP 429") as info:
        run(client, [{"role": "user", "content": "[[mock:status=429]] hi"}])
    assert info.value.retry_after == pytest.approx(0.01)
    assert client.usage.rate_limited == 1 and client.usage.failures == 1

    server.reset()
    server.set(rate_limit_rate=0.5, seed=4, retry_after=None)
    retry = RetryPolicy(max_retries=30, backoff_base=0.002, backoff_max=0.01)
    client = AnthropicClient(claude(make_config, server.url), retry=retry)

    async def many() -> list[Any]:
        try:
            return await asyncio.gather(
                *(client.chat([{"role": "user", "content": f"row {i}"}]) for i in range(30))
            )
        finally:
            await client.aclose()

    results = asyncio.run(many())
    assert len(results) == 30 and max(r.attempts for r in results) > 1
    assert client.usage.rate_limited == server.stats()["rate_limited"] > 0


def test_5xx_are_retried_until_the_answer(server, make_config, fast_retry):
    client = AnthropicClient(claude(make_config, server.url, max_retries=3), retry=fast_retry)
    result = run(client, [{"role": "user", "content": "[[mock:fail-times=2]] hello"}])
    assert result.attempts == 3 and client.usage.server_errors == 2


def test_the_key_travels_in_x_api_key(keyed_server, make_config, server_key, monkeypatch):
    monkeypatch.setenv(KEY_ENV, server_key)
    good = AnthropicClient(claude(make_config, keyed_server.url, api_key_env=KEY_ENV))
    assert "Authorization" not in good._secret.headers
    assert run(good, [{"role": "user", "content": "hi"}]).content
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    bad = AnthropicClient(claude(make_config, keyed_server.url, api_key_env=KEY_ENV))
    with pytest.raises(ModelAuthError, match="HTTP 401") as info:
        run(bad, [{"role": "user", "content": "hi"}])
    assert "sk-wrong" not in str(info.value)


def test_the_mock_refuses_a_request_without_anthropic_version(server, make_config):
    client = AnthropicClient(claude(make_config, server.url))
    del client._secret.headers["anthropic-version"]
    with pytest.raises(ModelRequestError, match="anthropic-version"):
        run(client, [{"role": "user", "content": "hi"}])


def test_an_answer_without_blocks_is_an_output_error(make_config):
    from aiohttp import web

    async def scenario() -> None:
        app = web.Application()

        async def empty(request: web.Request) -> web.Response:
            return web.json_response({"type": "message", "content": []})

        app.router.add_post("/v1/messages", empty)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        client = AnthropicClient(claude(make_config, f"http://127.0.0.1:{port}/v1"))
        try:
            with pytest.raises(ModelOutputError, match="no text or tool_use block"):
                await client.chat([{"role": "user", "content": "hi"}])
        finally:
            await client.aclose()
            await runner.cleanup()

    asyncio.run(scenario())


def test_the_pool_gives_an_anthropic_model_the_anthropic_client(server, make_config):
    async def scenario() -> Any:
        try:
            return type(client_for(claude(make_config, server.url), scope="t"))
        finally:
            await close_clients("t")

    assert asyncio.run(scenario()) is AnthropicClient


def test_image_parts_travel_as_image_blocks_and_reach_the_model(server, make_config):
    from dagen.mock.images import png_image

    png = png_image("a lighthouse")
    encoded = base64.b64encode(png).decode()
    client = AnthropicClient(claude(make_config, server.url))
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}
    messages = [{"role": "user", "content": [part, {"type": "text", "text": "What is it?"}]}]
    block = client.build_body(messages)["messages"][0]["content"][0]
    assert block == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": encoded},
    }
    assert run(client, messages).content.startswith('"What is it?"')
    (received,) = server.requests()
    assert received["images"] == [
        {"source": "base64", "format": "png", "bytes": len(png),
         "sha256": hashlib.sha256(png).hexdigest()}
    ]  # fmt: skip
