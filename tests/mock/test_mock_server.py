"""The mock LLM server, spoken to over real HTTP: answers, directives, stats, faults."""

from __future__ import annotations

import ast
import asyncio
import enum
import json
import random
import re
import time
import urllib.error
from datetime import date
from typing import Any, Literal

import aiohttp
import pytest
from pydantic import BaseModel, ConfigDict, Field

from dagen.errors import ConfigValidationError, RunError
from dagen.mock.answers import parse_directives
from dagen.mock.handles import MockServerProcess, MockServerThread
from dagen.mock.schema_values import schema_value
from dagen.mock.server import MockServerSettings

CODE_PROMPT = "Sort the list.\nRespond with {lang} code in a single fenced code block."


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "mock-writer", "messages": user(text), **extra}


def schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "row", "schema": schema}}


async def fire(url: str, bodies: list[dict[str, Any]]) -> list[int]:
    """POST all bodies at once; return the statuses."""
    async with aiohttp.ClientSession() as session:

        async def one(body: dict[str, Any]) -> int:
            async with session.post(url + "/chat/completions", json=body) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(b) for b in bodies)))


# -- answers -------------------------------------------------------------------------


def test_text_answer_is_deterministic_and_quotes_the_prompt(server, post_chat):
    status, _, first = post_chat(server.url, chat_body("Write a haiku about the sea"))
    _, _, again = post_chat(server.url, chat_body("Write a haiku about the sea"))
    others = {
        post_chat(server.url, chat_body(f"Describe city number {i}"))[2]["choices"][0]["message"][
            "content"
        ]
        for i in range(8)
    }
    assert status == 200
    content = first["choices"][0]["message"]["content"]
    assert content == again["choices"][0]["message"]["content"]
    assert content.startswith('"Write a haiku about the sea"')
    assert len(others) > 1  # the answer varies with the prompt
    assert first["object"] == "chat.completion" and first["model"] == "mock-writer"
    assert first["choices"][0]["message"]["role"] == "assistant"
    assert first["choices"][0]["finish_reason"] == "stop"
    assert "reasoning_content" not in first["choices"][0]["message"]
    usage = first["usage"]
    assert usage["prompt_tokens"] == 6
    assert usage["completion_tokens"] == len(content.split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    street: str = Field(min_length=3, max_length=12)
    zip_code: int = Field(gt=9999, lt=100000)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    price: float = Field(ge=0.5, le=2.5)
    colour: Colour


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["customer"]
    tier: Literal["gold", "silver", "bronze"]
    active: bool
    born: date
    email: str = Field(json_schema_extra={"format": "email"})
    home: Address
    items: list[Item] = Field(min_length=2, max_length=4)
    scores: dict[str, int]
    nickname: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=0)


def test_schema_answer_validates_nested_pydantic_models(server, post_chat):
    schema = Customer.model_json_schema()
    assert "$defs" in schema  # nested models arrive as $ref to #/$defs/...
    customers = []
    for i in range(12):
        body = chat_body(f"Customer {i}", response_format=schema_format(schema))
        status, _, data = post_chat(server.url, body)
        assert status == 200
        content = data["choices"][0]["message"]["content"]
        customers.append(Customer.model_validate_json(content, strict=True))
    again = post_chat(server.url, chat_body("Customer 0", response_format=schema_format(schema)))
    assert (
        Customer.model_validate_json(again[2]["choices"][0]["message"]["content"]) == customers[0]
    )
    assert len({c.tier for c in customers}) > 1  # enum choices vary with the hash
    assert len({item.colour for c in customers for item in c.items}) > 1
    assert all(re.fullmatch(r"[a-z]+\d+@example\.com", c.email) for c in customers)


def test_schema_generator_covers_the_supported_keywords():
    schema: dict[str, Any] = {
        "definitions": {"Point": {"type": "object", "properties": {"x": {"const": 7}}}},
        "type": "object",
        "additionalProperties": False,
        "required": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"],
        "properties": {
            "a": {"$ref": "#/definitions/Point"},
            "b": {"type": "integer", "minimum": 3, "exclusiveMinimum": True, "maximum": 5},
            "c": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "d": {"oneOf": [{"type": "string", "minLength": 30}, {"type": "null"}]},
            "e": {"type": "array", "items": {"enum": [1, 2]}, "minItems": 5, "maxItems": 5},
            "f": {"type": "string", "format": "date", "maxLength": 10},
            "g": {"type": "null"},
            "h": {"type": ["boolean", "null"]},
            "i": {"type": "integer", "exclusiveMaximum": -10},
            "j": {"allOf": [{"properties": {"p": {"type": "integer"}}, "required": ["p"]}]},
            "k": {"type": "string", "maxLength": 2},
        },
    }
    for seed in range(30):
        value = schema_value(schema, random.Random(seed))
        assert set(value) == set(schema["properties"])
        assert value["a"] == {"x": 7}
        assert value["b"] in (4, 5)
        assert 0 < value["c"] < 1
        assert isinstance(value["d"], str) and len(value["d"]) >= 30
        assert len(value["e"]) == 5 and set(value["e"]) <= {1, 2}
        assert date.fromisoformat(value["f"])
        assert value["g"] is None
        assert isinstance(value["h"], bool)
        assert isinstance(value["i"], int) and value["i"] < -10
        assert isinstance(value["j"]["p"], int)
        assert len(value["k"]) <= 2


def test_json_object_mode_and_guided_json_answer_json(server, post_chat):
    _, _, data = post_chat(server.url, chat_body("any", response_format={"type": "json_object"}))
    assert isinstance(json.loads(data["choices"][0]["message"]["content"]), dict)
    guided = {"type": "array", "items": {"type": "integer"}, "minItems": 2}
    _, _, data = post_chat(server.url, chat_body("vllm style", guided_json=guided))
    values = json.loads(data["choices"][0]["message"]["content"])
    assert len(values) >= 2 and all(isinstance(v, int) for v in values)


@pytest.mark.parametrize("lang", ["python", "SQL", "rust"])
def test_code_answer_is_a_sentence_then_a_fenced_block(server, post_chat, lang):
    _, _, data = post_chat(server.url, chat_body(CODE_PROMPT.format(lang=lang)))
    content = data["choices"][0]["message"]["content"]
    match = re.search(r"\A([^\n`]+\.)\s*```(\w+)\n(.*?)\n```\s*\Z", content, re.DOTALL)
    assert match, content
    assert match.group(2) == lang.lower()
    if lang == "python":
        ast.parse(match.group(3))


def test_reasoning_content_for_reasoning_requests(server, post_chat):
    by_effort = post_chat(server.url, chat_body("Think", reasoning_effort="low"))[2]
    by_name = post_chat(server.url, {"model": "deep-reasoner", "messages": user("Think")})[2]
    assert by_effort["choices"][0]["message"]["reasoning_content"]
    assert by_name["choices"][0]["message"]["reasoning_content"]


def test_stream_is_refused(server, post_chat):
    status, _, data = post_chat(server.url, chat_body("hi", stream=True))
    assert status == 400 and "stream" in data["error"]["message"]


# -- directives ----------------------------------------------------------------------


def test_status_directive_answers_an_openai_error(server, post_chat):
    status, _, data = post_chat(server.url, chat_body("row 3 [[mock:status=503]]"))
    assert status == 503
    assert set(data["error"]) == {"message", "type", "code"}
    status, _, data = post_chat(server.url, chat_body("[[mock:status=400]][[mock:context_length]]"))
    assert status == 400
    assert data["error"]["message"].startswith("This model's maximum context length is 4096")
    assert data["error"]["code"] == "context_length_exceeded"


def test_malformed_directives(server, post_chat):
    fmt = schema_format({"type": "object", "properties": {"n": {"type": "integer"}}})
    bad = post_chat(server.url, chat_body("[[mock:malformed]] n", response_format=fmt))[2]
    with pytest.raises(ValueError):
        json.loads(bad["choices"][0]["message"]["content"])
    code = post_chat(server.url, chat_body("[[mock:malformed]] " + CODE_PROMPT.format(lang="py")))
    assert "```" not in code[2]["choices"][0]["message"]["content"]

    first = [{"role": "user", "content": "[[mock:malformed-first]] give n"}]
    reply = post_chat(server.url, {"model": "m", "messages": first, "response_format": fmt})[2]
    broken = reply["choices"][0]["message"]["content"]
    with pytest.raises(ValueError):
        json.loads(broken)
    repair = [*first, {"role": "assistant", "content": broken}, {"role": "user", "content": "fix"}]
    fixed = post_chat(server.url, {"model": "m", "messages": repair, "response_format": fmt})[2]
    assert isinstance(json.loads(fixed["choices"][0]["message"]["content"])["n"], int)
    assert server.stats()["malformed"] == 3


def test_sleep_directive_delays_the_answer(server, post_chat):
    start = time.monotonic()
    status, _, _ = post_chat(server.url, chat_body("[[mock:sleep=0.3]] slow row"))
    assert status == 200 and 0.3 <= time.monotonic() - start < 2.0


def test_fail_times_fails_k_identical_requests_then_answers(server, post_chat):
    body = chat_body("row 9 [[mock:fail-times=2]]")
    statuses = [post_chat(server.url, body)[0] for _ in range(4)]
    other = post_chat(server.url, chat_body("row 10 [[mock:fail-times=2]]"))[0]
    assert statuses == [500, 500, 200, 200]
    assert other == 500  # the count is per (model, messages)


def test_bad_directive_is_a_client_error(server, post_chat):
    status, _, data = post_chat(server.url, chat_body("[[mock:status=abc]]"))
    assert status == 400 and "mock directive" in data["error"]["message"]
    with pytest.raises(ValueError):
        parse_directives(user("[[mock:explode]]"))


# -- stats, faults, admin --------------------------------------------------------------


def test_stats_count_every_outcome(server, post_chat):
    _, _, answered = post_chat(server.url, chat_body("ok"))
    _, _, other = post_chat(server.url, {"model": "other", "messages": user("ok")})
    post_chat(server.url, chat_body("[[mock:status=429]]"))
    post_chat(server.url, chat_body("[[mock:status=500]]"))
    post_chat(server.url, chat_body("[[mock:status=404]]"))
    post_chat(server.url, chat_body("[[mock:malformed]]", response_format={"type": "json_object"}))
    stats = server.stats()
    assert stats["requests"] == 6 and stats["completed"] == 3
    assert stats["rate_limited"] == 1 and stats["server_errors"] == 1
    assert stats["client_errors"] == 1 and stats["malformed"] == 1
    assert stats["in_flight"] == 0 and stats["peak_concurrency"] == 1
    assert stats["by_model"]["mock-writer"]["requests"] == 5
    assert stats["by_model"]["mock-writer"]["rate_limited"] == 1
    tokens = {k: other["usage"][k] for k in ("prompt_tokens", "completion_tokens")}
    assert stats["by_model"]["other"] == {
        "requests": 1, "completed": 1, "in_flight": 0, "peak_concurrency": 1, "rate_limited": 0,
        **tokens,  # the tokens its answers reported: what a provider would bill
    }  # fmt: skip
    assert tokens["prompt_tokens"] > 0 and tokens["completion_tokens"] > 0
    assert stats["by_model"]["mock-writer"]["prompt_tokens"] >= answered["usage"]["prompt_tokens"]
    server.reset()
    assert server.stats()["requests"] == 0 and server.stats()["by_model"] == {}


def test_peak_concurrency_counts_served_requests_not_rejected_ones(server):
    server.set(latency=0.5)
    statuses = asyncio.run(fire(server.url, [chat_body(f"r{i}") for i in range(20)]))
    assert statuses == [200] * 20
    assert server.stats()["peak_concurrency"] == 20

    server.reset()
    server.set(max_concurrency=5)
    statuses = asyncio.run(fire(server.url, [chat_body(f"r{i}") for i in range(20)]))
    stats = server.stats()
    assert statuses.count(200) == 5 and statuses.count(429) == 15
    assert stats["peak_concurrency"] == 5 and stats["rate_limited"] == 15
    assert stats["by_model"]["mock-writer"]["peak_concurrency"] == 5


def test_reset_during_requests_keeps_in_flight_consistent(server):
    server.set(latency=0.5)

    async def scenario() -> list[int]:
        requests = asyncio.create_task(fire(server.url, [chat_body(f"r{i}") for i in range(5)]))
        while (await asyncio.to_thread(server.stats))["in_flight"] < 5:
            await asyncio.sleep(0.01)
        during = await asyncio.to_thread(server.reset)
        assert during["in_flight"] == 5 and during["peak_concurrency"] == 5
        assert during["requests"] == 0
        return await requests

    assert asyncio.run(scenario()) == [200] * 5
    stats = server.stats()
    assert stats["in_flight"] == 0 and stats["completed"] == 5
    assert stats["by_model"]["mock-writer"]["in_flight"] == 0


def test_admin_settings_script_a_429_storm_then_recovery(server, post_chat):
    assert server.set(rate_limit_rate=1.0, retry_after=2)["rate_limit_rate"] == 1.0
    status, headers, data = post_chat(server.url, chat_body("storm"))
    assert status == 429 and headers["Retry-After"] == "2"
    assert data["error"]["code"] == "rate_limit_exceeded"
    server.set(rate_limit_rate=0.0)
    assert post_chat(server.url, chat_body("storm"))[0] == 200
    with pytest.raises(urllib.error.HTTPError):
        server.set(error_rate=2.0)
    with pytest.raises(urllib.error.HTTPError):
        server.set(api_key="x")  # not a runtime setting


def test_fault_dice_are_reproducible_from_the_seed(server, post_chat):
    server.set(error_rate=0.5, seed=7)
    first = [post_chat(server.url, chat_body("same"))[0] for _ in range(16)]
    server.set(seed=7)
    second = [post_chat(server.url, chat_body("same"))[0] for _ in range(16)]
    assert first == second and set(first) == {200, 500}


def test_api_key_is_required_when_configured(keyed_server, post_chat, get_json, server_key):
    body = chat_body("hello")
    assert post_chat(keyed_server.url, body)[0] == 401
    assert post_chat(keyed_server.url, body, {"Authorization": "Bearer wrong"})[0] == 401
    status, _, data = post_chat(keyed_server.url, body, {"Authorization": f"Bearer {server_key}"})
    assert status == 200 and data["choices"][0]["message"]["content"]
    assert get_json(keyed_server.url + "/models")[0] == 401
    assert keyed_server.stats()["client_errors"] == 3


def test_models_lists_the_models_seen(server, post_chat, get_json):
    post_chat(server.url, {"model": "seen-model", "messages": user("hi")})
    status, _, data = get_json(server.url + "/models")
    ids = [m["id"] for m in data["data"]]
    assert status == 200 and "mock-model" in ids and "seen-model" in ids


# -- entry points --------------------------------------------------------------------


def test_thread_server_serves_until_stopped(post_chat):
    with MockServerThread(MockServerSettings(port=0)) as thread:
        url = thread.url
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert post_chat(url, chat_body("in a thread"))[0] == 200
        assert thread.stats()["completed"] == 1
    with pytest.raises(urllib.error.URLError):
        post_chat(url, chat_body("after stop"))


def test_process_can_be_killed_and_reports_a_port_clash(server):
    process = MockServerProcess(MockServerSettings(latency=0.01))
    assert "--latency" in process.argv() and "--api-key" not in process.argv()
    with process:
        assert process.stats()["requests"] == 0
        process.kill()
        assert process.process is not None and process.process.returncode == -9
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(RunError):
        MockServerThread(MockServerSettings(port=port)).start()


def test_settings_are_validated():
    with pytest.raises(ConfigValidationError):
        MockServerSettings(error_rate=1.5)
    with pytest.raises(ConfigValidationError):
        MockServerSettings(max_concurrency=-1)
    assert "secret" not in repr(MockServerSettings(api_key="secret"))


def test_requests_records_the_sampling_parameters_until_the_reset(server, post_chat):
    post_chat(server.url, {**chat_body("one"), "temperature": 0.25, "top_p": 0.5})
    post_chat(server.url, chat_body("two"))
    post_chat(server.url, {**chat_body("bad"), "stream": True})  # refused: not recorded

    assert server.requests() == [
        {"model": "mock-writer", "temperature": 0.25, "top_p": 0.5},
        {"model": "mock-writer", "temperature": None, "top_p": None},
    ]
    server.reset()
    assert server.requests() == []
