"""A real OpenAI-compatible mock LLM server on aiohttp, for tests, benchmarks and offline runs.

Policy: answers are deterministic (``mock_answers``: the same model and messages always
get the same content); faults are random but reproducible (one ``random.Random(seed)``
rolls the dice for 500s, 429s and malformed content, in request order). Faults can be
changed at runtime (``POST /admin/settings``) to script a "429 storm then recovery", and
single rows can be targeted with directives embedded in a prompt:

    [[mock:status=NNN]]        answer that HTTP status with an OpenAI-style error JSON
    [[mock:context_length]]    with status=400: "This model's maximum context length..."
    [[mock:malformed]]         always malformed content (JSON cut short, code unfenced)
    [[mock:malformed-first]]   malformed until the conversation has an assistant message
    [[mock:sleep=SECONDS]]     sleep before answering (timeout tests)
    [[mock:fail-times=K]]      500 for the first K identical (model, messages), then answer
    [[mock:call-tool=A,B]]     call tools A and B (when offered), for tool-turns=N turns
    [[mock:tool-args=TEXT]]    ... with these arguments (``dagen.mock.tools``)

Endpoints: ``POST /v1/chat/completions`` (non-streaming), ``POST /v1/embeddings``
(deterministic unit vectors, ``dagen.mock.embeddings``; same faults, directives in the
input texts, same counters), ``POST /v1/messages`` (Anthropic's Messages API,
``dagen.mock.anthropic``; same faults, answers and counters; key in ``x-api-key``),
``POST /v1/images/generations`` (small deterministic PNGs, ``dagen.mock.images``; chat
requests' ``image_url`` parts are read and checked there too), ``GET /v1/models``, ``GET /stats``,
``POST /stats/reset``, ``GET|POST /admin/settings``, ``GET /requests`` (the sampling
parameters of the last ``SAMPLED`` well-formed chat requests: model, temperature, top_p,
and ``images`` received, when there were any).

State (``_State``, one per app): the settings, the fault RNG, the counters (global and per
model; ``/stats/reset`` zeroes them in place but keeps what is in flight), the models seen
and the fail-times counts (``digest -> 500s answered so far``, bounded, reset with the
stats). ``in_flight`` counts completion requests being served: from the moment a request
passes the auth, body and ``max_concurrency`` checks until its answer (200, a dice 429/500,
a directive status) is sent. Requests rejected because ``max_concurrency`` was reached are
answered 429 at once and never count as in flight, so ``peak_concurrency`` (the largest
``in_flight`` since the last reset) is what a test reads to prove a client-side concurrency
cap held. ``latency``, ``jitter`` and the sleep directive delay every in-flight request,
faults included.

Example:
    >>> from dagen.mock.handles import MockServerThread
    >>> with MockServerThread(MockServerSettings(port=0, latency=0.01)) as server:
    ...     endpoint = server.url  # "http://127.0.0.1:PORT/v1", for a ModelConfig

    $ python -m dagen.mock.server --port 0 --latency 0.2 --rate-limit-rate 0.1
    dagen mock-llm listening on http://127.0.0.1:41234/v1
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dagen.errors import ConfigValidationError, RunError
from dagen.mock.answers import (
    CONTEXT_LENGTH_MESSAGE,
    Directives,
    build_answer,
    completion_body,
    message_text,
    parse_directives,
    request_digest,
    word_count,
)
from dagen.mock.anthropic import answer_messages, chat_messages
from dagen.mock.embeddings import embedding_request, embeddings_body
from dagen.mock.images import generation_body, image_request, received_images
from dagen.mock.state import DEFAULT_MODEL, STATE_KEY, _enter, _State
from dagen.mock.tools import tool_calls, tool_calls_body, with_tool_results

__all__ = [
    "READY_LINE",
    "MockServerSettings",
    "build_app",
    "flag",
    "main",
    "serve",
    "serve_forever",
]

READY_LINE = "dagen mock-llm listening on {url}"
_FAIL_TIMES_MAX = 100_000  # bound on the fail-times dict (oldest entries are dropped)


@dataclass(frozen=True)
class MockServerSettings:
    """How the mock server listens and which faults it injects.

    Attributes:
        host: address to bind; loopback by default.
        port: port to bind; 0 picks a free port (the readiness line tells which).
        latency: seconds added to every completion request in flight.
        jitter: uniform +- seconds added to ``latency`` (never below zero in total).
        max_concurrency: completion requests in flight above this get 429 immediately.
        error_rate: probability of a 500.
        rate_limit_rate: probability of a 429.
        malformed_rate: probability of malformed content (broken JSON, unfenced code).
        retry_after: value of the ``Retry-After`` header on 429s, in seconds.
        api_key: when set, requests to ``/v1`` need ``Authorization: Bearer <api_key>``.
        seed: seeds the RNG of the fault dice.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    latency: float = 0.0
    jitter: float = 0.0
    max_concurrency: int | None = None
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    malformed_rate: float = 0.0
    retry_after: float | None = None
    api_key: str | None = dataclasses.field(default=None, repr=False)
    seed: int = 0

    def __post_init__(self) -> None:
        for name, (valid, want) in _CHECKS.items():
            value = getattr(self, name)
            if not valid(value):
                raise ConfigValidationError(f"mock server setting {name}={value!r}: want {want}")

    def runtime(self) -> dict[str, Any]:
        """The settings ``POST /admin/settings`` may change, as a JSON-able dict."""
        return {name: getattr(self, name) for name in RUNTIME_FIELDS}


# The settings POST /admin/settings may change: all but where to listen and the key.
RUNTIME_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(MockServerSettings)
    if f.name not in ("host", "port", "api_key")
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_POSITIVE = (lambda v: _is_number(v) and v >= 0, "a number >= 0")
_PROBABILITY = (lambda v: _is_number(v) and 0 <= v <= 1, "a probability between 0 and 1")
_CHECKS: dict[str, tuple[Any, str]] = {  # setting -> (is it valid?, what is wanted)
    "port": (lambda v: _is_count(v) and v <= 65535, "a port, 0 for any free port"),
    "latency": _POSITIVE,
    "jitter": _POSITIVE,
    "max_concurrency": (lambda v: v is None or _is_count(v), "None or an integer >= 0"),
    "error_rate": _PROBABILITY,
    "rate_limit_rate": _PROBABILITY,
    "malformed_rate": _PROBABILITY,
    "retry_after": (lambda v: v is None or _POSITIVE[0](v), "None or a number >= 0"),
    "seed": (lambda v: isinstance(v, int), "an integer"),
}


# -- handlers ------------------------------------------------------------------------


async def _chat_completions(request: web.Request) -> web.Response:
    return await _serve(request, _chat_messages, _answer)


async def _embeddings(request: web.Request) -> web.Response:
    return await _serve(request, embedding_request, _answer_embeddings)


async def _images(request: web.Request) -> web.Response:
    return await _serve(request, image_request, _answer_images)


async def _messages(request: web.Request) -> web.Response:
    """Anthropic's Messages API (``dagen.mock.anthropic``): the same faults and answers."""
    if "anthropic-version" not in request.headers:
        state = request.app[STATE_KEY]
        return state.error(400, "anthropic-version: header is required", None)
    return await _serve(request, chat_messages, answer_messages)


def _chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise ValueError("'messages' must be a non-empty list of objects.")
    if body.get("stream"):
        raise ValueError("The mock server does not support stream=true.")
    return messages


async def _serve(request: web.Request, read: Callable[..., Any], answer: Any) -> web.Response:
    """Count, check (auth, body: ``read(body)`` gives the messages, or ValueError for a
    400, and the concurrency cap), delay, then ``answer(...)``: both endpoints alike."""
    state = request.app[STATE_KEY]
    stats = state.stats
    stats["requests"] += 1
    try:
        body = json.loads(await request.read())
    except ValueError:
        return state.error(400, "The request body is not valid JSON.", None)
    if not isinstance(body, dict):
        return state.error(400, "The request body must be a JSON object.", None)
    model = body["model"] if isinstance(body.get("model"), str) else DEFAULT_MODEL
    per_model = state.model_stats(model)
    per_model["requests"] += 1
    state.models[model] = None
    if not state.authorized(request):
        return state.error(401, "Incorrect API key provided.", per_model)
    try:
        messages = read(body)
        directives = parse_directives(messages)
        images = await received_images(messages)  # image parts read (and fetched) as a model would
    except ValueError as exc:
        return state.error(400, str(exc), per_model)
    if "messages" in body:
        sampled = {k: body.get(k) for k in ("model", "temperature", "top_p")}
        state.sampled.append({**sampled, "images": images} if images else sampled)
    settings = state.settings
    if settings.max_concurrency is not None and stats["in_flight"] >= settings.max_concurrency:
        return state.error(429, "Too many concurrent requests.", per_model)
    _enter(stats)
    _enter(per_model)
    try:
        delay = settings.latency + directives.sleep
        if settings.jitter:
            delay += state.rng.uniform(-settings.jitter, settings.jitter)
        if delay > 0:
            await asyncio.sleep(delay)
        fault = _fault(state, model, messages, directives, per_model)
        if fault is not None:
            return fault
        return answer(state, body, model, messages, directives, per_model)  # type: ignore[no-any-return]
    finally:
        stats["in_flight"] -= 1
        per_model["in_flight"] -= 1


def _fault(
    state: _State,
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: dict[str, int],
) -> web.Response | None:
    """The error a request gets (a directive, fail-times, the dice), or None."""
    settings, rng = state.settings, state.rng
    if directives.status is not None and directives.status != 200:
        if directives.status == 400 and directives.context_length:
            words = sum(word_count(message_text(m.get("content"))) for m in messages)
            text = CONTEXT_LENGTH_MESSAGE.format(n=max(words, 4097))
            return state.error(400, text, per_model, code="context_length_exceeded")
        text = f"Mock error {directives.status} requested by the prompt."
        return state.error(directives.status, text, per_model)
    if directives.fail_times:
        digest = request_digest(model, messages)
        failed = state.failures.get(digest, 0)
        if failed < directives.fail_times:
            state.failures[digest] = failed + 1
            state.failures.move_to_end(digest)
            while len(state.failures) > _FAIL_TIMES_MAX:
                state.failures.popitem(last=False)
            text = f"Mock failure {failed + 1} of {directives.fail_times}."
            return state.error(500, text, per_model)
    if settings.error_rate and rng.random() < settings.error_rate:
        return state.error(500, "The mock server had an error (injected).", per_model)
    if settings.rate_limit_rate and rng.random() < settings.rate_limit_rate:
        return state.error(429, "Rate limit reached (injected).", per_model)
    return None


def _answer(
    state: _State,
    body: dict[str, Any],
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: dict[str, int],
) -> web.Response:
    settings, rng = state.settings, state.rng
    words = sum(word_count(message_text(m.get("content"))) for m in messages)
    digest = request_digest(model, messages)
    has_assistant = any(m.get("role") == "assistant" for m in messages)
    malformed = (
        directives.malformed
        or (directives.malformed_first and not has_assistant)
        or bool(settings.malformed_rate and rng.random() < settings.malformed_rate)
    )
    answer = build_answer(
        model,
        messages,
        response_format=body.get("response_format"),
        guided_json=body.get("guided_json"),
        malformed=malformed,
        reasoning="reasoning_effort" in body or "reason" in model.lower(),
        digest=digest,
    )
    state.stats["malformed"] += answer.malformed
    completion_id = f"chatcmpl-{digest.hex()[:12]}{state.stats['completed']:06d}"
    calls = tool_calls(
        messages,
        body.get("tools"),
        directives.call_tool,
        directives.tool_turns,
        directives.tool_args,
        random.Random(int.from_bytes(digest[8:16], "big")),
    )
    if calls is not None:
        payload = tool_calls_body(model, calls, prompt_tokens=words, completion_id=completion_id)
        return state.reply(200, payload, per_model)
    if answer.kind == "text":
        answer = dataclasses.replace(answer, content=with_tool_results(answer.content, messages))
    payload = completion_body(model, answer, prompt_tokens=words, completion_id=completion_id)
    return state.reply(200, payload, per_model)


def _answer_images(
    state: _State,
    body: dict[str, Any],
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: dict[str, int],
) -> web.Response:
    return state.reply(200, generation_body(model, body, int(time.time())), per_model)


def _answer_embeddings(
    state: _State,
    body: dict[str, Any],
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: dict[str, int],
) -> web.Response:
    words = sum(word_count(m["content"]) for m in messages)
    return state.reply(200, embeddings_body(model, messages, body, words), per_model)


async def _models(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not state.authorized(request):
        return state.error(401, "Incorrect API key provided.", None)
    data = [
        {"id": m, "object": "model", "created": 0, "owned_by": "dagen-mock"} for m in state.models
    ]
    return web.json_response({"object": "list", "data": data})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].stats_json())


async def _requests(request: web.Request) -> web.Response:
    return web.json_response({"requests": list(request.app[STATE_KEY].sampled)})


async def _stats_reset(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.reset()
    return web.json_response(state.stats_json())


async def _admin_settings(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "POST":
        try:
            changes = json.loads(await request.read())
            unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
            if unknown:
                raise ConfigValidationError(f"{unknown} cannot change; only {RUNTIME_FIELDS}")
            settings = dataclasses.replace(state.settings, **changes)
        except (ValueError, TypeError, ConfigValidationError) as exc:  # not a JSON object too
            return web.json_response({"error": {"message": str(exc)}}, status=400)
        if "seed" in changes:
            state.rng = random.Random(settings.seed)
        state.settings = settings
    return web.json_response(state.settings.runtime())


def build_app(settings: MockServerSettings) -> web.Application:
    """Build the aiohttp application of the mock server (state lives on the app)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = _State(settings)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_post("/v1/messages", _messages)
    app.router.add_post("/v1/images/generations", _images)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/stats", _stats)
    app.router.add_post("/stats/reset", _stats_reset)
    app.router.add_get("/requests", _requests)
    app.router.add_get("/admin/settings", _admin_settings)
    app.router.add_post("/admin/settings", _admin_settings)
    return app


# -- running it ----------------------------------------------------------------------


async def _start(settings: MockServerSettings) -> tuple[web.AppRunner, str]:
    """Start serving on the loop; return the runner and the ``/v1`` base URL."""
    runner = web.AppRunner(build_app(settings), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=4096, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        where = f"{settings.host}:{settings.port}"
        raise RunError(f"mock LLM server cannot listen on {where}: {exc}") from exc
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/v1"


def _raise_fd_limit() -> None:
    try:  # thousands of concurrent connections need thousands of descriptors
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed
        pass


def serve_forever(
    loop: asyncio.AbstractEventLoop, settings: MockServerSettings, ready: Callable[[str], None]
) -> None:
    """Serve on ``loop`` until ``loop.stop()``; call ``ready(url)`` once listening."""
    try:
        runner, url = loop.run_until_complete(_start(settings))
        ready(url)
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
    finally:
        loop.close()


def serve(settings: MockServerSettings) -> None:
    """Serve until SIGINT or SIGTERM; print the readiness line once listening."""
    _raise_fd_limit()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, loop.stop)
    serve_forever(loop, settings, lambda url: print(READY_LINE.format(url=url), flush=True))


def flag(name: str) -> str:
    """The command-line flag of a settings field."""
    return "--" + name.replace("_", "-")


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: ``python -m dagen.mock.server --port 0 ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m dagen.mock.server",
        description="Serve a deterministic OpenAI-compatible mock LLM on loopback "
        "(flags: see MockServerSettings; --port 0 picks a free port).",
    )
    for f in dataclasses.fields(MockServerSettings):
        kind = {"int": int, "flo": float}.get(str(f.type)[:3], str)  # from the annotation
        parser.add_argument(flag(f.name), type=kind, default=f.default, metavar=kind.__name__)
    args = parser.parse_args(argv)
    try:
        settings = MockServerSettings(**vars(args))
    except ConfigValidationError as exc:
        parser.error(str(exc))
    try:
        serve(settings)
    except RunError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
