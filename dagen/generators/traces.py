"""An LLM column's ``<col>__trace``: the messages of one cell, in dagen's shape or DD's.

dagen's shape (``trace_message``) keeps each message's content as its text, with the
images it carried listed beside it (``images``), so an image is not stored twice. A Data
Designer file's LLM columns ask for DD's shape (``trace_blocks: true``, set by the
importer): each message's content is a list of content blocks, as DD's ``ChatMessage``
gives them (``[{"type": "text", "text": ...}]``, image parts as they were sent), and the
final assistant message carries ``reasoning_content`` when the model returned one.

Example:
    >>> sent = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    >>> [m["content"] for m in trace(sent, last_only=False, blocks=True)]
    [[{'type': 'text', 'text': 'Hi'}], [{'type': 'text', 'text': 'Hello'}]]
    >>> trace(sent, last_only=True, blocks=False)
    [{'role': 'assistant', 'content': 'Hello'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagen.generators.media import trace_message

__all__ = ["trace", "trace_blocks"]

_DD_KEYS = ("reasoning_content", "tool_calls", "tool_call_id")  # kept when non-empty


def trace(
    messages: Sequence[dict[str, Any]],
    *,
    last_only: bool,
    blocks: bool,
    reasoning: str | None = None,
) -> list[dict[str, Any]]:
    """The ``__trace`` value of ``messages`` (the last one being the final answer): all of
    them or the final one only, in DD's block shape or dagen's; ``reasoning`` is the final
    answer's reasoning content (DD's shape only)."""
    chosen = list(messages[-1:] if last_only else messages)
    if not blocks:
        return [trace_message(m) for m in chosen]
    if reasoning and chosen and chosen[-1].get("role") == "assistant":
        chosen[-1] = {**chosen[-1], "reasoning_content": reasoning}
    return [trace_blocks(m) for m in chosen]


def trace_blocks(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as DD's ``ChatMessage.to_dict`` gives it: role, content as blocks, and
    the optional fields that are set.

    >>> trace_blocks({"role": "assistant", "content": None, "tool_calls": []})
    {'role': 'assistant', 'content': []}
    """
    found: dict[str, Any] = {"role": message["role"], "content": _blocks(message.get("content"))}
    found.update((key, message[key]) for key in _DD_KEYS if message.get(key))
    return found


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if not isinstance(content, list):
        return [_text(content)]
    return [
        part if isinstance(part, dict) and "type" in part
        else _text(part.get("text") if isinstance(part, dict) and "text" in part else part)
        for part in content
    ]  # fmt: skip


def _text(value: Any) -> dict[str, Any]:
    return {"type": "text", "text": "" if value is None else str(value)}
