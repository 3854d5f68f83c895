"""Embedding columns: vectors of another column's text from an OpenAI-compatible ``/v1/embeddings``.

An embedding column (Data Designer's ``column_type: embedding``) reads ``target_column``
and asks the model ``model_alias`` names for its embedding. The target value is one text,
or several: a list of texts, or a string holding a JSON list of texts. The value written
is, as in Data Designer:

    {"embeddings": [[float, ...], ...], "num_embeddings": n, "dimension": d}

The model is declared like any other, as an embedding model (``inference_parameters:
{generation_type: embedding, dimensions: 256}``); its ``max_parallel_requests``, retries,
429 back-off and usage counters apply exactly as for chat models. One request per row.

Example (YAML):
    models:
      - {alias: embedder, model: nv-embedqa, inference_parameters: {dimensions: 64}}
    columns:
      - {name: review_vec, column_type: embedding, target_column: review, model_alias: embedder}

Example (Python):
    >>> column = EmbeddingColumnConfig(name="v", target_column="review", model_alias="embedder")
    >>> sorted(column.required_columns([])), column.model_alias, column.strategy.value
    (['review'], 'embedder', 'cell_by_cell')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dagen.config.column_types import (
    BaseColumnConfig,
    ColumnType,
    GenerationStrategy,
    register_column_type,
)

__all__ = ["EmbeddingColumnConfig"]


class EmbeddingColumnConfig(BaseColumnConfig):
    """Embedding vectors of ``target_column``'s text (or list of texts), from the model
    ``model_alias`` names (``/v1/embeddings``)."""

    column_type: Literal["embedding"] = "embedding"
    target_column: str = Field(min_length=1)
    model_alias_: str = Field(default="default", alias="model_alias", min_length=1)

    @property
    def strategy(self) -> GenerationStrategy:
        return GenerationStrategy.CELL_BY_CELL

    @property
    def model_alias(self) -> str | None:
        return self.model_alias_

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        return frozenset({self.target_column})


register_column_type(
    ColumnType(
        EmbeddingColumnConfig,
        "dagen.generators.embedding:build",
        example={"target_column": "city", "model_alias": "default"},
    )
)
