"""The image generator: one ``/v1/images/generations`` call per row, through the model client.

The column's prompt is rendered for the row (sandboxed, as LLM prompts are); an empty
prompt fails the row. The cell value is the list of the images the endpoint answered,
each as base64: the sink keeps them so (a preview, an in-memory run) or writes them as
files and puts their paths in the column (``dagen.sinks.images``).

Calls go through the per-loop pooled ``ModelClient`` of the model, like LLM columns: the
worker's share of ``max_parallel_requests``, retries with back-off on 429/5xx, salvage
rounds and the run's usage counters all apply. A 4xx answer or an answer without images
fails only its row (naming the column and the row); the run goes on.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dagen.config.image import ImageColumnConfig
from dagen.config.models import ModelConfig
from dagen.config.run import TemplateLimits
from dagen.errors import ConfigValidationError, GenerationError
from dagen.generators.base import BatchContext, ColumnGenerator
from dagen.generators.build import BuildContext, ModelRuntime
from dagen.generators.expression import Template

__all__ = ["ImageGenerator", "build"]


class ImageGenerator(ColumnGenerator):
    """A cell-by-cell generator calling one image model per row.

    Args:
        config: the image column.
        model: the model its alias names (endpoint resolved).
        reads: the columns a row passed in holds.
        runtime: what the run's model generators share on a worker.
        limits: the time and size bounds of each render of its prompt.
    """

    def __init__(
        self,
        config: ImageColumnConfig,
        model: ModelConfig,
        reads: tuple[str, ...],
        runtime: ModelRuntime | None = None,
        limits: TemplateLimits | None = None,
    ) -> None:
        super().__init__(config.name, (config.name,), reads)
        self.model = model
        self.runtime = runtime or ModelRuntime()
        self.prompt = Template(config.prompt, config.name, "prompt", limits)
        self.arrow_types = {config.name: pa.list_(pa.string())}

    @property
    def is_async(self) -> bool:
        return True

    async def agenerate_cell(
        self, row: dict[str, Any], ctx: BatchContext, index: int
    ) -> dict[str, Any]:
        prompt = self.prompt.render(row, ctx.row_group, index)
        if not prompt.strip():
            raise GenerationError(
                f"column {self.column!r}, row {index}: the rendered prompt is empty",
                column=self.column,
                row_group=ctx.row_group,
                row=index,
            )
        client = self.runtime.client(self.model)
        result = await self.runtime.salvaged(lambda: client.generate_images(prompt))
        return {self.column: list(result.images)}


def build(column: ImageColumnConfig, context: BuildContext) -> ImageGenerator:
    """The generator of an image column (the ``image`` column type's factory).

    Raises:
        ConfigValidationError: no model has the column's alias, or it is not an image
            model (naming the column).
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
    if model.generation_type != "image":
        raise ConfigValidationError(
            f"column {column.name!r}: model {alias!r} is a {model.generation_type} model; "
            "an image column needs one with inference_parameters: {generation_type: image}"
        )
    return ImageGenerator(column, model, context.reads, context.runtime, context.template_limits)
