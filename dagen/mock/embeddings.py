"""Deterministic embeddings of the mock server's ``POST /v1/embeddings``.

Policy: a vector is a pure function of (model, text, dimensions): the SHA-256 of the three
seeds a private ``random.Random``, whose Gaussian draws are scaled to unit length. The same
text always gets the same vector; different texts get different ones. ``dimensions`` is
the request's, else ``DEFAULT_DIMENSIONS``; ``encoding_format: base64`` sends the vector
as the base64 of little-endian float32s, as OpenAI does.

A request is OpenAI's: ``input`` is a text or a list of texts (token arrays are not
supported by the mock); ``[[mock:...]]`` directives in any text steer faults as in chat
requests. ``embedding_request`` returns the texts as chat-style messages, so that the
server applies directives, fault dice and counters to both endpoints alike.

Example:
    >>> v = embedding_vector("m", "hello", 4)
    >>> len(v), v == embedding_vector("m", "hello", 4), round(sum(x * x for x in v), 6)
    (4, True, 1.0)
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

__all__ = [
    "DEFAULT_DIMENSIONS",
    "MAX_DIMENSIONS",
    "embedding_request",
    "embedding_vector",
    "embeddings_body",
]

DEFAULT_DIMENSIONS = 32
MAX_DIMENSIONS = 8192
MAX_INPUTS = 2048


def embedding_request(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The texts of an embeddings request, as user messages.

    Raises:
        ValueError: ``input``, ``dimensions`` or ``encoding_format`` is not acceptable
            (the server answers 400 with the message).
    """
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise ValueError("'input' must be a non-empty text or a non-empty list of non-empty texts.")
    if len(texts) > MAX_INPUTS:
        raise ValueError(f"'input' may hold at most {MAX_INPUTS} texts.")
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int):
        raise ValueError("'dimensions' must be an integer.")
    if not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ValueError(f"'dimensions' must be between 1 and {MAX_DIMENSIONS}.")
    if body.get("encoding_format", "float") not in ("float", "base64"):
        raise ValueError("'encoding_format' must be 'float' or 'base64'.")
    return [{"role": "user", "content": text} for text in texts]


def embedding_vector(model: str, text: str, dimensions: int) -> list[float]:
    """The unit-length vector of ``text`` (see the module docstring)."""
    seed = hashlib.sha256(f"{model}\x00{dimensions}\x00{text}".encode()).digest()
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in values)) or 1.0
    return [x / norm for x in values]


def embeddings_body(
    model: str, messages: list[dict[str, Any]], body: dict[str, Any], prompt_tokens: int
) -> dict[str, Any]:
    """The OpenAI answer to an embeddings request whose texts are ``messages``."""
    dimensions = body.get("dimensions", DEFAULT_DIMENSIONS)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, message in enumerate(messages):
        vector: Any = embedding_vector(model, message["content"], dimensions)
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
