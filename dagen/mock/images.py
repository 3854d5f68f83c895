"""Images at the mock server: the images a chat request carries, and the images it makes.

Inputs. A chat (or Messages) request may carry ``image_url`` content parts. The mock reads
each the way a vision model's server does: a ``data:`` URI must hold base64 of a PNG, JPEG,
GIF or WebP image; an http(s) URL on a loopback host is fetched and must answer 200 with
an image (the mock never reaches beyond 127.0.0.0/8: other hosts are recorded, not
fetched). A part that fails is the request's 400 (``invalid_image``), as OpenAI answers.
Each image received is recorded for ``GET /requests`` as
``{"source": "url" | "base64", "url": ... (URLs only), "format", "bytes", "sha256"}``.

Outputs. ``POST /v1/images/generations`` answers ``{"created", "data": [{"b64_json"}],
"usage"}`` with ``n`` small, valid PNGs (``png_image``: zlib + struct), deterministic per
(model, prompt, index): the same prompt always gets the same picture.

Example:
    >>> image = png_image("a red fox", 0)
    >>> image[:8] == b"\\x89PNG\\r\\n\\x1a\\n", png_image("a red fox", 0) == image
    (True, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import struct
import zlib
from typing import Any
from urllib.parse import urlsplit

import aiohttp

__all__ = ["generation_body", "image_request", "png_image", "received_images"]

_SIZE = 8  # pixels a side of the mock's pictures
_MAX_FETCH = 20 * 1024 * 1024
_FORMATS = (("png", b"\x89PNG\r\n\x1a\n"), ("jpeg", b"\xff\xd8\xff"), ("gif", b"GIF8"))


def _format(data: bytes) -> str | None:
    for name, magic in _FORMATS:
        if data.startswith(magic):
            return name
    return "webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_image(prompt: str, index: int = 0, model: str = "") -> bytes:
    """An 8x8 RGB PNG whose colours follow from (model, prompt, index)."""
    seed = hashlib.sha256(f"{model}\0{prompt}\0{index}".encode()).digest()
    rows = b"".join(
        b"\x00"
        + bytes(seed[(3 * (x + y)) % 30 + c] ^ (16 * y) for x in range(_SIZE) for c in range(3))
        for y in range(_SIZE)
    )
    header = struct.pack(">IIBBBBB", _SIZE, _SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _record(source: str, data: bytes, url: str | None = None) -> dict[str, Any]:
    found = {"source": source, "format": _format(data), "bytes": len(data)}
    found["sha256"] = hashlib.sha256(data).hexdigest()
    return {**found, "url": url} if url is not None else found


async def received_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The images of a request's ``image_url`` parts, read (and fetched) as a model would.

    Raises:
        ValueError: a part is not an image (the mock answers 400, naming it).
    """
    urls = [
        part.get("image_url", {}).get("url") if isinstance(part.get("image_url"), dict) else None
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    ]
    found: list[dict[str, Any]] = []
    for position, url in enumerate(urls):
        if not isinstance(url, str) or not url:
            raise ValueError(f"Invalid image {position}: image_url.url must be a non-empty string.")
        if url.startswith("data:"):
            header, _, text = url.partition(",")
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"Invalid image {position}: the data URI is not base64.") from None
            if not header.endswith(";base64") or _format(data) is None:
                raise ValueError(f"Invalid image {position}: the data URI holds no image.")
            found.append(_record("base64", data))
        elif not _is_loopback(url):
            found.append(
                {"source": "url", "url": url, "format": None, "bytes": None, "sha256": None}
            )
        else:
            found.append(_record("url", await _fetch(url, position), url))
    return found


async def _fetch(url: str, position: int) -> bytes:
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=timeout) as response,
        ):
            data = await response.content.read(_MAX_FETCH)
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ValueError(f"Error while downloading {url}: {exc or type(exc).__name__}.") from None
    if status != 200:
        raise ValueError(f"Error while downloading {url}: HTTP {status}.")
    if _format(data) is None:
        raise ValueError(f"Invalid image {position}: {url} is not a PNG, JPEG, GIF or WebP image.")
    return data


def image_request(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The prompt of an images request as one message (for directives and faults).

    Raises:
        ValueError: no prompt, or ``n`` out of 1..10 (the mock answers 400).
    """
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("'prompt' must be a non-empty string.")
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        raise ValueError("'n' must be an integer from 1 to 10.")
    return [{"role": "user", "content": prompt}]


def generation_body(model: str, body: dict[str, Any], created: int) -> dict[str, Any]:
    """The images API answer: ``n`` deterministic PNGs as ``b64_json``."""
    prompt = body["prompt"]
    images = [png_image(prompt, i, model) for i in range(body.get("n", 1))]
    words = max(1, len(prompt.split()))
    return {
        "created": created,
        "data": [{"b64_json": base64.b64encode(image).decode()} for image in images],
        "usage": {"input_tokens": words, "output_tokens": 0, "total_tokens": words},
    }
