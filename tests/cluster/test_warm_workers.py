"""``dagen run`` forks its local worker processes from a warm server it started first thing
(``dagen.cluster.warm``), and they get what spawned workers got: the nanny's pre-spawn
environment (hash seed, thread caps), this process's variables, SIGINT ignored. A Dask
config that changes the pre-spawn environment gets spawned workers, as before; so does a
library call, and a worker that dies is replaced by a fork again. Each run is ``dagen`` in
its own process, whose workers report on themselves through a custom column."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest

import dagen
from dagen.cli import starts_local_workers

PROBE = '''
import os, signal, psutil

def probe(row: dict) -> str:
    """How this worker process was started, and what it was started with."""
    parent = psutil.Process(os.getppid())
    forked = any("forkserver" in part for part in parent.cmdline())
    return "|".join([
        "forked" if forked else f"child of {parent.pid}",
        os.environ.get("OMP_NUM_THREADS", "-"),
        str(hash("dagen")),
        os.environ.get("PROBE_VARIABLE", "-"),
        "ignored" if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else "handled",
    ])

def dies_once(row: dict) -> str:
    """Kill this worker process the first time any worker runs it; then probe."""
    marker = os.path.join(os.path.dirname(__file__), "died")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return probe(row)
'''
CONFIG = """\
seed: 1
columns:
  - {{name: city, column_type: sampler, sampler_type: category, params: {{values: [Oslo, Lima]}}}}
  - {{name: probe, column_type: custom, function: 'probe_functions:{function}', required_columns: [city]}}
"""


def shell_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in NANNY_SET}


def spawned_hash() -> str:
    """``hash("dagen")`` in a worker a nanny spawns: its fixed PYTHONHASHSEED, 6640."""
    code = "print(hash('dagen'))"
    env = {**shell_env(), "PYTHONHASHSEED": "6640"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


# what a nanny sets in its own process too (os.environ) when it spawns a worker: an earlier
# test's cluster in this process leaves them behind, and a user's shell has none of them
NANNY_SET = ("PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MALLOC_TRIM_THRESHOLD_")  # fmt: skip


def run_probe(tmp_path, function: str = "probe", env: dict | None = None) -> Counter:
    """``dagen run`` of 20 rows in 4 row groups; how many rows each probe answer has."""
    (tmp_path / "probe_functions.py").write_text(PROBE)
    (tmp_path / "c.yaml").write_text(CONFIG.format(function=function))
    command = [sys.executable, "-m", "dagen.cli", "run", "c.yaml", "-n", "20",
               "--row-group-size", "5", "-o", "out", "-q", "--dashboard-address", "127.0.0.1:0"]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=180,
                            env={**shell_env(), "PROBE_VARIABLE": "here", **(env or {})})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Counter(pq.read_table(tmp_path / "out" / "data").column("probe").to_pylist())


def test_run_forks_workers_that_get_what_spawned_ones_got(tmp_path):
    answers = run_probe(tmp_path)

    assert answers == {f"forked|1|{spawned_hash()}|here|ignored": 20}


def test_a_dask_config_that_changes_the_pre_spawn_environment_gets_spawned_workers(tmp_path):
    config_dir = tmp_path / "dask"
    config_dir.mkdir()
    (config_dir / "nanny.yaml").write_text(
        "distributed:\n  nanny:\n    pre-spawn-environ:\n      OMP_NUM_THREADS: 2\n"
    )

    answers = run_probe(tmp_path, env={"DASK_CONFIG": str(config_dir)})

    (answer,) = answers
    assert answer.startswith("child of ")  # the dagen process: its nannies spawned them
    assert answer.endswith(f"|2|{spawned_hash()}|here|ignored")


def test_a_worker_that_dies_is_replaced_by_a_fork(tmp_path):
    answers = run_probe(tmp_path, function="dies_once")

    assert (tmp_path / "died").exists()
    assert answers == {f"forked|1|{spawned_hash()}|here|ignored": 20}


def test_a_library_run_spawns_its_workers_as_before(tmp_path, monkeypatch):
    (tmp_path / "probe_functions.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "c.yaml").write_text(CONFIG.format(function="probe"))
    config = dagen.load_config(tmp_path / "c.yaml")

    result = dagen.generate(config, num_records=4, output_dir=tmp_path / "out")

    (answer,) = set(result.to_pandas()["probe"])
    assert answer.startswith(f"child of {os.getpid()}|")


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (["run", "c.yaml", "-n", "10", "-o", "out"], True),
        (["-q", "--debug", "run", "c.yaml", "-n", "10", "-o", "out"], True),
        (["run", "c.yaml", "-n", "10", "-o", "out", "--scheduler", "tcp://127.0.0.1:8786"], False),
        (["run", "c.yaml", "-n", "10", "-o", "out", "--scheduler=tcp://127.0.0.1:8786"], False),
        (["run", "c.yaml", "-n", "10", "-o", "out", "--cluster", "slurm"], False),
        (["run", "c.yaml", "-n", "10", "-o", "out", "--cluster-file", "c.yaml"], False),
        (["run", "c.yaml", "-n", "10", "-o", "out", "--update", "--dry-run"], False),
        (["run", "--help"], False),
        (["validate", "c.yaml"], False),
        (["preview", "run"], False),
        ([], False),
    ],
)
def test_only_a_run_on_the_local_cluster_dagen_starts_warms_a_server(args, starts):
    assert starts_local_workers(args) is starts
