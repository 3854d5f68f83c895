"""Images as model input: an LLM column's ``multi_modal_context`` (Data Designer's fields).

Each entry names a column whose value in a row is one image or several (a list, or a JSON
text of a list); every image is sent with the rendered prompt as an OpenAI content part,
images first, then the prompt's text (``dagen.generators.media`` builds the parts):

    data_type: url       the value is an http(s) URL, passed to the model as is
    data_type: base64    the value is base64 (or a ``data:image/...;base64,`` URI);
                         ``image_format`` is then required (a data URI's type must match it)
    data_type omitted    auto: a URL is passed as is, a file an image column of the same
                         run wrote is read and sent as base64, anything else is base64

A value that is none of these is the row's error (``ImageInputError``, naming the column
and the row), never the run's.

Example (YAML):
    columns:
      - name: caption
        column_type: llm-text
        prompt: Describe the photo in one line.
        multi_modal_context:
          - {modality: image, column_name: photo_url, data_type: url}
          - {modality: image, column_name: thumbnail, data_type: base64, image_format: png}

Example (Python):
    >>> ImageContext(column_name="photo").data_type is None
    True
"""

from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import model_validator

from dagen.config.base import StrictModel

__all__ = ["ImageContext", "ImageFormat", "ModalityDataType", "image_contexts"]


class ImageFormat(enum.StrEnum):
    """The image formats a base64 image may have (Data Designer's ``ImageFormat``)."""

    PNG = "png"
    JPG = "jpg"
    JPEG = "jpeg"
    GIF = "gif"
    WEBP = "webp"


class ModalityDataType(enum.StrEnum):
    """How a context column holds its images."""

    URL = "url"
    BASE64 = "base64"


class ImageContext(StrictModel):
    """Images from one column sent to the model with the prompt.

    Attributes:
        modality: always ``image`` (Data Designer's audio and video are not supported).
        column_name: the column holding the image(s) of each row.
        data_type: ``url``, ``base64``, or None to tell them apart per value.
        image_format: the format of base64 images; required when ``data_type`` is base64.
    """

    modality: Literal["image"] = "image"
    column_name: str
    data_type: ModalityDataType | None = None
    image_format: ImageFormat | None = None

    @model_validator(mode="after")
    def _format_for_base64(self) -> ImageContext:
        if self.data_type is ModalityDataType.BASE64 and self.image_format is None:
            raise ValueError("image_format is required when data_type is base64")
        return self


def image_contexts(value: Any) -> Any:
    """``multi_modal_context`` as given, each entry without ``modality`` taken as an image
    (Data Designer's legacy form) and audio or video entries refused by name.

    >>> image_contexts([{"column_name": "photo"}])
    [{'column_name': 'photo', 'modality': 'image'}]
    """
    if not isinstance(value, list):
        return value
    out = []
    for entry in value:
        if isinstance(entry, dict):
            modality = entry.get("modality", "image")
            if modality in ("audio", "video"):
                raise ValueError(
                    f"{modality} inputs are not supported; multi_modal_context takes images"
                )
            entry = {**entry, "modality": modality}
        out.append(entry)
    return out
