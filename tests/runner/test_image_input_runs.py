"""LLM columns that send images with the prompt (``multi_modal_context``), on a real
LocalCluster: the mock server reads each image part as a vision model does (it fetches
loopback URLs from an image server of the test's own) and records what it received."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

import dagen
from dagen.mock.images import png_image

pytestmark = pytest.mark.cluster


class _Images(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1].removesuffix(".png")
        if not (self.path.startswith("/img/") and name.isdigit()):
            self.send_error(404)
            return
        body = png_image(f"photo {name}")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_host() -> Iterator[str]:
    """A loopback server: ``/img/<n>.png`` is a PNG, anything else 404."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_images_from_url_and_base64_columns_reach_the_model_and_bad_ones_drop_their_row(
    server, client, image_host, tmp_path
):
    thumbs = {i: b64(png_image(f"thumb {i}")) for i in range(6)}
    thumbs[2] = b64(b"this is text, not a picture")  # not an image: dropped before any call
    thumbs[5] = json.dumps([b64(png_image("thumb 5")), b64(png_image("thumb 5b"))])  # several
    seed = pd.DataFrame({
        "id": range(6),
        "photo": [f"{image_host}/img/{i}.png" if i != 4 else f"{image_host}/gone.png" for i in range(6)],
        "thumb": [thumbs[i] for i in range(6)],
    })  # fmt: skip
    seed.to_csv(tmp_path / "seed.csv", index=False)
    config = dagen.DatasetConfig.from_dict({
        "seed": 2,
        "models": [{"alias": "eye", "model": "mock-vision", "endpoint": server.url, "max_retries": 0}],
        "columns": [
            {"name": "s", "column_type": "seed_dataset", "path": str(tmp_path / "seed.csv"),
             "columns": ["id", "photo", "thumb"]},
            {"name": "caption", "column_type": "llm-text", "model_alias": "eye",
             "prompt": "Describe picture {{ id }}.", "with_trace": True,
             "multi_modal_context": [
                 {"modality": "image", "column_name": "photo", "data_type": "url"},
                 {"modality": "image", "column_name": "thumb"}]},
        ],
    })  # fmt: skip

    result = dagen.generate(config, 6, tmp_path / "out", client=client)

    df = result.to_pandas()
    assert sorted(df["id"]) == [0, 1, 3, 5]  # the run kept going past both bad rows
    dropped = {(d["column"], d["error_type"]): d["message"] for d in result.dropped}
    assert dropped.keys() == {("caption", "ImageInputError"), ("caption", "ModelRequestError")}
    assert "'thumb'" in dropped["caption", "ImageInputError"]
    assert "not a PNG, JPEG, GIF or WebP" in dropped["caption", "ImageInputError"]
    assert "gone.png" in dropped["caption", "ModelRequestError"]
    assert "HTTP 404" in dropped["caption", "ModelRequestError"]
    stats = server.stats()
    assert stats["completed"] == 4 and stats["client_errors"] == 1  # no call for row 2

    received = [r["images"] for r in server.requests()]
    by_photo = {images[0]["url"]: images for images in received}
    for i in (0, 1, 3, 5):
        images = by_photo[f"{image_host}/img/{i}.png"]
        assert images[0] == {
            "source": "url", "url": f"{image_host}/img/{i}.png", "format": "png",
            "bytes": len(png_image(f"photo {i}")), "sha256": sha(png_image(f"photo {i}")),
        }  # fmt: skip
        thumbs_sent = [png_image(f"thumb {i}")] + ([png_image("thumb 5b")] if i == 5 else [])
        assert [(m["source"], m["sha256"]) for m in images[1:]] == [
            ("base64", sha(t)) for t in thumbs_sent
        ]
    first = df["caption__trace"].iloc[0][0]  # the trace keeps the text, images beside
    assert first["content"].startswith("Describe picture")
    assert first["images"][0].startswith(f"{image_host}/img/")
    assert first["images"][1].startswith("data:image/png;base64 (")
