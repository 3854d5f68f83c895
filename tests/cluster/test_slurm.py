"""Runs through dask-jobqueue's SLURMCluster on a real single-node Slurm.

``scripts/slurm-node`` installs and starts that Slurm (munged, slurmctld, slurmd on this
host, partition ``debug``); ``scripts/test`` runs it and sets ``DAGEN_REQUIRE_SLURM`` so
that these tests fail there instead of skipping. Each test's workers are ``sbatch`` jobs
of a job name of its own, running this venv's python; their logs land in the test's
folder, named after the job ids Slurm gave them. However the run ends, dagen closes the
cluster, and the cluster ``scancel``s its jobs: none is left in the queue.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

SETUP = "sudo bash scripts/slurm-node"
ENDED = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED"}


@pytest.fixture(scope="module")
def slurm() -> str:
    """The partition to submit to, once Slurm answers with an idle node; else a skip (a
    failure under ``DAGEN_REQUIRE_SLURM``)."""
    missing = None
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        missing = "Slurm's commands (sbatch, sinfo) are not installed"
    else:
        found = subprocess.run(["sinfo", "--noheader", "--format=%P %t"],
                               capture_output=True, text=True, timeout=30)  # fmt: skip
        states = found.stdout.split()
        if found.returncode != 0 or "idle" not in states[1::2]:
            missing = f"Slurm has no idle node (sinfo: {(found.stdout + found.stderr).strip()!r})"
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        missing = missing or "dask-jobqueue is not installed (pip install 'dagen[slurm]')"
    if missing:
        if os.environ.get("DAGEN_REQUIRE_SLURM"):
            pytest.fail(f"{missing}; scripts/test starts one with: {SETUP}")
        pytest.skip(f"{missing}; to start a single-node Slurm: {SETUP}")
    return "debug"


def jobs(name: str, states: str = "all") -> dict[str, str]:
    """Slurm's jobs of this job name still in its memory: job id -> state."""
    found = subprocess.run(
        ["squeue", "--noheader", f"--states={states}", f"--name={name}", "--format=%i %T"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return dict(line.split() for line in found.stdout.splitlines() if line.strip())


def wait_until_gone(name: str, seconds: float = 30) -> dict[str, str]:
    """The jobs of ``name`` once none is pending or running (scancel takes a moment)."""
    deadline = time.monotonic() + seconds
    while (active := jobs(name, "pending,running,completing,configuring")) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert not active, f"jobs of {name} still queued {seconds} s after the run: {active}"
    return jobs(name)


def slurm_options(partition: str, name: str, logs: Path) -> list[str]:
    """``--cluster-option``s of a SLURMCluster whose workers are jobs on this node,
    each one CPU with two task slots, running this python, reached on loopback."""
    options = {
        "queue": partition,
        "job_name": name,
        "cores": 2,  # threads per worker
        "job_cpu": 1,  # CPUs asked of Slurm per job: two jobs fit on a two-core node
        "memory": "1GB",
        "processes": 1,
        "walltime": "00:10:00",
        "python": sys.executable,
        "log_directory": str(logs),
        "local_directory": str(logs),
        "scheduler_options": "{host: 127.0.0.1, dashboard_address: '127.0.0.1:0'}",
    }
    return [arg for key, value in options.items() for arg in ("--cluster-option", f"{key}={value}")]


def run_args(config: Path, out: Path, rows: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "dagen.cli", "run", str(config), "-n", str(rows), "-o", str(out),
            "--row-group-size", "20", "--cluster", "slurm", *options, "--cluster-timeout", "90",
            "--dashboard-address", "127.0.0.1:0", "-v"]  # fmt: skip


def dagen_run(config: Path, out: Path, rows: int, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        run_args(config, out, rows, *options), capture_output=True, text=True, timeout=240
    )


def lines_config(folder: Path, server) -> Path:
    config = folder / "lines.json"
    config.write_text(json.dumps({
        "seed": 3,
        "models": [{"alias": "writer", "model": "mock", "endpoint": server.url,
                    "max_parallel_requests": 2}],
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["tea", "rain", "trains"]}},
            {"name": "line", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "One line on {{ topic }}"},
        ],
    }))  # fmt: skip
    return config


def worker_logs(logs: Path, name: str, job_ids: dict[str, str]) -> dict[str, str]:
    """Each job's worker log (``NAME-JOBID.err``, as dask-jobqueue names them)."""
    return {job: (logs / f"{name}-{job}.err").read_text() for job in job_ids}


def test_cli_run_on_slurm_writes_every_row_from_sbatch_workers_and_cancels_them(
    slurm, server, tmp_path
):
    name, logs = f"dagen-{uuid.uuid4().hex[:8]}", tmp_path / "logs"
    config = lines_config(tmp_path, server)

    proc = dagen_run(config, tmp_path / "out", 100, *slurm_options(slurm, name, logs),
                     "--adapt", "1:2")  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "wrote 100 of 100 rows" in proc.stdout
    assert "started SLURMCluster (dask_jobqueue.SLURMCluster)" in proc.stderr
    assert "adapting 1 to 2 workers" in proc.stderr
    df = pd.read_parquet(tmp_path / "out" / "data")
    assert len(df) == 100 and df["line"].str.len().gt(0).all()
    assert server.stats()["requests"] == 100
    ended = wait_until_gone(name)
    assert ended and set(ended.values()) <= ENDED, ended
    # the workers were these jobs: each job's log shows a dask worker joining the run
    for job, text in worker_logs(logs, name, ended).items():
        assert "Registered to:      tcp://127.0.0.1:" in text, (job, text[-2000:])
    assert any("dagen-run-" in text for text in worker_logs(logs, name, ended).values())


def test_a_run_that_fails_on_slurm_keeps_its_row_groups_and_leaves_no_job(slurm, tmp_path):
    name, logs = f"dagen-{uuid.uuid4().hex[:8]}", tmp_path / "logs"
    config = tmp_path / "numbers.json"
    config.write_text(json.dumps({
        "seed": 5,
        "columns": [
            {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []},
            {"name": "sq", "column_type": "custom", "function": "scenario_functions:fail_from_300"},
        ],
    }))  # fmt: skip
    out = tmp_path / "out"

    proc = dagen_run(config, out, 2000, *slurm_options(slurm, name, logs),
                     "--cluster-option", "n_workers=1")  # fmt: skip

    assert proc.returncode != 0
    assert "column 'sq'" in proc.stderr and "the upstream service rejects" in proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped"
    df = pd.read_parquet(out / "data")
    assert len(df) == meta["rows_written"] >= 20  # the row groups written before are kept
    assert df["n"].tolist() == list(range(len(df)))
    ended = wait_until_gone(name)
    assert ended and set(ended.values()) <= ENDED, ended


def _ctrl_c_reaches_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in a terminal (not a background shell)


def test_ctrl_c_during_a_run_on_slurm_cancels_its_running_jobs(slurm, tmp_path):
    name, logs = f"dagen-{uuid.uuid4().hex[:8]}", tmp_path / "logs"
    with MockServerProcess(MockServerSettings(port=0, latency=0.3)) as server:
        proc = subprocess.Popen(
            run_args(lines_config(tmp_path, server), tmp_path / "out", 2000,
                     *slurm_options(slurm, name, logs), "--cluster-option", "n_workers=1"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, preexec_fn=_ctrl_c_reaches_it,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while server.stats()["requests"] < 4:  # the job's worker is calling the model
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        running = jobs(name, "running")
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)

    assert list(running.values()) == ["RUNNING"], running
    assert proc.returncode == 130, stderr
    ended = wait_until_gone(name)
    assert set(ended) == set(running) and set(ended.values()) <= ENDED, ended
