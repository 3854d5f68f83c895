"""Runs against a scheduler and workers started as separate ``dask`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pandas as pd
import pytest

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.processes]


def test_cli_run_against_a_separately_started_scheduler(dask_processes, tmp_path, examples):
    out = tmp_path / "people"

    proc = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(examples / "people.yaml"), "-n", "1500",
         "-o", str(out), "--row-group-size", "500", "--scheduler", dask_processes.address],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "wrote 1500 of 1500 rows" in proc.stdout
    df = pd.read_parquet(out / "data")
    assert len(df) == 1500
    meta = json.loads((out / "metadata.json").read_text())
    assert [rg["rows"] for rg in meta["row_groups"]] == [500, 500, 500]


def test_python_api_with_a_scheduler_address_matches_a_local_run(dask_processes, client, examples):
    cfg = dagen.load_config(examples / "people.yaml")
    settings = dagen.RunSettings(row_group_size=100)

    remote = dagen.generate(cfg, 300, None, scheduler=dask_processes.address, settings=settings)
    local = dagen.generate(cfg, 300, None, client=client, settings=settings)

    pd.testing.assert_frame_equal(remote.to_pandas(), local.to_pandas())


def test_two_models_run_at_once_within_their_caps_on_separate_worker_processes(
    dask_processes, examples
):
    # the reviews example (text + structured on writer, judge on judge) on tcp workers
    caps = {"writer": 6, "judge": 3}
    with MockServerProcess(MockServerSettings(port=0, latency=0.05)) as server:
        raw = dagen.load_config(examples / "reviews.yaml").to_dict()
        for model in raw["models"]:
            model.update(endpoint=server.url, max_parallel_requests=caps[model["alias"]])
        result = dagen.generate(
            dagen.DatasetConfig.from_dict(raw), 60, None, scheduler=dask_processes.address,
            settings=dagen.RunSettings(row_group_size=30),
        )  # fmt: skip
        stats = server.stats()

    df = result.to_pandas()
    assert len(df) == 60 and all(set(q) == {"realism", "consistency"} for q in df["quality"])
    assert result.usage["writer"]["successes"] == 120 and result.usage["judge"]["successes"] == 60
    peaks = {model: s["peak_concurrency"] for model, s in stats["by_model"].items()}
    assert peaks == {"meta/llama-3.1-8b-instruct": 6, "meta/llama-3.1-70b-instruct": 3}
    assert stats["peak_concurrency"] > caps["writer"]  # the judge ran while the writer did


def test_a_model_run_started_before_any_worker_joined_waits_for_one_and_completes(tmp_path):
    # a cluster still starting (or its workers restarting): the scheduler knows no worker
    # when the run starts; the first joins two seconds later and runs the sampler's
    # tasks, which finish before its share of the model's cap is installed
    from clusters import DaskProcesses

    procs = DaskProcesses(workers=0)
    joining = threading.Timer(2.0, procs.add_worker)
    try:
        with MockServerProcess(MockServerSettings(port=0, latency=0.01)) as server:
            config = dagen.DatasetConfig.from_dict(
                {
                    "seed": 5,
                    "models": [{"alias": "m", "model": "mock", "endpoint": server.url,
                                "max_parallel_requests": 4}],
                    "columns": [
                        {"name": "topic", "column_type": "sampler", "sampler_type": "category",
                         "params": {"values": ["tea", "rain"]}},
                        {"name": "line", "column_type": "llm-text", "model_alias": "m",
                         "prompt": "One line on {{ topic }}"},
                    ],
                }
            )  # fmt: skip
            joining.start()
            result = dagen.generate(
                config, 40, tmp_path / "out", scheduler=procs.address,
                settings=dagen.RunSettings(row_group_size=20),
            )  # fmt: skip
            assert server.stats()["requests"] == 40
    finally:
        joining.cancel()
        procs.close()

    assert result.metadata["status"] == "complete"
    assert result.to_pandas()["line"].notna().sum() == 40
