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

Endpoints: ``POST /v1/chat/completions`` (non-streaming), ``GET /v1/models``, ``GET /stats``,
``POST /stats/reset``, ``GET|POST /admin/settings``.

State (``_State``, one per app): the current settings, the fault RNG, the counters
(``_Stats``: global and per model), the models seen, and the fail-times counts
(``digest -> failures answered so far``, bounded). ``in_flight`` counts completion requests
being served: from the moment a request passes the auth, body and ``max_concurrency``
checks until its answer (200, a dice 429/500, a directive status) is sent. Requests rejected
because ``max_concurrency`` was reached are answered 429 at once and never count as in
flight, so ``peak_concurrency`` (the largest ``in_flight`` ever, since the last reset) is
exactly what a test reads to prove a client-side concurrency cap held. ``latency``,
``jitter`` and the sleep directive apply to every in-flight request, faults included.

Example:
    >>> with MockServerThread(MockServerSettings(port=0, latency=0.01)) as base_url:
    ...     ...  # point a ModelConfig's endpoint at base_url ("http://127.0.0.1:PORT/v1")

    $ python -m dagen.models.mock_server --port 0 --latency 0.2 --rate-limit-rate 0.1
    dagen mock-llm listening on http://127.0.0.1:41234/v1
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hmac
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from dagen.errors import ConfigValidationError, RunError
from dagen.models.mock_answers import (
    Directives,
    build_answer,
    message_text,
    parse_directives,
    request_digest,
    word_count,
)

__all__ = [
    "MockServerProcess",
    "MockServerSettings",
    "MockServerThread",
    "build_app",
    "main",
    "serve",
]

READY_LINE = "dagen mock-llm listening on {url}"
RUNTIME_FIELDS = (
    "latency",
    "jitter",
    "max_concurrency",
    "error_rate",
    "rate_limit_rate",
    "malformed_rate",
    "retry_after",
    "seed",
)
DEFAULT_MODEL = "mock-model"
_FAIL_TIMES_MAX = 100_000  # bound on the fail-times dict (oldest entries are dropped)
_CONTEXT_LENGTH = (
    "This model's maximum context length is 4096 tokens. However, your messages resulted in "
    "{n} tokens. Please reduce the length of the messages."
)
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("not_found_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


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
        def bad(name: str, want: str) -> ConfigValidationError:
            value = getattr(self, name)
            return ConfigValidationError(f"mock server setting {name}={value!r}: want {want}")

        for name in ("latency", "jitter"):
            if not _is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "a number >= 0")
        for name in ("error_rate", "rate_limit_rate", "malformed_rate"):
            if not _is_number(getattr(self, name)) or not 0 <= getattr(self, name) <= 1:
                raise bad(name, "a probability between 0 and 1")
        mc, ra = self.max_concurrency, self.retry_after
        if mc is not None and (not isinstance(mc, int) or isinstance(mc, bool) or mc < 0):
            raise bad("max_concurrency", "None or an integer >= 0")
        if ra is not None and (not _is_number(ra) or ra < 0):
            raise bad("retry_after", "None or a number >= 0")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise bad("port", "an integer port, 0 for any free port")
        if not isinstance(self.seed, int):
            raise bad("seed", "an integer")

    def runtime(self) -> dict[str, Any]:
        """The settings ``POST /admin/settings`` may change, as a JSON-able dict."""
        return {name: getattr(self, name) for name in RUNTIME_FIELDS}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- state ---------------------------------------------------------------------------


class _ModelStats:
    __slots__ = ("completed", "in_flight", "peak_concurrency", "rate_limited", "requests")

    def __init__(self, in_flight: int = 0) -> None:
        self.requests = self.completed = self.rate_limited = 0
        self.in_flight = self.peak_concurrency = in_flight

    def enter(self) -> None:
        self.in_flight += 1
        self.peak_concurrency = max(self.peak_concurrency, self.in_flight)

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Stats(_ModelStats):
    """Global counters plus ``by_model`` (model name -> its counters)."""

    __slots__ = ("by_model", "client_errors", "malformed", "server_errors")

    def __init__(self, previous: _Stats | None = None) -> None:
        # A reset keeps what is in flight now, so counts never go negative.
        super().__init__(previous.in_flight if previous else 0)
        self.server_errors = self.client_errors = self.malformed = 0
        self.by_model: dict[str, _ModelStats] = {}
        for name, old in (previous.by_model if previous else {}).items():
            if old.in_flight:
                self.by_model[name] = _ModelStats(old.in_flight)

    def model(self, name: str) -> _ModelStats:
        stats = self.by_model.get(name)
        if stats is None:
            stats = self.by_model[name] = _ModelStats()
        return stats

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in _ModelStats.__slots__}
        out.update(server_errors=self.server_errors, client_errors=self.client_errors)
        out["malformed"] = self.malformed
        out["by_model"] = {name: s.to_dict() for name, s in self.by_model.items()}
        return out


class _State:
    def __init__(self, settings: MockServerSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.stats = _Stats()
        self.models: dict[str, None] = {DEFAULT_MODEL: None}  # insertion-ordered set
        self.failures: OrderedDict[bytes, int] = OrderedDict()  # digest -> 500s answered

    def reset(self) -> None:
        self.stats = _Stats(self.stats)
        self.failures.clear()

    def authorized(self, request: web.Request) -> bool:
        key = self.settings.api_key
        if key is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    def reply(
        self, status: int, payload: Any, model: _ModelStats | None, headers: Any = None
    ) -> web.Response:
        """Count the answer in the stats and build the response."""
        stats = self.stats
        if status == 200:
            stats.completed += 1
        elif status == 429:
            stats.rate_limited += 1
        elif status >= 500:
            stats.server_errors += 1
        elif status >= 400:
            stats.client_errors += 1
        if model is not None:
            model.completed += status == 200
            model.rate_limited += status == 429
        body = json.dumps(payload).encode()
        return web.Response(
            status=status, body=body, content_type="application/json", headers=headers
        )

    def error(
        self, status: int, message: str, model: _ModelStats | None, code: str | None = None
    ) -> web.Response:
        kind, default_code = _ERROR_TYPES.get(status, ("server_error", None))
        payload = {"error": {"message": message, "type": kind, "code": code or default_code}}
        headers = None
        if status == 429 and self.settings.retry_after is not None:
            headers = {"Retry-After": f"{self.settings.retry_after:g}"}
        return self.reply(status, payload, model, headers)


STATE_KEY = web.AppKey("dagen_mock_state", _State)


# -- handlers ------------------------------------------------------------------------


async def _chat_completions(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    stats = state.stats
    stats.requests += 1
    try:
        body = json.loads(await request.read())
    except ValueError:
        return state.error(400, "The request body is not valid JSON.", None)
    if not isinstance(body, dict):
        return state.error(400, "The request body must be a JSON object.", None)
    model = body.get("model") if isinstance(body.get("model"), str) else DEFAULT_MODEL
    per_model = stats.model(model)
    per_model.requests += 1
    state.models[model] = None
    if not state.authorized(request):
        return state.error(401, "Incorrect API key provided.", per_model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return state.error(400, "'messages' must be a non-empty list.", per_model)
    if not all(isinstance(m, dict) for m in messages):
        return state.error(400, "Each message must be an object.", per_model)
    if body.get("stream"):
        return state.error(400, "The mock server does not support stream=true.", per_model)
    try:
        directives = parse_directives(messages)
    except ValueError as exc:
        return state.error(400, str(exc), per_model)
    settings = state.settings
    if settings.max_concurrency is not None and stats.in_flight >= settings.max_concurrency:
        return state.error(429, "Too many concurrent requests.", per_model)
    stats.enter()
    per_model.enter()
    try:
        delay = settings.latency + directives.sleep
        if settings.jitter:
            delay += state.rng.uniform(-settings.jitter, settings.jitter)
        if delay > 0:
            await asyncio.sleep(delay)
        return _answer(state, body, model, messages, directives, per_model)
    finally:
        stats.in_flight -= 1
        per_model.in_flight -= 1


def _answer(
    state: _State,
    body: dict[str, Any],
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: _ModelStats,
) -> web.Response:
    settings, rng = state.settings, state.rng
    words = sum(word_count(message_text(m.get("content"))) for m in messages)
    if directives.status is not None and directives.status != 200:
        if directives.status == 400 and directives.context_length:
            message = _CONTEXT_LENGTH.format(n=max(words, 4097))
            return state.error(400, message, per_model, code="context_length_exceeded")
        message = f"Mock error {directives.status} requested by the prompt."
        return state.error(directives.status, message, per_model)
    digest = request_digest(model, messages)
    if directives.fail_times:
        failed = state.failures.get(digest, 0)
        if failed < directives.fail_times:
            state.failures[digest] = failed + 1
            state.failures.move_to_end(digest)
            while len(state.failures) > _FAIL_TIMES_MAX:
                state.failures.popitem(last=False)
            return state.error(500, f"Mock failure {failed + 1} of {directives.fail_times}.", None)
    if settings.error_rate and rng.random() < settings.error_rate:
        return state.error(500, "The mock server had an error (injected).", None)
    if settings.rate_limit_rate and rng.random() < settings.rate_limit_rate:
        return state.error(429, "Rate limit reached (injected).", per_model)
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
    state.stats.malformed += answer.malformed
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning_content is not None:
        message["reasoning_content"] = answer.reasoning_content
    completion = max(1, word_count(answer.content))
    prompt = max(1, words)
    payload = {
        "id": f"chatcmpl-{digest.hex()[:12]}{state.stats.completed:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return state.reply(200, payload, per_model)


async def _models(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if not state.authorized(request):
        return state.error(401, "Incorrect API key provided.", None)
    data = [
        {"id": m, "object": "model", "created": 0, "owned_by": "dagen-mock"} for m in state.models
    ]
    return web.json_response({"object": "list", "data": data})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].stats.to_dict())


async def _stats_reset(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.reset()
    return web.json_response(state.stats.to_dict())


async def _admin_settings(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "POST":
        try:
            changes = json.loads(await request.read())
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            return web.json_response({"error": {"message": "want a JSON object"}}, status=400)
        unknown = sorted(set(changes) - set(RUNTIME_FIELDS))
        if unknown:
            message = f"settings {unknown} cannot be changed; allowed: {list(RUNTIME_FIELDS)}"
            return web.json_response({"error": {"message": message}}, status=400)
        try:
            settings = dataclasses.replace(state.settings, **changes)
        except ConfigValidationError as exc:
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
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/stats", _stats)
    app.router.add_post("/stats/reset", _stats_reset)
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
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed
        pass


def serve(settings: MockServerSettings) -> None:
    """Serve until SIGINT or SIGTERM; print the readiness line once listening."""
    _raise_fd_limit()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner, url = await _start(settings)
        print(READY_LINE.format(url=url), flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


class _Admin:
    """HTTP helpers shared by the thread and process handles (``url`` is the /v1 base)."""

    url: str

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        root = self.url.removesuffix("/v1")
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(root + path, data=body, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        """GET /stats."""
        return self._call("GET", "/stats")  # type: ignore[no-any-return]

    def reset(self) -> dict[str, Any]:
        """POST /stats/reset: zero the counters and forget fail-times state."""
        return self._call("POST", "/stats/reset", {})  # type: ignore[no-any-return]

    def set(self, **settings: Any) -> dict[str, Any]:
        """POST /admin/settings with the given runtime settings; return them all."""
        return self._call("POST", "/admin/settings", settings)  # type: ignore[no-any-return]


class MockServerThread(_Admin):
    """The mock server on its own event loop in a background thread.

    Example:
        >>> with MockServerThread(MockServerSettings(port=0)) as url:
        ...     pass
    """

    def __init__(self, settings: MockServerSettings | None = None) -> None:
        self.settings = settings or MockServerSettings(port=0)
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> str:
        """Start serving; return the ``/v1`` base URL once listening.

        Raises:
            RunError: the server did not start.
        """
        self._thread = threading.Thread(target=self._run, name="dagen-mock-llm", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RunError(f"mock LLM server thread did not start within {timeout}s")
        if self._error is not None:
            raise RunError(f"mock LLM server thread failed: {self._error}") from self._error
        return self.url

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # handed to start() in the calling thread
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        runner, self.url = await _start(self.settings)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MockServerProcess(_Admin):
    """The mock server as a separate ``python -m dagen.models.mock_server`` process.

    The process always binds port 0 (a free port) on ``settings.host``; ``settings.port``
    is ignored, so parallel test runs never clash. ``url`` is known once ``start`` returns.

    Example:
        >>> with MockServerProcess(MockServerSettings(latency=0.05)) as server:
        ...     server.stats()["requests"]
        0
    """

    def __init__(
        self, settings: MockServerSettings | None = None, *, startup_timeout: float = 30.0
    ) -> None:
        self.settings = settings or MockServerSettings(port=0)
        self.startup_timeout = startup_timeout
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def argv(self) -> list[str]:
        """The command line that starts the server process."""
        args = [sys.executable, "-m", "dagen.models.mock_server"]
        for f in dataclasses.fields(self.settings):
            value = 0 if f.name == "port" else getattr(self.settings, f.name)
            if value is not None:
                args += ["--" + f.name.replace("_", "-"), str(value)]
        return args

    def start(self) -> str:
        """Start the process and wait for its readiness line; return the ``/v1`` URL.

        Raises:
            RunError: the process exited or stayed silent for ``startup_timeout`` seconds.
        """
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            self.argv(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stdout is not None
        prefix = READY_LINE.format(url="")
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = self.process.stdout.readline()
                if line.startswith(prefix):
                    self.url = line[len(prefix) :].strip()
                    return self.url
                if not line:  # end of output: the process died
                    break
        code = self.process.poll()
        self.stop()
        raise RunError(f"mock LLM server process did not start (exit code {code})")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (SIGTERM), wait, and kill it if it lingers."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> MockServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: ``python -m dagen.models.mock_server --port 0 ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m dagen.models.mock_server",
        description="Serve a deterministic OpenAI-compatible mock LLM on loopback.",
    )
    defaults = MockServerSettings()
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="0 = any free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform +- seconds")
    parser.add_argument("--max-concurrency", type=int, default=None)
    parser.add_argument("--error-rate", type=float, default=0.0, help="probability of 500")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="probability of 429")
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=None, help="seconds, on 429s")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--seed", type=int, default=0)
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
