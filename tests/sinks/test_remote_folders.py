"""Output folders on an S3-compatible object store: moto's server on loopback, via s3fs.

The server is a real separate process (``moto_server``); dagen reaches it the way a user
configures any S3 endpoint, through the standard ``AWS_ENDPOINT_URL`` variable, and writes
every file from the client. A run stopped half-way (its callback raised) is resumed,
from Python and from the command line, and read back as pandas and as a Dask DataFrame.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import dagen

pytestmark = pytest.mark.cluster

CONFIG = {
    "seed": 11,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
    ],
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server process on 127.0.0.1 with a bucket named ``runs``."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """The environment of a user pointed at the endpoint; a fresh bucket per test."""
    import s3fs

    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    bucket = f"runs-{time.monotonic_ns()}"
    fs.mkdir(bucket)
    yield fs, bucket
    s3fs.S3FileSystem.clear_instance_cache()


def config() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(CONFIG)


def test_a_run_into_s3_stops_resumes_and_reads_back(client, s3):
    fs, bucket = s3
    url = f"s3://{bucket}/people"
    settings = dagen.RunSettings(row_group_size=25, max_concurrent_row_groups=2)

    def fail_at_two(event: dagen.RowGroupEvent) -> None:
        if event.index == 2:
            raise RuntimeError("stop here")

    with pytest.raises(dagen.CallbackError):
        dagen.generate(config(), 200, url, client=client, settings=settings,
                       on_row_group=fail_at_two)  # fmt: skip
    stopped = json.loads(fs.cat_file(f"{bucket}/people/metadata.json"))
    assert stopped["status"] == "stopped"
    assert sorted(rg["index"] for rg in stopped["row_groups"]) == [0, 1]

    paths: list[str] = []
    result = dagen.generate(config(), 200, url, client=client, settings=settings, resume=True,
                            on_row_group=lambda e: paths.append(e.path))  # fmt: skip

    assert result.output_dir == url
    assert paths == [f"{url}/data/part-{i:06d}.parquet" for i in range(2, 8)]
    assert sorted(fs.ls(f"{bucket}/people/data", detail=False)) == [
        f"{bucket}/people/data/part-{i:06d}.parquet" for i in range(8)
    ]
    assert result.to_pandas()["n"].tolist() == list(range(200))
    frame = result.to_dask()
    assert frame.npartitions == 8
    assert frame.compute()["n"].tolist() == list(range(200))
    assert pd.read_parquet(f"{url}/data")["n"].tolist() == list(range(200))


def test_the_command_line_writes_jsonl_to_s3_and_resumes_it(s3, tmp_path):
    fs, bucket = s3
    url = f"s3://{bucket}/lines"
    config_file = tmp_path / "people.json"
    config_file.write_text(json.dumps(CONFIG))
    env = {**os.environ, "PYTHONPATH": os.environ["PYTHONPATH"]}

    def dagen_run(n: int, *flags: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "dagen.cli", "run", str(config_file), "-n", str(n),
                   "-o", url, "--format", "jsonl", "--row-group-size", "30", "--workers", "1",
                   "--dashboard-address", "127.0.0.1:0", *flags]  # fmt: skip
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    first = dagen_run(60)
    assert first.returncode == 0, first.stderr
    again = dagen_run(90, "--resume")  # -n grows: one more row group
    assert again.returncode == 0, again.stderr

    names = sorted(fs.ls(f"{bucket}/lines/data", detail=False))
    assert [n.rsplit("/", 1)[1] for n in names] == [f"part-{i:06d}.jsonl" for i in range(3)]
    rows = [json.loads(line) for n in names for line in fs.cat_file(n).decode().splitlines()]
    assert [row["n"] for row in rows] == list(range(90))
    metadata = json.loads(fs.cat_file(f"{bucket}/lines/metadata.json"))
    assert metadata["status"] == "complete" and metadata["rows_written"] == 90


def test_a_url_dagen_cannot_open_is_an_output_dir_error_before_anything_runs():
    with pytest.raises(dagen.OutputDirError, match="nope://x/y cannot be used: Protocol not known"):
        dagen.generate(config(), 10, "nope://x/y")
