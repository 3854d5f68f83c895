"""The image content parts of one row: ``multi_modal_context`` turned into what a model reads.

For each ``ImageContext`` of a column, the row's value in ``column_name`` is read as a list
of images (a list, an array, a JSON text of a list, or one value), and each image becomes
one OpenAI content part:

    {"type": "image_url", "image_url": {"url": "https://host/cat.png"}}          a URL
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO..."}} base64

The user message is then ``[*image parts, {"type": "text", "text": prompt}]`` (Data
Designer's order). Base64 is checked here, before any call: it must decode, its bytes must
be a PNG, JPEG, GIF or WebP image, and match ``image_format`` when one is declared. A path
to an existing file (as an image column writes: ``images/<column>/<id>.png``, relative to
the output folder) is read and sent as base64. URLs are not fetched here: the model
fetches them, and a URL it cannot fetch is its 400 (``ModelRequestError``). Each failure
drops only its row, naming the column, the context column and the row.

Example:
    >>> from dagen.config.media import ImageContext
    >>> png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg=="
    >>> parts = image_parts([ImageContext(column_name="img")], {"img": png}, column="c")
    >>> parts[0]["image_url"]["url"][:30]
    'data:image/png;base64,iVBORw0K'
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dagen.config.media import ImageContext, ModalityDataType
from dagen.errors import ImageInputError

__all__ = ["image_format", "image_parts", "image_values", "trace_message", "user_content"]

_MAGIC = (  # (format, leading bytes)
    ("png", b"\x89PNG\r\n\x1a\n"),
    ("jpeg", b"\xff\xd8\xff"),
    ("gif", b"GIF8"),
)
_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def image_format(data: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` from an image's leading bytes, else None.

    >>> image_format(b"GIF89a..."), image_format(b"hello")
    ('gif', None)
    """
    for name, magic in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def image_values(value: Any) -> list[Any]:
    """A cell's images as a list (Data Designer's ``normalize_media_context_values``).

    >>> image_values('["a.png", "b.png"]'), image_values("a.png"), image_values(None)
    (['a.png', 'b.png'], ['a.png'], [])
    """
    if value is None:
        return []
    if isinstance(value, str):
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                return [value]
            if isinstance(parsed, list):
                return parsed
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "tolist"):  # a numpy array read back from parquet
        listed = value.tolist()
        return listed if isinstance(listed, list) else [listed]
    return [value]


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _base64_part(text: str, context: ImageContext, fail: Any) -> dict[str, Any]:
    declared = context.image_format.value if context.image_format else None
    media_type = None
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        media_type = header.removeprefix("data:").removesuffix(";base64")
        if not header.endswith(";base64"):
            fail("is a data URI that is not base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        fail("is not base64 (nor a URL, nor an image file)")
    found = image_format(data)
    if found is None:
        fail(f"is base64 of {len(data)} bytes that are not a PNG, JPEG, GIF or WebP image")
    same = {found, declared} <= {"jpg", "jpeg"} or declared in (None, found)
    if not same:
        fail(f"is a {found} image, but image_format is {declared}")
    if media_type is not None and media_type.removeprefix("image/") not in (found, "jpg"):
        fail(f"is a {found} image in a data URI of type {media_type}")
    return {"type": "image_url", "image_url": {"url": f"data:image/{found};base64,{text}"}}


def _file_bytes(value: str, base_dirs: Sequence[Path]) -> bytes | None:
    """The bytes of the image file ``value`` names, or None when it names none."""
    if not value.lower().endswith(_SUFFIXES) or len(value) > 4096:
        return None
    path = Path(value)
    for candidate in [path] if path.is_absolute() else [d / path for d in base_dirs]:
        if candidate.is_file():
            return candidate.read_bytes()
    return None


def image_parts(
    contexts: Sequence[ImageContext],
    row: dict[str, Any],
    *,
    column: str,
    row_group: int | None = None,
    index: int | None = None,
    base_dirs: Sequence[Path] = (),
) -> list[dict[str, Any]]:
    """The content parts of a row's images, in the order of ``contexts``.

    Args:
        contexts: the column's ``multi_modal_context``.
        row: the row (holding each context's ``column_name``).
        column: the LLM column, for errors.
        row_group: the row group, for errors.
        index: the row within its row group, for errors.
        base_dirs: folders a relative image path is looked up in (the output folder).

    Raises:
        ImageInputError: a value is not an image (naming the column, the context column
            and the row).
    """
    parts: list[dict[str, Any]] = []
    for context in contexts:
        for position, value in enumerate(image_values(row.get(context.column_name))):

            def fail(why: str, name: str = context.column_name, at: int = position) -> NoReturn:
                raise ImageInputError(
                    f"column {column!r}: image {at} of multi_modal_context column {name!r} {why}",
                    column=column,
                    row_group=row_group,
                    row=index,
                )

            if not isinstance(value, str) or not value:
                fail(f"is {type(value).__name__}, not a URL or base64 text")
            if context.data_type is ModalityDataType.URL:
                if not _is_url(value):
                    fail(f"is not an http(s) URL: {value[:60]!r}")
                parts.append({"type": "image_url", "image_url": {"url": value}})
            elif context.data_type is None and _is_url(value):
                parts.append({"type": "image_url", "image_url": {"url": value}})
            else:
                data = _file_bytes(value, base_dirs) if context.data_type is None else None
                if data is not None:
                    value = base64.b64encode(data).decode()
                parts.append(_base64_part(value, context, fail))
    return parts


def user_content(prompt: str, parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The user message content: the prompt alone, or the image parts then the prompt.

    >>> user_content("hi", [])
    'hi'
    """
    if not parts:
        return prompt
    return [*parts, {"type": "text", "text": prompt}]


def trace_message(message: dict[str, Any]) -> dict[str, Any]:
    """A message as a ``<col>__trace`` keeps it: content parts become the text, with the
    images beside it in ``images`` (URLs as they are, base64 as its type and size), so
    every trace message has text content and an image is not stored twice.

    >>> trace_message({"role": "user", "content": [{"type": "image_url",
    ...     "image_url": {"url": "data:image/png;base64,iVBORw0K"}}, {"type": "text", "text": "hi"}]})
    {'role': 'user', 'content': 'hi', 'images': ['data:image/png;base64 (8 chars)']}
    """
    content = message.get("content")
    if not isinstance(content, list):
        return message
    texts, images = [], []
    for part in content:
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            url = str(part.get("image_url", {}).get("url", ""))
            if url.startswith("data:"):
                header, _, data = url.partition(",")
                url = f"{header} ({len(data)} chars)"
            images.append(url)
    return {**message, "content": "\n".join(texts), "images": images}
