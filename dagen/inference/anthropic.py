"""The client of a model served by Anthropic's Messages API (``provider_type: anthropic``).

``AnthropicClient`` is a ``ModelClient`` that speaks another dialect over the same
attempts, limiter, retry policy, error mapping and usage counters: only the request it
builds and the answer it reads differ.

    OpenAI chat completions                  Anthropic Messages
    POST {endpoint}/chat/completions         POST {endpoint}/messages
    Authorization: Bearer KEY                x-api-key: KEY, anthropic-version: 2023-06-01
    {"role": "system"} messages              a top-level "system" text
    content parts {"type": "image_url"}      content blocks {"type": "image", "source": ...}
    max_tokens optional                      max_tokens required (4096 when not set)
    response_format json_schema              one tool with that input_schema, forced by
                                               tool_choice; its "input" is the answer
    choices[0].message.content               the "text" blocks (or the forced tool's input)
    usage.prompt/completion_tokens           usage.input_tokens/output_tokens
    finish_reason                            stop_reason

429 (``retry-after`` honoured), 529 (overloaded) and 5xx are retried like OpenAI's;
Anthropic's error JSON (``{"type": "error", "error": {"type", "message"}}``) carries its
message in ``error.message`` as OpenAI's does.

Example:
    >>> from dagen.config.models import ModelConfig
    >>> config = ModelConfig(alias="claude", model="claude-sonnet-4-5",
    ...     endpoint="http://127.0.0.1:8000/v1", provider_type="anthropic")
    >>> body = AnthropicClient(config).build_body(
    ...     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    >>> body["system"], body["messages"], body["max_tokens"]
    ('Be brief.', [{'role': 'user', 'content': 'Hi'}], 4096)
"""

from __future__ import annotations

import json
from typing import Any

from dagen.errors import ModelOutputError, ModelRequestError
from dagen.inference.chat import ChatResult, _int
from dagen.inference.client import EmbeddingResult, ModelClient

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicClient", "to_anthropic_messages"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # the Messages API requires max_tokens (Data Designer's default)
_DATA_URI_PREFIX = "data:"


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``image_url`` part as an Anthropic ``image`` block (URL or base64)."""
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, dict) else str(image or "")
    if url.startswith(_DATA_URI_PREFIX) and ";base64," in url:
        header, data = url[len(_DATA_URI_PREFIX) :].split(";base64,", 1)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": header or "image/png", "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> str | list[dict[str, Any]]:
    """A message's content: a string stays a string; OpenAI parts become blocks."""
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            blocks.append(_image_block(part))
        elif part.get("type") == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        else:
            blocks.append(part)  # already an Anthropic block
    return blocks


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = [p.get("text", "") for p in content or () if isinstance(p, dict)]
    return "\n".join(t for t in texts if isinstance(t, str) and t)


def to_anthropic_messages(
    messages: list[dict[str, Any]],
) -> tuple[str | None, list[dict[str, Any]]]:
    """OpenAI chat messages as (the top-level system text, Anthropic messages).

    System messages are joined into one text (Anthropic has no system role); user and
    assistant messages keep their order, their content parts turned into blocks.

    >>> system, out = to_anthropic_messages([{"role": "system", "content": "S"},
    ...     {"role": "user", "content": [{"type": "text", "text": "look"},
    ...         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}]}])
    >>> system, out[0]["content"][1]["source"]
    ('S', {'type': 'base64', 'media_type': 'image/png', 'data': 'iVBO'})
    """
    system = [_text_of(m.get("content")) for m in messages if m.get("role") == "system"]
    out = [
        {"role": m.get("role", "user"), "content": _blocks(m.get("content"))}
        for m in messages
        if m.get("role") != "system"
    ]
    return ("\n\n".join(s for s in system if s) or None), out


class AnthropicClient(ModelClient):
    """Calls one model of an Anthropic Messages API endpoint (``{endpoint}/messages``).

    Takes the arguments of ``ModelClient``; the key travels in ``x-api-key`` and every
    request names ``anthropic-version`` (a model's ``extra_headers`` may override it).
    """

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.url = self.config.endpoint.rstrip("/") + "/messages"  # type: ignore[union-attr]
        headers = self._secret.headers
        headers.pop("Authorization", None)
        if self._secret.key is not None:
            headers["x-api-key"] = self._secret.key
        headers["anthropic-version"] = ANTHROPIC_VERSION
        headers.update(config.extra_headers)

    def __repr__(self) -> str:
        return "Anthropic" + super().__repr__()

    def build_body(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The Messages API body: model, max_tokens, system, messages, the inference
        parameters that are set, the extra body fields, and a forced tool for
        ``response_format`` json_schema (the answer is that tool's input).

        Raises:
            ModelRequestError: ``tools`` were given: MCP tools are sent over the OpenAI
                API only (a run is refused before it starts; this guards direct use).
        """
        if tools:
            raise ModelRequestError(
                f"model '{self.config.alias}' is served by the Anthropic Messages API; dagen "
                "sends MCP tools over the OpenAI chat API only"
            )
        body = super().build_body(messages, extra_body=extra_body)
        system, body["messages"] = to_anthropic_messages(messages)
        if system is not None:
            body["system"] = system
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        spec = (response_format or {}).get("json_schema")
        if isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
            name = str(spec.get("name") or "answer")
            body["tools"] = [
                {
                    "name": name,
                    "description": "Give the answer as this tool's input.",
                    "input_schema": spec["schema"],
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": name}
        return body

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Anthropic serves no embeddings.

        Raises:
            ModelRequestError: always, naming the model.
        """
        raise ModelRequestError(
            f"model '{self.config.alias}' is served by the Anthropic Messages API, which has "
            "no embeddings endpoint"
        )

    def _result(self, status: int, retry_after: str | None, raw: bytes, attempt: int) -> ChatResult:
        """Turn a Messages API answer into a ``ChatResult`` or raise the matching error."""
        if not 200 <= status < 300:
            raise self._http_error(status, retry_after, raw, attempt)
        where = f"{self._where(attempt)}: HTTP {status}"
        try:
            data = json.loads(raw)
            blocks = data["content"]
            if not isinstance(blocks, list):
                raise TypeError(type(blocks).__name__)
        except ValueError as exc:
            raise ModelOutputError(f"{where}: body is not JSON: {self._snippet(raw)}") from exc
        except (KeyError, TypeError) as exc:
            text = f"{where}: no content blocks in {self._snippet(raw)}"
            raise ModelOutputError(text) from exc
        texts, thoughts, tool_input = [], [], None
        for block in blocks:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "thinking" and isinstance(block.get("thinking"), str):
                thoughts.append(block["thinking"])
            elif kind == "tool_use" and tool_input is None:
                tool_input = block.get("input")
        if tool_input is not None:
            content = json.dumps(tool_input, ensure_ascii=False)
        elif texts:
            content = "\n".join(texts)
        else:
            raise ModelOutputError(f"{where}: no text or tool_use block in {self._snippet(raw)}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        stop = data.get("stop_reason")
        return ChatResult(
            content=content,
            reasoning_content="\n".join(thoughts) or None,
            prompt_tokens=_int(usage.get("input_tokens")),
            completion_tokens=_int(usage.get("output_tokens")),
            attempts=attempt,
            finish_reason=stop if isinstance(stop, str) else None,
        )
