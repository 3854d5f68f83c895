"""The mock server's Anthropic Messages API: ``POST /v1/messages`` answered like a chat call.

A Messages request is read as the chat messages it amounts to (the top-level ``system``
first, then each message with its text and image blocks turned into OpenAI parts), so the
directives, faults, counters and deterministic answers of ``dagen.mock.server`` apply to
it unchanged. The answer is a Messages response:

    {"id": "msg_...", "type": "message", "role": "assistant", "model": ...,
     "content": [{"type": "text", "text": ...}], "stop_reason": "end_turn",
     "usage": {"input_tokens": N, "output_tokens": M}}

A request that forces a tool (``tool_choice: {"type": "tool", "name": T}``) gets one
``tool_use`` block whose ``input`` satisfies that tool's ``input_schema`` (how clients get
structured output from the Messages API), and ``stop_reason: tool_use``. The key travels in
``x-api-key``; ``anthropic-version`` must be sent (a 400 otherwise, as Anthropic answers).

Example:
    >>> chat_messages({"model": "m", "max_tokens": 5, "system": "S",
    ...     "messages": [{"role": "user", "content": "Hi"}]})
    [{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from dagen.mock.answers import (
    Answer,
    Directives,
    build_answer,
    message_text,
    request_digest,
    word_count,
)
from dagen.mock.state import _State

__all__ = ["answer_messages", "chat_messages", "forced_schema", "messages_body"]


def _part(block: Any) -> Any:
    """An Anthropic content block as an OpenAI content part (text and image kept)."""
    if not isinstance(block, dict):
        raise ValueError("content blocks must be objects")
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "image":
        source = block.get("source")
        if not isinstance(source, dict):
            raise ValueError("an image block needs a 'source' object")
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type')};base64,{source.get('data', '')}"
        elif source.get("type") == "url":
            url = str(source.get("url", ""))
        else:
            raise ValueError(f"image source type {source.get('type')!r} is not base64 or url")
        return {"type": "image_url", "image_url": {"url": url}}
    return block


def _content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError("a message's content must be a string or a list of blocks")
    return [_part(block) for block in content]


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages a Messages request amounts to.

    Raises:
        ValueError: the body is not a Messages request (no messages, no ``max_tokens``,
            a ``system`` role inside messages, a stream): the mock answers 400.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: field required (a non-empty list)")
    if not isinstance(body.get("max_tokens"), int) or isinstance(body.get("max_tokens"), bool):
        raise ValueError("max_tokens: field required")
    if body.get("stream"):
        raise ValueError("The mock server does not support stream=true.")
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        out.append({"role": "system", "content": _content(system)})
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ValueError("messages: each message has role 'user' or 'assistant'")
        out.append({"role": message["role"], "content": _content(message.get("content"))})
    forced_schema(body)  # a tool_choice naming no tool is a bad request
    return out


def forced_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The ``input_schema`` of the tool the request forces, or None."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("name") == choice.get("name"):
            schema = tool.get("input_schema")
            return schema if isinstance(schema, dict) else {"type": "object"}
    raise ValueError(f"tool_choice names tool {choice.get('name')!r}, which is not in tools")


def messages_body(
    model: str, answer: Answer, *, input_tokens: int, message_id: str, tool: str | None
) -> dict[str, Any]:
    """The Messages API JSON of an answer (a ``tool_use`` block when a tool was forced)."""
    content: list[dict[str, Any]] = []
    if answer.reasoning_content is not None:
        content.append({"type": "thinking", "thinking": answer.reasoning_content})
    if tool is not None:
        try:
            value = json.loads(answer.content)
        except ValueError:
            value = {"text": answer.content}  # a malformed answer: not what the schema asks
        content.append(
            {"type": "tool_use", "id": f"toolu_{message_id}", "name": tool, "input": value}
        )
    else:
        content.append({"type": "text", "text": answer.content})
    return {
        "id": f"msg_{message_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool is not None else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": max(1, input_tokens),
            "output_tokens": max(1, word_count(answer.content)),
        },
    }


def answer_messages(
    state: _State,
    body: dict[str, Any],
    model: str,
    messages: list[dict[str, Any]],
    directives: Directives,
    per_model: dict[str, int],
) -> web.Response:
    """The Messages answer to a request ``dagen.mock.server`` has let through."""
    schema = forced_schema(body)
    response_format = None
    if schema is not None:
        response_format = {"type": "json_schema", "json_schema": {"schema": schema}}
    settings, rng = state.settings, state.rng
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
        response_format=response_format,
        malformed=malformed,
        reasoning="thinking" in body or "reason" in model.lower(),
        digest=digest,
    )
    state.stats["malformed"] += answer.malformed
    words = sum(word_count(message_text(m.get("content"))) for m in messages)
    message_id = f"{digest.hex()[:12]}{state.stats['completed']:06d}"
    tool = body["tool_choice"]["name"] if schema is not None else None
    payload = messages_body(model, answer, input_tokens=words, message_id=message_id, tool=tool)
    return state.reply(200, payload, per_model)
