"""Image columns: pictures made from a prompt by an OpenAI-compatible ``/v1/images/generations``.

An image column (Data Designer's ``column_type: image``) renders its Jinja ``prompt`` for
each row and asks the model ``model_alias`` names for images. The model is declared as
an image model (``inference_parameters: {generation_type: image}``; size, quality and
the like go in ``extra_body``); its ``max_parallel_requests``, retries, 429 back-off and
usage counters apply as for chat models. One request per row.

The value of a row is a list of images, as in Data Designer: in an output folder, each is
a file beside the parts and the value holds their paths relative to the folder

    images/<column>/<row group>-<row>-<k>-<sha256[:12]>.png

and anywhere else (a preview, an in-memory run, another sink) the value holds the images
inline, as base64 (Data Designer's preview form). ``multi_modal_context`` is accepted
with Data Designer's fields; the images API takes no image input, so (as Data Designer's
diffusion route does) it is not sent.

Example (YAML):
    models:
      - {alias: painter, model: dall-e-3, inference_parameters: {generation_type: image}}
    columns:
      - {name: photo, column_type: image, prompt: "A photo of {{ city }}", model_alias: painter}

Example (Python):
    >>> column = ImageColumnConfig(name="p", prompt="A {{ animal }}", model_alias="painter")
    >>> sorted(column.required_columns([])), column.model_alias, column.strategy.value
    (['animal'], 'painter', 'cell_by_cell')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from dagen.config.column_types import (
    BaseColumnConfig,
    ColumnType,
    GenerationStrategy,
    register_column_type,
)
from dagen.config.media import ImageContext, image_contexts

__all__ = ["IMAGES_DIR", "ImageColumnConfig"]

IMAGES_DIR = "images"  # the folder of an output folder that holds image columns' files


class ImageColumnConfig(BaseColumnConfig):
    """Images generated from a prompt by the model ``model_alias`` names
    (``/v1/images/generations``)."""

    column_type: Literal["image"] = "image"
    prompt: str = Field(min_length=1)
    model_alias_: str = Field(default="default", alias="model_alias", min_length=1)
    multi_modal_context: list[ImageContext] | None = None

    _image_contexts = field_validator("multi_modal_context", mode="before")(
        classmethod(lambda cls, v: image_contexts(v))
    )

    @field_validator("prompt")
    @classmethod
    def _compiles(cls, value: str) -> str:
        from dagen.config.columns import _check_template

        return _check_template(value)

    @property
    def strategy(self) -> GenerationStrategy:
        return GenerationStrategy.CELL_BY_CELL

    @property
    def model_alias(self) -> str | None:
        return self.model_alias_

    def required_columns(
        self, earlier: list[str], search_path: tuple[Any, ...] = ()
    ) -> frozenset[str]:
        from dagen.config.columns import template_variables

        found = template_variables(self.prompt)
        return found | {context.column_name for context in self.multi_modal_context or ()}


register_column_type(
    ColumnType(
        ImageColumnConfig,
        "dagen.generators.image:build",
        example={"prompt": "A photo of {{ city }}", "model_alias": "default"},
    )
)
