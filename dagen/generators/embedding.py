"""The embedding generator: one ``/v1/embeddings`` call per row, through the model client.

The target value is one text, a list of texts, or a string holding a JSON list of texts
(Data Designer's ``parse_list_string``); all the texts of a row go in one request. The
cell value is ``{"embeddings": [[...], ...], "num_embeddings": n, "dimension": d}``.

Calls go through the per-loop pooled ``ModelClient`` of the model, like LLM columns: the
worker's share of ``max_parallel_requests``, retries with back-off on 429/5xx, salvage
rounds and the run's usage counters all apply. An empty text list, or a value that is not
text, fails the row (naming the column and row).

Example:
    >>> texts_of("hello"), texts_of('["a", "b"]'), texts_of(["c"])
    (['hello'], ['a', 'b'], ['c'])
"""

from __future__ import annotations

import json
from typing import Any

from dagen.config.embedding import EmbeddingColumnConfig
from dagen.config.models import ModelConfig
from dagen.errors import ConfigValidationError, GenerationError
from dagen.generators.base import BatchContext, ColumnGenerator
from dagen.generators.build import BuildContext, ModelRuntime

__all__ = ["EmbeddingGenerator", "build", "texts_of"]


def texts_of(value: Any) -> list[str]:
    """The texts to embed for one target value.

    Raises:
        ValueError: the value is neither text nor a list of texts.
    """
    if hasattr(value, "tolist"):  # a numpy array read back from a frame
        value = value.tolist()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and all(isinstance(t, str) for t in parsed):
                return parsed
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(t, str) for t in value):
        return list(value)
    raise ValueError(f"the target value is {type(value).__name__}, not text or a list of texts")


class EmbeddingGenerator(ColumnGenerator):
    """A cell-by-cell generator calling one embedding model per row.

    Args:
        config: the embedding column.
        model: the model its alias names (endpoint resolved).
        reads: the columns a row passed in holds.
        runtime: what the run's model generators share on a worker.
    """

    def __init__(
        self,
        config: EmbeddingColumnConfig,
        model: ModelConfig,
        reads: tuple[str, ...],
        runtime: ModelRuntime | None = None,
    ) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.target = config.target_column
        self.model = model
        self.runtime = runtime or ModelRuntime()

    @property
    def is_async(self) -> bool:
        return True

    async def _embed(self, client: Any, texts: list[str]) -> Any:
        """One call; retryable failures that outlast the client's retries get
        ``salvage_rounds`` more rounds after a pause (doubling), as for chat."""
        return await self.runtime.salvaged(lambda: client.embed(texts))

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        try:
            texts = texts_of(row.get(self.target))
        except ValueError as exc:
            raise GenerationError(
                f"column {self.column!r}, row {index}: {self.target!r}: {exc}",
                column=self.column,
                row_group=ctx.row_group,
                row=index,
            ) from None
        if not texts:
            raise GenerationError(
                f"column {self.column!r}, row {index}: {self.target!r} holds no text to embed",
                column=self.column,
                row_group=ctx.row_group,
                row=index,
            )
        client = self.runtime.client(self.model)
        vectors = (await self._embed(client, texts)).vectors
        value = {
            "embeddings": vectors,
            "num_embeddings": len(vectors),
            "dimension": len(vectors[0]) if vectors else 0,
        }
        return {self.column: value}


def build(column: EmbeddingColumnConfig, context: BuildContext) -> EmbeddingGenerator:
    """The generator of an embedding column (the ``embedding`` column type's factory).

    Raises:
        ConfigValidationError: no model has the column's alias, or the model is not an
            embedding model while declaring chat parameters (naming the column).
    """
    alias = column.model_alias_
    try:
        model = context.config.model(alias)
    except ConfigValidationError as exc:
        known = ", ".join(m.alias for m in context.config.models) or "none"
        raise ConfigValidationError(
            f"column {column.name!r} uses model alias {alias!r}, which is not in models "
            f"(known: {known})"
        ) from exc
    params = model.inference_parameters
    chat = [n for n in ("temperature", "top_p", "max_tokens") if getattr(params, n) is not None]
    if chat:
        raise ConfigValidationError(
            f"column {column.name!r}: model {alias!r} is a chat-completion model "
            f"({', '.join(chat)} set); an embedding column needs generation_type: embedding"
        )
    return EmbeddingGenerator(column, model, context.reads, context.runtime)
