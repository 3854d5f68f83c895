"""Model faults during a run: a server that dies and comes back, timeouts, 429 storms."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from clusters import free_port

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = pytest.mark.cluster


def text_config(url: str, prompt: str = "Row {{ n }}", **model) -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict({
        "seed": 1,
        "models": [{"alias": "m", "model": "mock", "endpoint": url, "max_parallel_requests": 8, **model}],
        "columns": [
            {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []},
            {"name": "t", "column_type": "llm-text", "model_alias": "m", "prompt": prompt},
        ],
    })  # fmt: skip


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagen.mock.server", "--port", str(port), "--latency", "0.02"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "listening" in proc.stdout.readline()
    return proc


def test_a_server_that_dies_and_comes_back_loses_no_row(client):
    port = free_port()
    servers = [start_server(port)]

    def outage():
        servers[0].kill()
        time.sleep(1.5)
        servers.append(start_server(port))

    cfg = text_config(f"http://127.0.0.1:{port}/v1", max_retries=8)
    timer = threading.Timer(0.8, outage)
    timer.start()
    try:
        result = dagen.generate(
            cfg, 600, None, client=client, settings=dagen.RunSettings(row_group_size=100)
        )
    finally:
        timer.join()
        for server in servers:
            server.kill()

    df = result.to_pandas()
    assert df["n"].tolist() == list(range(600))
    assert all(text.startswith(f'"Row {n}"') for n, text in zip(df["n"], df["t"], strict=True))
    assert result.usage["m"]["retries"] > 0  # the outage was felt, and ridden out


def test_timeouts_drop_only_the_rows_that_time_out(client):
    with MockServerProcess(MockServerSettings(port=0)) as server:
        cfg = text_config(server.url, "{% if n % 4 == 0 %}[[mock:sleep=2]]{% endif %}Row {{ n }}",
                          timeout=0.3, max_retries=1)  # fmt: skip
        result = dagen.generate(cfg, 40, None, client=client,
                                settings=dagen.RunSettings(row_group_size=20, salvage_rounds=0))  # fmt: skip

    assert result.to_pandas()["n"].tolist() == [n for n in range(40) if n % 4]
    assert {(d["column"], d["error_type"], d["retryable"]) for d in result.dropped} == {
        ("t", "ModelTimeoutError", True)
    }


@pytest.mark.parametrize("salvage_rounds", [0, 2])
def test_a_429_storm_is_ridden_out_by_salvage_rounds(client, salvage_rounds):
    with MockServerProcess(MockServerSettings(port=0, latency=0.01, rate_limit_rate=1.0)) as server:
        cfg = text_config(server.url, max_retries=2)
        timer = threading.Timer(2.0, lambda: server.set(rate_limit_rate=0.0))
        timer.start()
        settings = dagen.RunSettings(
            row_group_size=20, salvage_rounds=salvage_rounds, salvage_pause=1.5
        )
        result = dagen.generate(cfg, 40, None, client=client, settings=settings)
        timer.join()
        stats = server.stats()

    assert stats["rate_limited"] > 0
    if salvage_rounds:
        assert result.num_records == 40  # every row survived the storm
        assert result.usage["m"]["rate_limited"] == stats["rate_limited"]
    else:
        assert result.num_records < 40
        assert {d["error_type"] for d in result.dropped} == {"RateLimitError"}
