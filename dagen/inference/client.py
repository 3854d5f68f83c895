"""The async client dagen's LLM columns use to call an OpenAI-compatible ``/v1`` endpoint.

Policy: one ``ModelClient`` per (event loop, model config), one ``aiohttp.ClientSession``
per client (keep-alive, no connection cap: the limiter is the cap). A call is a sequence of
attempts. Each attempt holds a slot of the client's ``AdaptiveLimiter`` only while its HTTP
request is in flight, never while backing off; a 200 reports ``on_success()`` and a 429
``on_overload()`` to the limiter, so the client backs off as a whole when the endpoint is
saturated. Failures are translated into ``dagen.errors`` at this boundary:

    429                      RateLimitError        retried (Retry-After honoured)
    5xx                      ModelServerError      retried (``status`` kept)
    timeout, 408             ModelTimeoutError     retried
    refused, DNS, reset      ModelConnectionError  retried
    1xx/3xx not followed     ModelConnectionError  retried (the endpoint misbehaves)
    400/404/413/422, 4xx     ModelRequestError     not retried (context length is named)
    401/403                  ModelAuthError        not retried
    200 without content      ModelOutputError      not retried

A model whose ``api_key_env`` variable is unset is a config problem, raised when the
client is created: ``MissingApiKeyError``.

Retryable errors are retried up to ``max_retries`` times with full-jitter exponential
backoff, then the last one is raised. Messages name the model alias, the endpoint, the
HTTP status and the server's own message (truncated), and never the API key, which is read
from ``os.environ[config.api_key_env]`` when the client is created and hidden from ``repr``.

``embed`` sends ``/v1/embeddings`` requests, and ``generate_images``
``/v1/images/generations`` requests, through the same attempts, limiter, error mapping
and usage counters (``dagen.inference.embeddings``, ``.images``: bodies and answers).

State: ``usage`` (a ``ModelUsage`` of this client's calls) and ``latency`` (a
``LatencyHistogram`` of its HTTP attempts that got an answer). Each successful call is
also added to the ledger of the Dask task that made it (``dagen.inference.ledger``).
``dagen.inference.pool`` keeps one client per (event loop, model) so that all the calls one
Dask worker makes on its loop share one session and one limiter.

Example:
    >>> async def cell(config, prompt):
    ...     client = ModelClient(config, limiter=AdaptiveLimiter(4))
    ...     try:
    ...         result = await client.chat([{"role": "user", "content": prompt}])
    ...     finally:
    ...         await client.aclose()
    ...     return result.content
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from dagen.config.models import ModelConfig
from dagen.errors import (
    MissingApiKeyError,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelRequestError,
    ModelRetryableError,
    ModelServerError,
    ModelTimeoutError,
    RateLimitError,
)
from dagen.inference.chat import ChatResult, parse_chat
from dagen.inference.embeddings import EmbeddingResult, embedding_body, parse_embeddings
from dagen.inference.images import ImageResult, image_body, parse_images
from dagen.inference.ledger import count_call
from dagen.inference.limiter import AdaptiveLimiter
from dagen.inference.secrets import ApiKey, _Secret
from dagen.inference.usage import LatencyHistogram, ModelUsage

__all__ = [
    "ApiKey",
    "ChatResult",
    "EmbeddingResult",
    "ModelClient",
    "ModelUsage",
    "RetryPolicy",
]

_MAX_SERVER_MESSAGE = 300
_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long"
    r"|input is too long|max_model_len|reduce the length",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How retryable failures are retried.

    Attributes:
        max_retries: retries after the first attempt; None means the model config's
            ``max_retries``.
        backoff_base: the first backoff ceiling, in seconds; doubles per attempt.
        backoff_max: the largest computed backoff, in seconds.
    """

    max_retries: int | None = None
    backoff_base: float = 0.25
    backoff_max: float = 10.0

    def __post_init__(self) -> None:
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError(f"RetryPolicy max_retries={self.max_retries}: want >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError(
                f"RetryPolicy backoff_base={self.backoff_base}, backoff_max={self.backoff_max}: "
                "want both >= 0"
            )

    def delay(self, attempt: int, retry_after: float | None = None, rng: Any = random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full jitter: uniform in ``[0, min(backoff_max, backoff_base * 2**(attempt-1))]``.
        A server's ``Retry-After`` replaces it, capped at ``3 * backoff_max``.
        """
        if retry_after is not None:
            return min(max(0.0, retry_after), 3 * self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(attempt - 1, 60))
        return float(rng.uniform(0.0, ceiling))


class ModelClient:
    """Calls one model of an OpenAI-compatible endpoint, with retries and a limiter.

    Args:
        config: the model; ``endpoint`` must be set.
        limiter: the concurrency limiter; a new one capped at
            ``config.max_parallel_requests`` when None.
        retry: the retry policy; ``RetryPolicy()`` when None.
        api_key: the API key, when it was read elsewhere; else it is read from
            ``config.api_key_env``.
        session: an aiohttp session to use (and not close); one is created on first use
            when None.

    Raises:
        ValueError: ``config.endpoint`` is None (the engine sets it, or starts the mock
            server, before creating clients).
        MissingApiKeyError: ``config.api_key_env`` names a variable that is unset or
            empty (and no ``api_key`` is given).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        limiter: AdaptiveLimiter | None = None,
        retry: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
        api_key: ApiKey | None = None,
    ) -> None:
        if config.endpoint is None:
            raise ValueError(
                f"model '{config.alias}' has no endpoint; the engine sets one (or starts the "
                "mock server) before creating a client"
            )
        self.config = config
        self.url = config.endpoint.rstrip("/") + "/chat/completions"
        key = api_key.reveal() if api_key is not None else None
        if config.api_key_env and key is None:
            key = os.environ.get(config.api_key_env) or None
            if key is None:
                raise MissingApiKeyError(config.alias, config.api_key_env)
        self._secret = _Secret(key)
        self._secret.headers.update(config.extra_headers)
        self.limiter = limiter or AdaptiveLimiter(config.max_parallel_requests)
        self.retry = retry or RetryPolicy()
        self.max_retries = (
            self.retry.max_retries if self.retry.max_retries is not None else config.max_retries
        )
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._rng = random.Random()
        self.usage = ModelUsage()
        self.latency = LatencyHistogram()

    def __repr__(self) -> str:
        return (
            f"ModelClient(alias={self.config.alias!r}, model={self.config.model!r}, "
            f"endpoint={self.config.endpoint!r}, limiter={self.limiter!r})"
        )

    def build_body(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The JSON body ``chat`` sends: model, messages, the inference parameters that
        are not None, the config's ``extra_body``, then the call's, then
        ``response_format`` and ``tools``."""
        params = self.config.inference_parameters
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(params, name)
            if isinstance(value, int | float):
                body[name] = value
        body.update(params.draw(self._rng))  # distributions: the caller's draw wins below
        body.update(params.extra_body)
        body.update(extra_body or {})
        if response_format is not None:
            body["response_format"] = response_format
        if tools:
            body["tools"] = tools
        return body

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatResult:
        """Send a chat completion request, retrying retryable failures.

        Args:
            messages: OpenAI chat messages.
            response_format: e.g. ``{"type": "json_schema", "json_schema": {...}}``.
            extra_body: fields merged into the request body for this call.
            tools: OpenAI function tools the model may call (``dagen.generators.tools``).

        Returns:
            The content (or the tool calls), reasoning, token counts and attempts.

        Raises:
            RateLimitError, ModelServerError, ModelTimeoutError, ModelConnectionError:
                still failing after ``max_retries`` retries.
            ModelRequestError: the endpoint rejected the request (incl. context length).
            ModelAuthError: the endpoint rejected the credentials.
            ModelOutputError: a 200 without ``choices[0].message.content`` or tool calls.
        """
        body = self.build_body(
            messages, response_format=response_format, extra_body=extra_body, tools=tools
        )
        return await self._request(self.url, body, self._result)  # type: ignore[no-any-return]

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Embed ``texts`` with one ``/v1/embeddings`` request, retrying as ``chat`` does
        (same limiter, retries and usage counters).

        Raises:
            the errors of ``chat``; ModelOutputError: not one numeric vector per text.
        """

        def parse(status: int, retry_after: str | None, raw: bytes, attempt: int) -> Any:
            if not 200 <= status < 300:
                raise self._http_error(status, retry_after, raw, attempt)
            where = f"{self._where(attempt)}: HTTP {status}"
            return parse_embeddings(raw, len(texts), where, attempts=attempt)

        url = self.url.removesuffix("/chat/completions") + "/embeddings"
        return await self._request(url, embedding_body(self.config, texts), parse)  # type: ignore[no-any-return]

    async def generate_images(self, prompt: str) -> ImageResult:
        """Images for ``prompt`` from one ``/v1/images/generations`` request, retried as
        ``chat`` is (same limiter, retries and usage counters).

        Raises:
            the errors of ``chat``; ModelOutputError: an answer without valid images.
        """

        def parse(status: int, retry_after: str | None, raw: bytes, attempt: int) -> Any:
            if not 200 <= status < 300:
                raise self._http_error(status, retry_after, raw, attempt)
            return parse_images(raw, f"{self._where(attempt)}: HTTP {status}", attempts=attempt)

        url = self.url.removesuffix("/chat/completions") + "/images/generations"
        return await self._request(url, image_body(self.config, prompt), parse)  # type: ignore[no-any-return]

    async def _request(self, url: str, body: dict[str, Any], parse: Any) -> Any:
        """POST ``body`` until ``parse(status, retry_after, raw, attempt)`` returns, retrying
        retryable errors; each attempt holds a limiter slot while in flight."""
        payload = json.dumps(body).encode()
        usage = self.usage
        attempt = 0
        while True:
            attempt += 1
            usage.requests += 1
            usage.retries += attempt > 1
            try:
                async with self.limiter:
                    sent = time.perf_counter()
                    status, retry_after, raw = await self._post(payload, attempt, url)
                    self.latency.add(time.perf_counter() - sent)
                    if status == 429:
                        self.limiter.on_overload()
                    elif 200 <= status < 300:
                        self.limiter.on_success()
                result = parse(status, retry_after, raw, attempt)
            except ModelRetryableError as exc:
                usage.rate_limited += isinstance(exc, RateLimitError)
                usage.server_errors += isinstance(exc, ModelServerError)
                if attempt > self.max_retries:
                    usage.failures += 1
                    raise
                await asyncio.sleep(self.retry.delay(attempt, exc.retry_after, self._rng))
                continue
            except ModelError:
                usage.failures += 1
                raise
            usage.successes += 1
            usage.prompt_tokens += result.prompt_tokens
            usage.completion_tokens += result.completion_tokens
            count_call(self.config.alias, result.prompt_tokens, result.completion_tokens)
            return result

    async def aclose(self) -> None:
        """Close the session this client created (a session passed in is left open)."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- one attempt ---------------------------------------------------------------------

    def _where(self, attempt: int) -> str:
        tries = self.max_retries + 1
        return f"model '{self.config.alias}' at {self.config.endpoint} (attempt {attempt}/{tries})"

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60.0)
            self._session = aiohttp.ClientSession(connector=connector)
            self._owns_session = True
        return self._session

    async def _post(self, payload: bytes, attempt: int, url: str) -> tuple[int, str | None, bytes]:
        """POST once; return (status, Retry-After header, body) or raise a retryable error."""
        try:
            async with self._get_session().post(
                url, data=payload, headers=self._secret.headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                return response.status, response.headers.get("Retry-After"), raw
        except TimeoutError as exc:  # asyncio's and aiohttp's timeouts
            message = f"{self._where(attempt)}: no answer within {self.config.timeout:g}s"
            raise ModelTimeoutError(message) from exc
        except aiohttp.ClientError as exc:
            detail = self._redact(str(exc) or type(exc).__name__)
            message = f"{self._where(attempt)}: connection failed: {detail}"
            raise ModelConnectionError(message) from exc

    def _result(self, status: int, retry_after: str | None, raw: bytes, attempt: int) -> ChatResult:
        """Turn an HTTP answer into a ``ChatResult`` or raise the matching ``ModelError``."""
        if not 200 <= status < 300:
            raise self._http_error(status, retry_after, raw, attempt)
        where = f"{self._where(attempt)}: HTTP {status}"
        return parse_chat(raw, where, attempts=attempt, snippet=self._snippet)

    def _http_error(
        self, status: int, retry_after: str | None, raw: bytes, attempt: int
    ) -> ModelError:
        server = self._server_message(raw)
        text = f"{self._where(attempt)}: HTTP {status}: {server}"
        error: ModelError
        if status == 429:
            limited = RateLimitError(text)
            limited.retry_after = _parse_retry_after(retry_after)
            error = limited
        elif status >= 500:
            failed = ModelServerError(text)
            failed.status = status
            error = failed
        elif status == 408:
            error = ModelTimeoutError(text)
        elif status in (401, 403):
            error = ModelAuthError(text)
        elif 400 <= status < 500:
            if _CONTEXT_LENGTH.search(server):
                text = f"{self._where(attempt)}: HTTP {status}: context length exceeded: {server}"
            error = ModelRequestError(text)
        else:  # 1xx/3xx that aiohttp did not follow: the endpoint is misbehaving
            error = ModelConnectionError(text)
        return error

    def _server_message(self, raw: bytes) -> str:
        """The server's error message: OpenAI ``error.message``, FastAPI ``detail``, or text."""
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        message: Any = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                message = error.get("message")
                code = error.get("code")
                if isinstance(code, str) and code not in str(message):
                    message = f"{message} ({code})"
            else:
                message = error or data.get("detail") or data.get("message")
        if not message:
            return self._snippet(raw)
        text = message if isinstance(message, str) else json.dumps(message)
        return self._redact(_truncate(" ".join(text.split())))

    def _snippet(self, raw: bytes) -> str:
        text = raw.decode("utf-8", errors="replace")
        return self._redact(_truncate(" ".join(text.split()) or "(empty body)"))

    def _redact(self, text: str) -> str:
        # A proxy might echo the request headers back: never let the key through.
        key = self._secret.key
        return text.replace(key, "***") if key else text


def _truncate(text: str) -> str:
    if len(text) <= _MAX_SERVER_MESSAGE:
        return text
    return text[: _MAX_SERVER_MESSAGE - 3] + "..."


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date; else None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())
