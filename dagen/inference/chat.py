"""The answer to one chat call, and how an OpenAI ``chat.completion`` body becomes one.

A 200 answer has ``choices[0].message`` with text ``content``, or with ``tool_calls``
(the model asks for tools; ``content`` may then be null or empty: it becomes ``""``).
Each tool call is kept as the OpenAI shape the next request sends back, with
``arguments`` as the model's JSON text. Anything else is a ``ModelOutputError`` naming
where the answer came from and a snippet of it.

Example:
    >>> raw = (b'{"choices": [{"message": {"content": null, "tool_calls": [{"id": "c1", '
    ...        b'"type": "function", "function": {"name": "add", "arguments": "{}"}}]}}]}')
    >>> result = parse_chat(raw, "model 'm'", attempts=1, snippet=repr)
    >>> result.content, result.tool_calls[0]["function"]["name"]
    ('', 'add')
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagen.errors import ModelOutputError

__all__ = ["ChatResult", "parse_chat"]


@dataclass(frozen=True)
class ChatResult:
    """The answer to one chat call.

    Attributes:
        content: the assistant message content (``""`` when it only calls tools).
        reasoning_content: the reasoning trace (``reasoning_content`` or ``reasoning``),
            when the endpoint returns one.
        prompt_tokens: prompt tokens reported by the endpoint (0 when not reported).
        completion_tokens: completion tokens reported by the endpoint (0 when not reported).
        attempts: HTTP attempts the call took (1 when no retry was needed).
        finish_reason: why generation stopped (``"stop"``, ``"length"``, ``"tool_calls"``...),
            when reported.
        tool_calls: the tools the model asks to call, in OpenAI's shape
            (``{"id", "type": "function", "function": {"name", "arguments"}}``).
    """

    content: str
    reasoning_content: str | None
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    finish_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()


def parse_chat(
    raw: bytes, where: str, *, attempts: int, snippet: Callable[[bytes], str]
) -> ChatResult:
    """The ``ChatResult`` of a 200 answer's body.

    Args:
        raw: the body.
        where: names the model, endpoint and attempt, for errors.
        attempts: the HTTP attempts the call took.
        snippet: a short, redacted rendering of ``raw`` for errors.

    Raises:
        ModelOutputError: the body is not JSON, has no message, or its content is neither
            text nor absent beside tool calls.
    """
    try:
        data = json.loads(raw)
        message = data["choices"][0]["message"]
        content = message.get("content")
    except ValueError as exc:
        raise ModelOutputError(f"{where}: body is not JSON: {snippet(raw)}") from exc
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelOutputError(f"{where}: no choices[0].message.content in {snippet(raw)}") from exc
    calls = _tool_calls(message.get("tool_calls"), where)
    if content is None and calls:
        content = ""
    if content is None and "content" not in message:
        raise ModelOutputError(f"{where}: no choices[0].message.content in {snippet(raw)}")
    if not isinstance(content, str):
        kind = type(content).__name__
        raise ModelOutputError(f"{where}: choices[0].message.content is {kind}, not text")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    finish = data["choices"][0].get("finish_reason")
    return ChatResult(
        content=content,
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        attempts=attempts,
        finish_reason=finish if isinstance(finish, str) else None,
        tool_calls=calls,
    )


def _tool_calls(found: Any, where: str) -> tuple[dict[str, Any], ...]:
    """The tool calls of a message, checked and in OpenAI's request shape."""
    if not found:
        return ()
    if not isinstance(found, list):
        raise ModelOutputError(f"{where}: tool_calls is {type(found).__name__}, not a list")
    calls = []
    for index, call in enumerate(found):
        function = call.get("function") if isinstance(call, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise ModelOutputError(f"{where}: tool_calls[{index}] has no function name")
        arguments = function.get("arguments")  # type: ignore[union-attr]
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments)
        calls.append(
            {
                "id": str(call.get("id") or f"call_{index}"),
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else "",
                },
            }
        )
    return tuple(calls)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
