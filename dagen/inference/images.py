"""The ``/v1/images/generations`` request and answer, for ``ModelClient.generate_images``.

The request is OpenAI's images API: ``{"model", "prompt", "response_format": "b64_json"}``
plus the model's ``extra_body`` (``size``, ``quality``, ``n``...). The answer's
``data[i].b64_json`` is each image as base64; every one must decode to a PNG, JPEG, GIF or
WebP image, else the answer is a ``ModelOutputError`` (not retried, the row's error).
An answer that holds only ``data[i].url`` is refused the same way: dagen does not fetch
images from elsewhere.

Example:
    >>> import base64
    >>> png = base64.b64encode(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8)).decode()
    >>> raw = ('{"data": [{"b64_json": "%s"}], "usage": {"input_tokens": 3}}' % png).encode()
    >>> result = parse_images(raw, "model 'p'", attempts=1)
    >>> len(result.images), result.prompt_tokens
    (1, 3)
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from dagen.config.models import ModelConfig
from dagen.errors import ModelOutputError

__all__ = ["ImageResult", "image_body", "image_kind", "parse_images"]

_MAGIC = (("png", b"\x89PNG\r\n\x1a\n"), ("jpeg", b"\xff\xd8\xff"), ("gif", b"GIF8"))


def image_kind(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` from an image's leading bytes, else None."""
    for name, magic in _MAGIC:
        if data.startswith(magic):
            return name
    return "webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


@dataclass(frozen=True)
class ImageResult:
    """The answer to one images call.

    Attributes:
        images: each image as base64 (as the endpoint sent it, checked to be an image).
        prompt_tokens: input tokens the endpoint reported (0 when not reported).
        attempts: HTTP attempts the call took.
    """

    images: list[str]
    prompt_tokens: int
    attempts: int
    completion_tokens: int = 0  # image tokens are not text: kept so usage adds up


def image_body(config: ModelConfig, prompt: str) -> dict[str, Any]:
    """The JSON body of an images request for ``prompt``."""
    body: dict[str, Any] = {
        "model": config.model,
        "prompt": prompt,
        "response_format": "b64_json",
    }
    body.update(config.inference_parameters.extra_body)
    return body


def _checked(value: Any, where: str, position: int) -> str:
    if not isinstance(value, str) or not value:
        raise ModelOutputError(f"{where}: data[{position}] holds no b64_json image")
    text = value.partition(",")[2] if value.startswith("data:") else value
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ModelOutputError(f"{where}: data[{position}].b64_json is not base64") from None
    if image_kind(data) is None:
        raise ModelOutputError(
            f"{where}: data[{position}] is not a PNG, JPEG, GIF or WebP image ({data[:8]!r})"
        )
    return text


def parse_images(raw: bytes, where: str, *, attempts: int) -> ImageResult:
    """The images of a 200 answer.

    Raises:
        ModelOutputError: the body is not JSON, holds no image, or an image that is not one.
    """
    try:
        data = json.loads(raw)
        items = data["data"]
        values = [item.get("b64_json") for item in items]
    except ValueError as exc:
        raise ModelOutputError(f"{where}: body is not JSON: {raw[:200]!r}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelOutputError(f"{where}: no data[].b64_json in {raw[:200]!r}") from exc
    if not values:
        raise ModelOutputError(f"{where}: the answer holds no image")
    images = [_checked(value, where, i) for i, value in enumerate(values)]
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    tokens = usage.get("input_tokens", usage.get("prompt_tokens"))
    return ImageResult(
        images=images,
        prompt_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0,
        attempts=attempts,
    )
