"""A row's images as content parts: URLs, base64, files, several per cell, and what is not
an image (each a row's ``ImageInputError`` naming the column, the context column and row)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from dagen.config.columns import LLMTextColumnConfig
from dagen.config.media import ImageContext
from dagen.errors import ConfigValidationError, ImageInputError
from dagen.generators.media import image_parts, user_content
from dagen.mock.images import png_image

PNG = png_image("a fox")
PNG_B64 = base64.b64encode(PNG).decode()
GIF_B64 = base64.b64encode(b"GIF89a" + bytes(20)).decode()


def url_of(part: dict) -> str:
    return part["image_url"]["url"]


def test_urls_pass_as_they_are_and_base64_becomes_a_typed_data_uri():
    contexts = [
        ImageContext(column_name="photo", data_type="url"),
        ImageContext(column_name="thumb", data_type="base64", image_format="png"),
    ]
    row = {"photo": "https://example.org/cat.jpg", "thumb": PNG_B64}
    parts = image_parts(contexts, row, column="caption")
    assert [url_of(p) for p in parts] == [
        "https://example.org/cat.jpg",
        f"data:image/png;base64,{PNG_B64}",
    ]
    content = user_content("Describe it.", parts)
    assert content[-1] == {"type": "text", "text": "Describe it."} and content[:2] == parts


@pytest.mark.parametrize(
    "cell",
    [
        [PNG_B64, GIF_B64],
        json.dumps([PNG_B64, GIF_B64]),  # a JSON text of a list (as Data Designer reads it)
        np.array([PNG_B64, GIF_B64], dtype=object),  # a list read back from parquet
    ],
)
def test_a_cell_may_hold_several_images(cell):
    parts = image_parts([ImageContext(column_name="imgs")], {"imgs": cell}, column="c")
    assert [url_of(p)[:15] for p in parts] == ["data:image/png;", "data:image/gif;"]


def test_auto_mode_reads_an_image_file_relative_to_the_output_folder(tmp_path):
    (tmp_path / "images" / "pic").mkdir(parents=True)
    (tmp_path / "images" / "pic" / "0-3.png").write_bytes(PNG)
    row = {"pic": "images/pic/0-3.png"}
    parts = image_parts([ImageContext(column_name="pic")], row, column="c", base_dirs=[tmp_path])
    assert url_of(parts[0]) == f"data:image/png;base64,{PNG_B64}"


@pytest.mark.parametrize(
    ("context", "value", "why"),
    [
        ({"data_type": "base64", "image_format": "png"}, "not base64 at all!", "is not base64"),
        ({}, base64.b64encode(b"hello world").decode(), "are not a PNG, JPEG, GIF or WebP"),
        ({"data_type": "base64", "image_format": "jpeg"}, PNG_B64, "a png image, but image_format is jpeg"),
        ({"data_type": "url"}, "ftp://host/x.png", r"is not an http\(s\) URL"),
        ({}, "data:image/gif;base64," + PNG_B64, "png image in a data URI of type image/gif"),
        ({}, 42, "is int, not a URL or base64 text"),
    ],
)  # fmt: skip
def test_what_is_not_an_image_is_the_rows_error_naming_column_and_row(context, value, why):
    with pytest.raises(ImageInputError, match=why) as info:
        image_parts(
            [ImageContext(column_name="photo", **context)], {"photo": value},
            column="caption", row_group=2, index=7,
        )  # fmt: skip
    error = info.value
    assert (error.column, error.row_group, error.row) == ("caption", 2, 7)
    assert "column 'caption'" in str(error) and "'photo'" in str(error)


def test_the_config_reads_the_context_columns_and_refuses_audio():
    column = LLMTextColumnConfig(
        name="caption", prompt="About {{ topic }}", multi_modal_context=[{"column_name": "photo"}]
    )
    assert column.required_columns([]) == {"topic", "photo"}
    with pytest.raises(ConfigValidationError, match="audio inputs are not supported"):
        LLMTextColumnConfig(
            name="c", prompt="x", multi_modal_context=[{"modality": "audio", "column_name": "a"}]
        )
    with pytest.raises(ConfigValidationError, match="image_format is required"):
        LLMTextColumnConfig(
            name="c", prompt="x", multi_modal_context=[{"column_name": "a", "data_type": "base64"}]
        )
