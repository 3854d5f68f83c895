"""The mock server's ``POST /v1/embeddings``: deterministic vectors, faults and counters as for chat."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from dagen.mock.embeddings import DEFAULT_DIMENSIONS, embedding_vector


def post(url: str, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url + "/embeddings", data=json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_openai_shaped_answer_with_one_vector_per_text(server):
    status, answer = post(server.url, {"model": "emb", "input": ["one two", "three"]})
    assert status == 200
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert answer["data"][0]["embedding"] == embedding_vector("emb", "one two", DEFAULT_DIMENSIONS)
    assert answer["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    status, single = post(server.url, {"model": "emb", "input": "three", "dimensions": 5})
    assert len(single["data"][0]["embedding"]) == 5
    assert server.stats()["by_model"]["emb"]["completed"] == 2


def test_the_vector_depends_on_model_text_and_dimensions():
    base = embedding_vector("m", "text", 8)
    assert base == embedding_vector("m", "text", 8)
    assert base != embedding_vector("m2", "text", 8)
    assert base != embedding_vector("m", "text!", 8)
    assert base[:4] != embedding_vector("m", "text", 4)


def test_bad_requests_are_400s_naming_the_field(server):
    for body, message in [
        ({"input": []}, "'input' must be a non-empty text"),
        ({"input": ["a", 3]}, "'input' must be a non-empty text"),
        ({"input": "a", "dimensions": 0}, "'dimensions' must be between 1 and 8192"),
        ({"input": "a", "dimensions": "8"}, "'dimensions' must be an integer"),
        (
            {"input": "a", "encoding_format": "int8"},
            "'encoding_format' must be 'float' or 'base64'",
        ),
        ({"input": "a [[mock:frobnicate]]"}, "unknown mock directive"),
    ]:
        status, answer = post(server.url, {"model": "emb", **body})
        assert status == 400 and message in answer["error"]["message"], body
    assert server.stats()["client_errors"] == 6


def test_directives_dice_and_keys_apply_as_for_chat(server, keyed_server, server_key):
    status, answer = post(server.url, {"input": "x [[mock:status=503]]"})
    assert status == 503 and answer["error"]["type"] == "server_error"
    assert post(server.url, {"input": "y [[mock:fail-times=1]]"})[0] == 500
    assert post(server.url, {"input": "y [[mock:fail-times=1]]"})[0] == 200
    server.set(rate_limit_rate=1.0)
    assert post(server.url, {"input": "z"})[0] == 429
    assert post(keyed_server.url, {"input": "z"})[0] == 401
    assert post(keyed_server.url, {"input": "z"}, key=server_key)[0] == 200
