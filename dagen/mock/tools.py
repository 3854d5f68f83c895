"""Tool calls of the mock LLM server: a prompt's directives make the model ask for tools.

A chat request that offers ``tools`` and holds ``[[mock:call-tool=NAME[,NAME...]]]`` is
answered, while the conversation has fewer tool-calling assistant messages than
``[[mock:tool-turns=N]]`` (default 1), with an assistant message that calls each named
tool once (parallel calls in one turn), ``content`` null and ``finish_reason``
``"tool_calls"``. A name the request does not offer is called all the same (a model that
asks for a tool it was not given). Arguments are drawn from the tool's ``parameters``
schema with the request's seeded random source (``schema_value``), or are the text of
``[[mock:tool-args=...]]`` as given (valid JSON or not). Once the turns are spent the
model answers as usual; a plain-text answer then ends with the tool results it read
(``Tool results: ...``), so a test sees them reach the model. ``tool-turns`` larger than
the column's ``max_tool_call_turns`` is a model that loops on tools.

Example:
    >>> offered = [{"type": "function", "function": {"name": "add", "parameters": {
    ...     "type": "object", "properties": {"a": {"type": "integer", "minimum": 1,
    ...     "maximum": 1}}, "required": ["a"]}}}]
    >>> asked = [{"role": "user", "content": "Sum [[mock:call-tool=add]]"}]
    >>> [c["function"] for c in tool_calls(asked, offered, ("add",), 1, None, random.Random(0))]
    [{'name': 'add', 'arguments': '{"a": 1}'}]
"""

from __future__ import annotations

import json
import random
from typing import Any

from dagen.mock.schema_values import schema_value

__all__ = ["tool_calls", "tool_calls_body", "with_tool_results"]


def tool_calls(
    messages: list[dict[str, Any]],
    offered: Any,
    names: tuple[str, ...],
    turns: int,
    arguments: str | None,
    rng: random.Random,
) -> list[dict[str, Any]] | None:
    """The tool calls the model makes now, or None when it answers (no tools offered, no
    ``call-tool`` directive, or its ``tool-turns`` spent)."""
    if not names or not isinstance(offered, list) or not offered:
        return None
    done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    if done >= turns:
        return None
    schemas = {
        t["function"].get("name"): t["function"].get("parameters")
        for t in offered
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }
    calls = []
    for index, name in enumerate(names):
        if arguments is None:
            schema = schemas.get(name)
            value = schema_value(schema, rng) if isinstance(schema, dict) else {}
            text = json.dumps(value if isinstance(value, dict) else {})
        else:
            text = arguments
        calls.append(
            {
                "id": f"call_{done}_{index}_{rng.getrandbits(24):06x}",
                "type": "function",
                "function": {"name": name, "arguments": text},
            }
        )
    return calls


def tool_calls_body(
    model: str, calls: list[dict[str, Any]], *, prompt_tokens: int, completion_id: str
) -> dict[str, Any]:
    """The ``chat.completion`` JSON of an assistant message that calls tools."""
    completion = max(1, sum(len(c["function"]["arguments"].split()) for c in calls))
    prompt = max(1, prompt_tokens)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": calls},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def with_tool_results(content: str, messages: list[dict[str, Any]]) -> str:
    """A plain-text answer followed by the text of the tool results the conversation holds."""
    results = []
    for message in messages:
        if message.get("role") != "tool":
            continue
        found = message.get("content")
        if isinstance(found, list):
            found = " ".join(str(p.get("text", "[image]")) for p in found if isinstance(p, dict))
        results.append(" ".join(str(found).split()))
    return f"{content} Tool results: {'; '.join(results)}." if results else content
