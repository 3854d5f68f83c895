"""Deterministic answers of the mock LLM server: plain text, JSON that fits a schema, code.

Policy: an answer is a pure function of the request. The SHA-256 of ``(model, messages)``
seeds a private ``random.Random``, and every choice (which sentence, which enum value, how
many array items) is drawn from it, so the same request always gets the same answer and a
different prompt almost always gets a different one. Three kinds of answer exist:

- **json** when the request has ``response_format`` of type ``json_schema`` (or
  ``json_object``, or a vLLM-style ``guided_json`` schema): JSON that validates against the
  schema. ``schema_value`` (``dagen.mock.schema_values``) covers the subset dagen's structured
  columns produce (object, array, string formats, bounded numbers, enum, const,
  anyOf/oneOf/allOf, ``$ref`` into ``#/$defs`` or ``#/definitions``, null). A schema
  given in the prompt instead, between ``<response_schema>`` tags (how Data Designer asks
  for structured and judge answers), gets that JSON in a ```json fence.
- **code** when the last user message asks for a "fenced code block": one explanatory
  sentence, then a fenced block in the language named before the word "code".
- **text** otherwise: one to three sentences that start by quoting the first words of the
  last user message, so a test can see that the prompt reached the server.

A *malformed* answer is the same answer broken on purpose: JSON cut in half (never valid
JSON), code without its fence. Plain text has no format to break and is left unchanged.

Directives such as ``[[mock:status=500]]`` embedded in any message steer the server (see
``parse_directives``); they are dropped from the quoted words and nothing else is removed.

Example:
    >>> a = build_answer("m", [{"role": "user", "content": "Name a colour"}],
    ...                  response_format={"type": "json_schema", "json_schema": {
    ...                      "schema": {"type": "string", "enum": ["red", "blue"]}}})
    >>> a.kind, json.loads(a.content) in ("red", "blue")
    ('json', True)
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from dagen.mock.schema_values import schema_value

__all__ = [
    "CONTEXT_LENGTH_MESSAGE",
    "Answer",
    "Directives",
    "build_answer",
    "completion_body",
    "error_body",
    "message_text",
    "parse_directives",
    "request_digest",
    "word_count",
]

_DIRECTIVE = re.compile(r"\[\[mock:([a-z_-]+)(?:=([^\]]*))?\]\]", re.IGNORECASE)
_FENCED = re.compile(r"fenced\s+code\s+block", re.IGNORECASE)
_PROMPT_SCHEMA = re.compile(r"<response_schema>\s*(\{.*?)\s*</response_schema>", re.DOTALL)
_LANG_WORD = re.compile(r"([A-Za-z][\w+#.-]*)\s+code\b")
_NOT_A_LANGUAGE = frozenset(
    [
        "fenced",
        "the",
        "a",
        "an",
        "of",
        "some",
        "your",
        "this",
        "that",
        "in",
        "with",
        "source",
        "single",
        "valid",
        "working",
        "following",
        "only",
        "and",
        "no",
        "block",
        "all",
        "any",
        "example",
        "write",
        "writing",
        "generate",
        "return",
        "me",
        "us",
        "more",
    ]
)

_SUBJECTS = ("The data", "This row", "A careful reader", "The model", "Every sample",
             "The answer", "Our record", "The summary")  # fmt: skip
_VERBS = ("suggests", "shows", "describes", "implies", "captures", "reflects",
          "highlights", "explains")  # fmt: skip
_OBJECTS = ("a steady trend", "an unusual pattern", "three key points", "a simple answer",
            "the expected outcome", "a quiet morning", "a bright idea", "the main idea")  # fmt: skip
_ENDINGS = (".", " today.", " in short.", " overall.")


CONTEXT_LENGTH_MESSAGE = (
    "This model's maximum context length is 4096 tokens. However, your messages resulted in "
    "{n} tokens. Please reduce the length of the messages."
)
_ERROR_TYPES = {  # status -> OpenAI error (type, code)
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("not_found_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


@dataclass(frozen=True)
class Directives:
    """The ``[[mock:...]]`` directives found in a request's messages.

    Attributes:
        status: answer this HTTP status instead of a completion (``[[mock:status=NNN]]``).
        context_length: with status 400, say the context length was exceeded.
        malformed: always break the content (``[[mock:malformed]]``).
        malformed_first: break the content until the conversation holds an assistant
            message (``[[mock:malformed-first]]``), to test a repair round trip.
        sleep: seconds to sleep before answering (``[[mock:sleep=SECONDS]]``).
        fail_times: answer 500 to the first K identical requests (``[[mock:fail-times=K]]``).
        call_tool: call these tools, when the request offers tools
            (``[[mock:call-tool=NAME,NAME]]``, ``dagen.mock.tools``).
        tool_turns: how many turns of tool calls to make (``[[mock:tool-turns=N]]``).
        tool_args: the arguments text of each tool call, as given (``[[mock:tool-args=...]]``).
    """

    status: int | None = None
    context_length: bool = False
    malformed: bool = False
    malformed_first: bool = False
    sleep: float = 0.0
    fail_times: int = 0
    call_tool: tuple[str, ...] = ()
    tool_turns: int = 1
    tool_args: str | None = None


@dataclass(frozen=True)
class Answer:
    """The assistant message the mock server sends back.

    Attributes:
        content: the message content.
        reasoning_content: the reasoning trace, for reasoning requests; else None.
        kind: ``"text"``, ``"json"`` or ``"code"``.
        malformed: True when the content was broken on purpose.
    """

    content: str
    reasoning_content: str | None
    kind: str
    malformed: bool


def message_text(content: Any) -> str:
    """Return the text of a message ``content`` (a string or a list of OpenAI parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text", "") for p in content if isinstance(p, dict))
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def word_count(text: str) -> int:
    """Whitespace word count, the mock's notion of a token."""
    return len(text.split())


def request_digest(model: str, messages: list[dict[str, Any]]) -> bytes:
    """SHA-256 of ``(model, messages)`` in canonical JSON: the identity of a request."""
    canon = json.dumps([model, messages], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode("utf-8")).digest()


def parse_directives(messages: list[dict[str, Any]]) -> Directives:
    """Collect the ``[[mock:...]]`` directives of all messages.

    Raises:
        ValueError: a directive is unknown or its value does not parse.
    """
    found: dict[str, Any] = {}
    for message in messages:
        for name, value in _DIRECTIVE.findall(message_text(message.get("content"))):
            name = name.lower().replace("_", "-")
            try:
                if name == "status":
                    found["status"] = int(value)
                elif name == "sleep":
                    found["sleep"] = max(0.0, float(value))
                elif name == "fail-times":
                    found["fail_times"] = max(0, int(value))
                elif name == "call-tool" and value.strip():
                    found["call_tool"] = tuple(n.strip() for n in value.split(",") if n.strip())
                elif name == "tool-turns":
                    found["tool_turns"] = max(0, int(value))
                elif name == "tool-args":
                    found["tool_args"] = value
                elif name in ("malformed", "malformed-first", "context-length") and not value:
                    found[name.replace("-", "_")] = True
                else:
                    raise ValueError(f"unknown mock directive [[mock:{name}]]")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad mock directive [[mock:{name}={value}]]: {exc}") from exc
    return Directives(**found)


def build_answer(
    model: str,
    messages: list[dict[str, Any]],
    *,
    response_format: Any = None,
    guided_json: Any = None,
    malformed: bool = False,
    reasoning: bool = False,
    digest: bytes | None = None,
) -> Answer:
    """Build the deterministic answer to a chat request.

    Args:
        model: the requested model name.
        messages: the OpenAI chat messages.
        response_format: the request's ``response_format``, if any.
        guided_json: a vLLM ``guided_json`` schema from the request body, if any.
        malformed: break the content on purpose (JSON cut short, code without fence).
        reasoning: add a ``reasoning_content``.
        digest: ``request_digest(model, messages)`` if the caller has it already.

    Returns:
        The answer; ``kind`` says which of json, code or text it is.
    """
    digest = digest or request_digest(model, messages)
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    last_user = _strip_directives(_last_user_text(messages))
    wants_json, schema = _requested_schema(response_format, guided_json)
    in_prompt = None if wants_json else _prompt_schema(messages)
    if in_prompt is not None:
        value = schema_value(in_prompt, rng)
        kind = "json"
        content = f"```json\n{json.dumps(value, ensure_ascii=False)}\n```"
        if malformed:
            content = content[: max(1, len(content) // 2)] + " ..."
    elif wants_json:
        value = schema_value(schema, rng) if schema is not None else _free_object(rng)
        content = json.dumps(value, ensure_ascii=False)
        kind = "json"
        if malformed:  # half a JSON text plus " ..." is never valid JSON
            content = content[: max(1, len(content) // 2)] + " ..."
    elif _FENCED.search(last_user):
        lang = _language(last_user)
        code = _code_snippet(lang, rng)
        intro = f"Here is a short {lang} snippet that does what you asked."
        kind = "code"
        content = f"{intro}\n\n{code}\n" if malformed else f"{intro}\n\n```{lang}\n{code}\n```\n"
    else:
        kind, malformed = "text", False
        content = _text(last_user, rng)
    thought = None
    if reasoning:
        thought = f"Request {digest.hex()[:8]} asks for {kind}; I answer it directly and briefly."
    return Answer(content=content, reasoning_content=thought, kind=kind, malformed=malformed)


def completion_body(
    model: str, answer: Answer, *, prompt_tokens: int, completion_id: str
) -> dict[str, Any]:
    """The OpenAI ``chat.completion`` JSON for an answer (token counts are at least 1)."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning_content is not None:
        message["reasoning_content"] = answer.reasoning_content
    prompt, completion = max(1, prompt_tokens), max(1, word_count(answer.content))
    return {
        "id": completion_id,
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


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The OpenAI error JSON ``{"error": {"message", "type", "code"}}`` for a status."""
    kind, default_code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "code": code or default_code}}


# -- text and code -------------------------------------------------------------------


def _prompt_schema(messages: list[dict[str, Any]]) -> Any:
    """The JSON schema a message gives between ``<response_schema>`` tags, or None."""
    for message in reversed(messages):
        content = message.get("content")
        if isinstance(content, list):  # content parts: their text
            content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        found = _PROMPT_SCHEMA.search(content) if isinstance(content, str) else None
        if found:
            try:
                schema = json.loads(found.group(1))
            except json.JSONDecodeError:
                return None
            return schema if isinstance(schema, dict) else None
    return None


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def _strip_directives(text: str) -> str:
    return _DIRECTIVE.sub(" ", text)


def _text(prompt: str, rng: random.Random) -> str:
    sentences = [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_ENDINGS)}"
        for _ in range(rng.randint(1, 3))
    ]
    quote = " ".join(prompt.split()[:6]).replace('"', "'")
    body = " ".join(sentences)
    return f'"{quote}": {body}' if quote else body


def _language(prompt: str) -> str:
    # The line that asks for the fenced block names the language ("Respond with python
    # code in a single fenced code block."); otherwise look anywhere in the prompt.
    lines = [line for line in prompt.splitlines() if _FENCED.search(line)]
    for text in (*reversed(lines), prompt):
        for word in _LANG_WORD.findall(text):
            if word.lower() not in _NOT_A_LANGUAGE:
                return word.lower()
    return "python"


def _code_snippet(lang: str, rng: random.Random) -> str:
    name = f"{rng.choice(('scale', 'total', 'clean', 'count', 'pick'))}_{rng.getrandbits(16):04x}"
    k = rng.randint(2, 9)
    if lang in ("python", "py", "python3"):
        return rng.choice(_PYTHON_SNIPPETS).format(name=name, k=k)
    if lang in ("sql", "sqlite", "postgresql", "mysql"):
        return f"SELECT id, name\nFROM items_{name}\nWHERE score > {k}\nORDER BY id;"
    if lang in ("javascript", "js", "typescript", "ts"):
        return f"function {name}(values) {{\n  return values.map((v) => v * {k});\n}}"
    if lang in ("bash", "sh", "shell", "zsh"):
        return f'for i in $(seq 1 {k}); do\n  echo "item $i"\ndone'
    return f"// {lang} snippet\n{name}({k});"


_PYTHON_SNIPPETS = (
    'def {name}(values):\n    """Return the values scaled by {k}."""\n'
    "    return [v * {k} for v in values]",
    'def {name}(text):\n    """Count the words longer than {k} characters."""\n'
    "    return sum(1 for word in text.split() if len(word) > {k})",
    'def {name}(items):\n    """Return the {k} smallest items."""\n    return sorted(items)[:{k}]',
    'import math\n\n\ndef {name}(x):\n    """Return the distance of (x, {k}) from the origin."""\n'
    "    return math.hypot(x, {k})",
)


# -- JSON ----------------------------------------------------------------------------


def _requested_schema(response_format: Any, guided_json: Any) -> tuple[bool, Any]:
    """Return (wants JSON, schema or None for a free JSON object)."""
    if isinstance(guided_json, dict):
        return True, guided_json
    if isinstance(guided_json, str):
        try:
            return True, json.loads(guided_json)
        except ValueError:
            return True, None
    if not isinstance(response_format, dict):
        return False, None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return True, schema if isinstance(schema, (dict, bool)) else None
    return kind == "json_object", None


def _free_object(rng: random.Random) -> dict[str, Any]:
    return {"id": rng.randint(1, 9999), "answer": f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)}"}
