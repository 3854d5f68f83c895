"""ModelClient against the real mock server process: retries, error mapping, limits, keys."""

from __future__ import annotations

import asyncio
import email.utils
import pickle
import random
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dagen.errors import (
    ConfigError,
    DagenError,
    MissingApiKeyError,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelOutputError,
    ModelRequestError,
    ModelRetryableError,
    ModelServerError,
    ModelTimeoutError,
    RateLimitError,
)
from dagen.inference import client as client_module
from dagen.inference.client import (
    ModelClient,
    ModelUsage,
    RetryPolicy,
)
from dagen.inference.limiter import AdaptiveLimiter
from dagen.inference.pool import client_for, close_clients, scope_in_flight, set_ceilings

KEY_ENV = "DAGEN_TEST_MOCK_KEY"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def call(client: ModelClient, text: str, **kwargs: Any) -> Any:
    try:
        return await client.chat(user(text), **kwargs)
    finally:
        await client.aclose()


def run_call(client: ModelClient, text: str, **kwargs: Any) -> Any:
    return asyncio.run(call(client, text, **kwargs))


def test_success_returns_content_and_counts_usage(server, make_config):
    client = ModelClient(make_config(server.url))
    result = run_call(client, "Write a haiku about the sea", extra_body={"reasoning_effort": "low"})
    assert result.content.startswith('"Write a haiku about the sea"')
    assert result.reasoning_content  # extra_body reached the server
    assert result.prompt_tokens == 6 and result.completion_tokens == len(result.content.split())
    assert result.attempts == 1 and result.finish_reason == "stop"
    assert client.usage.to_dict() == {
        "requests": 1, "successes": 1, "failures": 0, "retries": 0, "rate_limited": 0,
        "server_errors": 0,
        "prompt_tokens": 6, "completion_tokens": result.completion_tokens,
    }  # fmt: skip


def test_request_body_omits_unset_parameters_and_merges_extra_body(server, make_config):
    config = make_config(
        server.url,
        inference_parameters={"temperature": 0.5, "extra_body": {"top_k": 5, "seed": 1}},
    )
    body = ModelClient(config).build_body(
        user("hi"), response_format={"type": "json_object"}, extra_body={"seed": 2}
    )
    assert body == {
        "model": "mock-writer", "messages": user("hi"), "temperature": 0.5, "top_k": 5,
        "seed": 2, "response_format": {"type": "json_object"},
    }  # fmt: skip


def test_a_429_is_a_rate_limit_error_carrying_retry_after(server, make_config, fast_retry):
    server.set(retry_after=0.01)
    client = ModelClient(make_config(server.url, max_retries=0), retry=fast_retry)
    with pytest.raises(RateLimitError, match="HTTP 429") as info:
        run_call(client, "[[mock:status=429]]")
    assert info.value.retry_after == pytest.approx(0.01)
    assert client.usage.rate_limited == 1


def test_rate_limits_are_retried_until_success(server, make_config):
    server.set(rate_limit_rate=0.5, seed=3)
    retry = RetryPolicy(max_retries=30, backoff_base=0.002, backoff_max=0.01)
    client = ModelClient(make_config(server.url), retry=retry)

    async def scenario() -> list[Any]:
        try:
            return await asyncio.gather(*(client.chat(user(f"row {i}")) for i in range(40)))
        finally:
            await client.aclose()

    results = asyncio.run(scenario())
    stats = server.stats()
    assert len(results) == 40 and max(r.attempts for r in results) > 1
    assert stats["completed"] == 40 and stats["rate_limited"] > 0
    assert client.usage.rate_limited == stats["rate_limited"]
    assert client.usage.requests == stats["requests"] == 40 + client.usage.retries
    assert client.limiter.decreases >= 1


def test_retry_after_is_honoured(server, make_config):
    server.set(retry_after=0.4)
    retry = RetryPolicy(max_retries=1, backoff_base=0.001, backoff_max=1.0)
    client = ModelClient(make_config(server.url), retry=retry)
    start = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        run_call(client, "[[mock:status=429]]")
    elapsed = time.monotonic() - start
    assert 0.35 <= elapsed < 2.0
    assert info.value.retry_after == pytest.approx(0.4)
    assert server.stats()["requests"] == 2
    assert "HTTP 429" in str(info.value) and "writer" in str(info.value)


def test_server_errors_are_retried(server, make_config, fast_retry):
    server.set(error_rate=0.5, seed=11)
    client = ModelClient(make_config(server.url, max_retries=20), retry=fast_retry)

    async def scenario() -> list[Any]:
        try:
            return await asyncio.gather(*(client.chat(user(f"row {i}")) for i in range(20)))
        finally:
            await client.aclose()

    assert len(asyncio.run(scenario())) == 20
    assert server.stats()["server_errors"] == client.usage.retries > 0
    assert client.usage.server_errors == client.usage.retries  # every 5xx counted
    assert client.latency.total == client.usage.requests  # every answered attempt timed

    server.set(error_rate=0.0)
    client = ModelClient(make_config(server.url, max_retries=2), retry=fast_retry)
    with pytest.raises(ModelServerError) as info:
        run_call(client, "[[mock:status=503]]")
    message = str(info.value)
    assert "writer" in message and server.url in message and "HTTP 503" in message
    assert "Mock error 503" in message and "attempt 3/3" in message
    assert info.value.status == 503
    assert client.usage.failures == 1 and client.usage.retries == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_each_5xx_is_a_retryable_server_error_with_its_status(
    server, make_config, fast_retry, status
):
    client = ModelClient(make_config(server.url, max_retries=1), retry=fast_retry)
    with pytest.raises(ModelServerError, match=f"HTTP {status}") as info:
        run_call(client, f"[[mock:status={status}]]")
    # a server that answered is not a connection that failed
    assert not isinstance(info.value, ModelConnectionError)
    assert isinstance(info.value, ModelRetryableError) and info.value.status == status
    assert server.stats()["requests"] == 2  # retried once
    assert pickle.loads(pickle.dumps(info.value)).status == status  # survives a worker hop


def test_server_errors_injected_by_the_servers_error_rate_are_server_errors(
    server, make_config, fast_retry
):
    server.set(error_rate=1.0)
    client = ModelClient(make_config(server.url, max_retries=2), retry=fast_retry)
    with pytest.raises(ModelServerError, match="HTTP 500") as info:
        run_call(client, "always failing")
    assert info.value.status == 500
    assert server.stats()["server_errors"] == 3


def test_fail_times_then_success(server, make_config, fast_retry):
    client = ModelClient(make_config(server.url), retry=fast_retry)
    result = run_call(client, "flaky row [[mock:fail-times=2]]")
    assert result.attempts == 3 and server.stats()["server_errors"] == 2


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_request_errors_are_not_retried(server, make_config, fast_retry, status):
    client = ModelClient(make_config(server.url), retry=fast_retry)
    with pytest.raises(ModelRequestError) as info:
        run_call(client, f"[[mock:status={status}]]")
    assert f"HTTP {status}" in str(info.value)
    assert server.stats()["requests"] == 1


def test_context_length_is_named(server, make_config, fast_retry):
    client = ModelClient(make_config(server.url), retry=fast_retry)
    with pytest.raises(ModelRequestError, match="context length exceeded") as info:
        run_call(client, "[[mock:status=400]] [[mock:context_length]]")
    assert "maximum context length is 4096" in str(info.value)


def test_bad_credentials_are_auth_errors_not_retried(keyed_server, make_config, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-42")
    client = ModelClient(make_config(keyed_server.url, api_key_env=KEY_ENV))
    with pytest.raises(ModelAuthError) as info:
        run_call(client, "hello")
    assert "HTTP 401" in str(info.value) and "sk-wrong-key-42" not in str(info.value)
    assert keyed_server.stats()["requests"] == 1
    with pytest.raises(ModelAuthError):
        run_call(ModelClient(make_config(keyed_server.url)), "no key at all")


def test_timeouts_are_retried_then_raised(server, make_config, fast_retry):
    client = ModelClient(make_config(server.url, timeout=0.2, max_retries=1), retry=fast_retry)
    start = time.monotonic()
    with pytest.raises(ModelTimeoutError, match=r"no answer within 0\.2s") as info:
        run_call(client, "[[mock:sleep=5]] slow")
    assert time.monotonic() - start < 2.0
    assert isinstance(info.value.__cause__, TimeoutError)
    assert server.stats()["requests"] == 2


def test_connection_refused_is_a_connection_error(make_config, fast_retry, free_port):
    url = f"http://127.0.0.1:{free_port}/v1"
    client = ModelClient(make_config(url, max_retries=1), retry=fast_retry)
    with pytest.raises(ModelConnectionError, match="connection failed") as info:
        run_call(client, "anyone there?")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectionError)
    assert client.usage.requests == 2


def test_an_unknown_host_is_a_connection_error(make_config, fast_retry):
    client = ModelClient(
        make_config("http://no-such-host.invalid/v1", max_retries=0, timeout=10), retry=fast_retry
    )
    with pytest.raises(ModelConnectionError, match=r"no-such-host\.invalid") as info:
        run_call(client, "hello?")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


def test_a_connection_closed_mid_request_is_a_connection_error(make_config, fast_retry):
    """A server that accepts, reads the request and hangs up without answering."""

    async def scenario() -> tuple[BaseException, int]:
        accepted = 0

        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            await reader.readuntil(b"\r\n\r\n")
            writer.transport.abort()  # RST, no HTTP answer

        tcp = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        client = ModelClient(
            make_config(f"http://127.0.0.1:{port}/v1", max_retries=1), retry=fast_retry
        )
        try:
            with pytest.raises(ModelConnectionError, match="connection failed") as info:
                await client.chat(user("hello"))
        finally:
            await client.aclose()
            tcp.close()
            await tcp.wait_closed()
        return info.value, accepted

    error, accepted = asyncio.run(scenario())
    assert isinstance(error.__cause__, aiohttp.ClientError)
    assert accepted == 2  # retried once: a dropped connection may work the next time
    assert "writer" in str(error)


def test_a_200_without_content_is_an_output_error(make_config):
    async def scenario() -> list[ModelError]:
        async def handler(request: web.Request) -> web.Response:
            text = (await request.json())["messages"][0]["content"]
            if text == "not json":
                return web.Response(text="<html>oops</html>")
            return web.json_response({"choices": [{"message": {"role": "assistant"}}]})

        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        client = ModelClient(make_config(f"http://127.0.0.1:{port}/v1"))
        errors = []
        try:
            for text in ("no content", "not json"):
                try:
                    await client.chat(user(text))
                except ModelError as exc:
                    errors.append(exc)
        finally:
            await client.aclose()
            await runner.cleanup()
        return errors

    errors = asyncio.run(scenario())
    assert [type(e) for e in errors] == [ModelOutputError, ModelOutputError]
    assert "choices[0].message.content" in str(errors[0])
    assert "not JSON" in str(errors[1]) and "oops" in str(errors[1])


def test_missing_key_is_a_config_error_naming_the_variable_but_no_value(make_config, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(MissingApiKeyError, match=KEY_ENV) as info:
        ModelClient(make_config("http://127.0.0.1:9/v1", api_key_env=KEY_ENV))
    assert isinstance(info.value, ConfigError) and not isinstance(info.value, ModelError)
    assert str(info.value) == (
        f"model 'writer': environment variable {KEY_ENV} (its API key) is not set"
    )
    assert (info.value.model, info.value.variable) == ("writer", KEY_ENV)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)
    monkeypatch.setenv(KEY_ENV, "")
    with pytest.raises(MissingApiKeyError, match=KEY_ENV):
        ModelClient(make_config("http://127.0.0.1:9/v1", api_key_env=KEY_ENV))


def test_a_client_without_endpoint_is_the_callers_mistake(make_config):
    with pytest.raises(ValueError, match="writer") as info:
        ModelClient(make_config(None))
    assert not isinstance(info.value, DagenError)


@pytest.mark.parametrize(
    "kwargs", [{"max_retries": -1}, {"backoff_base": -0.1}, {"backoff_max": -1.0}]
)
def test_a_negative_retry_policy_is_the_callers_mistake(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)


def test_the_key_never_appears_in_errors_or_reprs(
    keyed_server, make_config, server_key, monkeypatch, free_port
):
    monkeypatch.setenv(KEY_ENV, server_key)
    keyed_server.set(retry_after=0.01)
    retry = RetryPolicy(max_retries=1, backoff_base=0.001, backoff_max=0.002)
    config = make_config(keyed_server.url, api_key_env=KEY_ENV, timeout=0.2)
    refused = make_config(f"http://127.0.0.1:{free_port}/v1", api_key_env=KEY_ENV)
    client = ModelClient(config, retry=retry)
    assert run_call(client, "hello").content  # the key works
    errors: list[BaseException] = []
    for directive in ("status=400", "status=401", "status=429", "status=500", "sleep=3"):
        with pytest.raises(ModelError) as info:
            run_call(ModelClient(config, retry=retry), f"[[mock:{directive}]]")
        errors.append(info.value)
    with pytest.raises(ModelConnectionError) as info:
        run_call(ModelClient(refused, retry=retry), "hello")
    errors.append(info.value)
    texts = [repr(client), str(vars(client)), repr(client_module)]
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
        texts.append(str(pickle.loads(pickle.dumps(error))))
    assert all(server_key not in text for text in texts)


def test_client_side_cap_holds_at_the_server(server, make_config):
    server.set(latency=0.05)
    client = ModelClient(make_config(server.url), limiter=AdaptiveLimiter(6))

    async def scenario() -> None:
        try:
            await asyncio.gather(*(client.chat(user(f"row {i}")) for i in range(60)))
        finally:
            await client.aclose()

    asyncio.run(scenario())
    stats = server.stats()
    assert stats["completed"] == 60 and 4 <= stats["peak_concurrency"] <= 6


def test_client_for_pools_one_client_per_loop_and_config(server, make_config):
    config = make_config(server.url)

    async def scenario() -> tuple[ModelClient, ModelClient, ModelClient, int]:
        first = client_for(config)
        same = client_for(config, ceiling=3)
        other = client_for(make_config(server.url, alias="judge"))
        await first.chat(user("pooled"))
        ceiling = same.limiter.ceiling
        await close_clients()
        assert client_for(config) is not first  # closed clients are forgotten
        await close_clients()
        return first, same, other, ceiling

    first, same, other, ceiling = asyncio.run(scenario())
    assert first is same and first is not other and ceiling == 3
    assert first.limiter.limit == 3
    second_loop = asyncio.run(scenario())[0]
    assert second_loop is not first


def test_a_lowered_ceiling_holds_at_once_also_for_calls_already_waiting(server, make_config):
    server.set(latency=0.3)
    config = make_config(server.url)

    async def scenario() -> tuple[dict[str, int], list[int]]:
        client = client_for(config, ceiling=4, scope="run-1")
        calls = asyncio.gather(*(client.chat(user(f"row {i}")) for i in range(12)))
        await asyncio.sleep(0.1)
        at_first = scope_in_flight("run-1")  # 4 sent, 8 waiting for a slot
        set_ceilings("run-1", {config.alias: 2})  # a worker's share shrinks mid-call
        seen = []  # calls in flight, once the 4 sent before have been answered
        while not calls.done():
            await asyncio.sleep(0.02)
            if client.limiter.successes >= 4:
                seen.append(scope_in_flight("run-1").get(config.alias, 0))
        await calls
        await close_clients("run-1")
        return at_first, seen

    at_first, seen = asyncio.run(scenario())
    assert at_first == {config.alias: 4}
    assert max(seen) == 2 and server.stats()["completed"] == 12


def test_retry_policy_full_jitter_and_retry_after_cap():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(1)
    delays = [policy.delay(attempt, None, rng) for attempt in range(1, 9) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays) and max(delays[:50]) <= 0.5
    assert policy.delay(1, 2.5) == 2.5
    assert policy.delay(1, 100.0) == 12.0  # capped at 3 * backoff_max
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (client_module._parse_retry_after(later) or 0) <= 31
    assert client_module._parse_retry_after("soon") is None


def test_usage_merges_and_round_trips():
    total = ModelUsage(requests=2, successes=1, prompt_tokens=10)
    total.merge(ModelUsage(requests=1, failures=1, rate_limited=1))
    assert total.to_dict()["requests"] == 3 and total.failures == 1
    assert ModelUsage.from_dict(total.to_dict()) == total
