"""Image columns end to end: ``dagen.generate`` on the real LocalCluster against the mock's
``/v1/images/generations`` over HTTP: files beside the parts, paths in the column, the
mock's deterministic pictures, per-row errors, and inline base64 in a preview."""

from __future__ import annotations

import base64
import hashlib

import pandas as pd
import pytest

import dagen
from dagen.mock.images import png_image

pytestmark = pytest.mark.cluster


def image_config(server, prompt="A photo of a {{ animal }}"):
    return dagen.DatasetConfig.from_dict({"seed": 3,
        "models": [{"alias": "painter", "model": "dall-e-3", "endpoint": server.url,
                    "max_parallel_requests": 2, "inference_parameters": {"generation_type": "image"}}],
        "columns": [{"name": "animal", "column_type": "sampler", "sampler_type": "category",
                     "params": {"values": ["fox", "cat"]}},
                    {"name": "photo", "column_type": "image", "prompt": prompt,
                     "model_alias": "painter"}]})  # fmt: skip


def test_images_are_files_beside_the_parts_with_their_paths_in_the_column(client, server, tmp_path):
    out = tmp_path / "out"
    result = dagen.generate(image_config(server), 10, out, client=client,
                            settings=dagen.RunSettings(row_group_size=4))  # fmt: skip

    df = pd.read_parquet(out / "data")
    assert result.num_records == 10 and not result.dropped
    for row_group, (animal, paths) in zip(
        [0] * 4 + [1] * 4 + [2] * 2, zip(df["animal"], df["photo"], strict=True), strict=True
    ):
        (path,) = paths
        data = (out / path).read_bytes()
        assert data == png_image(f"A photo of a {animal}", 0, "dall-e-3")
        assert path.startswith(f"images/photo/{row_group}-")
        assert path.endswith(f"-0-{hashlib.sha256(data).hexdigest()[:12]}.png")
    assert len(list((out / "images" / "photo").iterdir())) == 10
    assert result.usage["painter"]["successes"] == 10


def test_a_4xx_drops_only_its_row_and_a_preview_holds_the_images_inline(client, server):
    prompt = "{% if animal == 'cat' %}[[mock:status=400]]{% endif %}A {{ animal }}"
    result = dagen.generate(image_config(server, prompt), 12, client=client)
    df = result.to_pandas()
    assert set(df["animal"]) == {"fox"} and result.num_records == 12 - len(result.dropped)
    assert len(result.dropped) > 0
    assert base64.b64decode(df["photo"].iloc[0][0]) == png_image("A fox", 0, "dall-e-3")


def _image_files(out):
    return sorted(p.name for p in (out / "images" / "photo").iterdir())


def _paths_resolve(out):
    df = pd.read_parquet(out / "data")
    for paths in df["photo"]:
        for path in paths:
            data = (out / path).read_bytes()
            assert path.endswith(f"-{hashlib.sha256(data).hexdigest()[:12]}.png")
    return df


def test_an_update_of_another_column_keeps_the_image_files_and_calls_no_painter(
    client, server, tmp_path
):
    out = tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=4)
    dagen.generate(image_config(server), 10, out, client=client, settings=settings)
    before, files = pd.read_parquet(out / "data"), _image_files(out)
    requests = server.stats()["requests"]

    data = image_config(server).to_dict()
    data["columns"].append({"name": "caption", "column_type": "expression",
                            "expr": "a {{ animal }}"})  # fmt: skip
    result = dagen.generate(dagen.DatasetConfig.from_dict(data), 10, out, client=client,
                            settings=settings, update=True)  # fmt: skip

    after = _paths_resolve(out)
    assert _image_files(out) == files
    assert [list(p) for p in after["photo"]] == [list(p) for p in before["photo"]]
    assert list(after["caption"]) == [f"a {animal}" for animal in after["animal"]]
    assert server.stats()["requests"] == requests  # no picture asked again
    assert result.usage["painter"]["successes"] == 10  # the dataset's: the first run's


def test_a_resume_regenerates_the_row_group_whose_image_is_damaged_and_prunes_strays(
    client, server, tmp_path
):
    out = tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=4)
    dagen.generate(image_config(server), 10, out, client=client, settings=settings)
    first = pd.read_parquet(out / "data")
    damaged = out / first["photo"].iloc[5][0]  # row group 1
    damaged.write_bytes(b"not the picture")
    stray = out / "images" / "photo" / "7-0-0-0123456789ab.png"  # no record holds row group 7
    stray.write_bytes(png_image("stray", 0))
    requests = server.stats()["requests"]

    result = dagen.generate(image_config(server), 10, out, client=client, settings=settings,
                            resume=True)  # fmt: skip

    again = _paths_resolve(out)
    assert result.num_records == 10 and len(again) == 10
    assert not stray.exists()
    assert len(_image_files(out)) == 10
    assert server.stats()["requests"] - requests == 4  # row group 1's pictures only
    assert list(again["animal"]) == list(first["animal"])  # the same seeded rows
