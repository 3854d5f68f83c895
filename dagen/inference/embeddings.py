"""The ``/v1/embeddings`` request and answer, for ``ModelClient.embed``.

The request is OpenAI's: ``{"model", "input": [texts], "encoding_format", "dimensions"}``
plus the model's ``extra_body``; the parameters not set are left out. The answer's
``data[i].embedding`` is a list of floats, or (``encoding_format: base64``) the base64 of
little-endian float32s; either way the result holds floats, ordered by ``data[i].index``.

Example:
    >>> raw = b'{"data": [{"index": 0, "embedding": [0.5, -0.5]}], "usage": {"prompt_tokens": 2}}'
    >>> parse_embeddings(raw, 1, "model 'e'", attempts=1).vectors
    [[0.5, -0.5]]
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from dagen.config.models import ModelConfig
from dagen.errors import ModelOutputError

__all__ = ["EmbeddingResult", "embedding_body", "parse_embeddings"]


@dataclass(frozen=True)
class EmbeddingResult:
    """The answer to one embeddings call.

    Attributes:
        vectors: one embedding per input text, in input order.
        prompt_tokens: tokens of the inputs reported by the endpoint (0 when not reported).
        attempts: HTTP attempts the call took.
    """

    vectors: list[list[float]]
    prompt_tokens: int
    attempts: int
    completion_tokens: int = 0  # embeddings produce none; kept so usage adds up as for chat


def embedding_body(config: ModelConfig, texts: list[str]) -> dict[str, Any]:
    """The JSON body of an embeddings request for ``texts``."""
    params = config.inference_parameters
    body: dict[str, Any] = {"model": config.model, "input": texts}
    if params.encoding_format is not None:
        body["encoding_format"] = params.encoding_format
    if params.dimensions is not None:
        body["dimensions"] = params.dimensions
    body.update(params.extra_body)
    return body


def _vector(value: Any, where: str) -> list[float]:
    if isinstance(value, str):  # encoding_format: base64, little-endian float32
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise ModelOutputError(f"{where}: an embedding is not valid base64") from exc
        if len(raw) % 4:
            raise ModelOutputError(f"{where}: a base64 embedding is not whole float32s")
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise ModelOutputError(f"{where}: an embedding is not a list of numbers")
    vector = [float(x) for x in value]
    if not all(math.isfinite(x) for x in vector):
        raise ModelOutputError(f"{where}: an embedding holds NaN or infinity")
    return vector


def parse_embeddings(raw: bytes, n: int, where: str, *, attempts: int) -> EmbeddingResult:
    """The vectors of a 200 answer to a request of ``n`` texts.

    Raises:
        ModelOutputError: the body is not JSON, or does not hold ``n`` numeric embeddings.
    """
    try:
        data = json.loads(raw)
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        values = [item["embedding"] for item in items]
    except ValueError as exc:
        raise ModelOutputError(f"{where}: body is not JSON: {raw[:200]!r}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelOutputError(f"{where}: no data[].embedding in {raw[:200]!r}") from exc
    if len(values) != n:
        raise ModelOutputError(f"{where}: {len(values)} embeddings for {n} inputs")
    vectors = [_vector(value, where) for value in values]
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    tokens = usage.get("prompt_tokens")
    return EmbeddingResult(
        vectors=vectors,
        prompt_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else 0,
        attempts=attempts,
    )
