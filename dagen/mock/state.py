"""The mock server's state: settings, fault dice, counters, and how answers are counted.

One ``_State`` per app (``app[STATE_KEY]``); see ``dagen.mock.server`` for what each
counter means. Counters live in plain dicts that the handlers serving a request hold
until they answer:

    stats              counter -> value                  (global)
    by_model[model]    counter -> value                  (per model)
    failures           request digest -> 500s answered   (fail-times directive, bounded)

Example:
    >>> counters = dict.fromkeys(_MODEL_COUNTERS, 0)
    >>> _enter(counters); counters["in_flight"], counters["peak_concurrency"]
    (1, 1)
"""

from __future__ import annotations

import hmac
import random
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dagen.mock.answers import error_body

if TYPE_CHECKING:
    from dagen.mock.server import MockServerSettings

__all__ = ["DEFAULT_MODEL", "SAMPLED", "STATE_KEY"]

DEFAULT_MODEL = "mock-model"
SAMPLED = 100_000  # sampling parameters of the newest requests kept for GET /requests


_MODEL_COUNTERS = (
    "requests",
    "completed",
    "in_flight",
    "peak_concurrency",
    "rate_limited",
    "prompt_tokens",  # as the answers' ``usage`` reported them (what a provider bills)
    "completion_tokens",
)
_COUNTERS = (*_MODEL_COUNTERS, "server_errors", "client_errors", "malformed")


def _enter(counters: dict[str, int]) -> None:
    counters["in_flight"] += 1
    counters["peak_concurrency"] = max(counters["peak_concurrency"], counters["in_flight"])


def _zero(counters: dict[str, int]) -> None:
    # In place, and what is in flight stays in flight: the handlers serving it hold these
    # very dicts and decrement them when they answer, so counts never go negative.
    for name in counters:
        counters[name] = 0 if name != "in_flight" else counters[name]
    counters["peak_concurrency"] = counters["in_flight"]


class _State:
    def __init__(self, settings: MockServerSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.stats = dict.fromkeys(_COUNTERS, 0)  # counter -> value
        self.by_model: dict[str, dict[str, int]] = {}  # model -> counter -> value
        self.models: dict[str, None] = {DEFAULT_MODEL: None}  # insertion-ordered set
        self.failures: OrderedDict[bytes, int] = OrderedDict()  # digest -> 500s answered
        self.sampled: deque[dict[str, Any]] = deque(maxlen=SAMPLED)  # newest last

    def model_stats(self, model: str) -> dict[str, int]:
        counters = self.by_model.get(model)
        if counters is None:
            counters = self.by_model[model] = dict.fromkeys(_MODEL_COUNTERS, 0)
        return counters

    def stats_json(self) -> dict[str, Any]:
        return {**self.stats, "by_model": self.by_model}

    def reset(self) -> None:
        _zero(self.stats)
        for model, counters in list(self.by_model.items()):
            if counters["in_flight"]:
                _zero(counters)
            else:
                del self.by_model[model]
        self.failures.clear()
        self.sampled.clear()

    def authorized(self, request: web.Request) -> bool:
        key = self.settings.api_key
        if key is None:
            return True
        given = request.headers.get("Authorization", "")
        if "x-api-key" in request.headers:  # the Anthropic Messages API's header
            return hmac.compare_digest(request.headers["x-api-key"].encode(), key.encode())
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    def reply(
        self, status: int, payload: Any, model: dict[str, int] | None, headers: Any = None
    ) -> web.Response:
        """Count the answer in the stats and build the response."""
        counter = "completed" if status == 200 else "rate_limited" if status == 429 else None
        if counter is None:
            counter = "server_errors" if status >= 500 else "client_errors"
        self.stats[counter] += 1
        if model is not None and counter in model:
            model[counter] += 1
        usage = payload.get("usage") if status == 200 and isinstance(payload, dict) else None
        if isinstance(usage, dict):
            for name, anthropic in (
                ("prompt_tokens", "input_tokens"),
                ("completion_tokens", "output_tokens"),
            ):
                tokens = usage.get(name, 0) + usage.get(anthropic, 0)
                self.stats[name] += tokens
                if model is not None:
                    model[name] += tokens
        return web.json_response(payload, status=status, headers=headers)

    def error(
        self, status: int, message: str, model: dict[str, int] | None, code: str | None = None
    ) -> web.Response:
        headers = None
        if status == 429 and self.settings.retry_after is not None:
            headers = {"Retry-After": f"{self.settings.retry_after:g}"}
        return self.reply(status, error_body(status, message, code), model, headers)


STATE_KEY = web.AppKey("dagen_mock_state", _State)
