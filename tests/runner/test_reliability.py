"""Nothing lost: killed clients and workers, resume, early shutdown, full disks.

Every test asserts on what is on disk (parquet rows, uniqueness of the row id, values) and
on ``metadata.json``, not only on exit codes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from clusters import DaskProcesses

import dagen
from dagen.cluster.session import RunSession
from dagen.errors import CheckpointError, EarlyShutdownError, ResumeError

pytestmark = pytest.mark.cluster

SLOW = {
    "seed": 5,
    "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "sq", "column_type": "custom", "function": "scenario_functions:slow_square"},
    ],
}  # fmt: skip


def write_config(folder: Path, data: dict) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ctrl_c_reaches_it() -> None:
    # a shell starting the suite in the background ignores SIGINT for all its children;
    # a user's terminal does not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dagen_run(*args: str, **kwargs) -> subprocess.Popen:
    """``dagen run`` in a new process, with Ctrl-C (SIGINT) handled as in a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "dagen.cli", "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_ctrl_c_reaches_it, **kwargs,
    )  # fmt: skip


@pytest.fixture
def ctrl_c_handled():
    """SIGINT raises KeyboardInterrupt in this process, as in a terminal, for one test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def wait_for_files(folder: Path, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("part-*.parquet"))) < count:
        assert time.monotonic() < deadline, f"fewer than {count} row groups written in {timeout}s"
        time.sleep(0.05)


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def assert_all_gone(processes: list[psutil.Process], timeout: float = 30) -> None:
    _gone, alive = psutil.wait_procs(processes, timeout=timeout)
    assert not alive, f"orphan processes left: {[p.cmdline() for p in alive]}"


def expected_rows(n: int) -> pd.DataFrame:
    cfg = dagen.DatasetConfig.from_dict(SLOW)
    return dagen.generate(
        cfg, n, None, settings=dagen.RunSettings(
            row_group_size=200, cluster=dagen.ClusterSettings(n_workers=1, processes=False, dashboard_address=None)
        ),
    ).to_pandas()  # fmt: skip


def test_a_killed_client_resumes_from_its_checkpoints_and_loses_nothing(tmp_path):
    config = write_config(tmp_path, SLOW)
    out = tmp_path / "out"
    args = [str(config), "-n", "1600", "-o", str(out), "--row-group-size", "200",
            "--max-concurrent-row-groups", "2", "--dashboard-address", "127.0.0.1:0"]  # fmt: skip
    proc = dagen_run(*args)
    wait_for_files(out / "data", 3)
    children = descendants(proc.pid)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.wait()
    assert_all_gone(children)
    kept = {p.name: p.read_bytes() for p in (out / "data").glob("part-*.parquet")}
    before = json.loads((out / "metadata.json").read_text())
    assert before["status"] == "running"
    assert {f"part-{rg['index']:06d}.parquet" for rg in before["row_groups"]} <= set(kept)

    resumed = subprocess.run([sys.executable, "-m", "dagen.cli", "run", *args, "--resume"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip

    assert resumed.returncode == 0, resumed.stderr
    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(1600))  # every row exactly once, in order
    pd.testing.assert_frame_equal(df, expected_rows(1600))  # as if never interrupted
    for rg in before["row_groups"]:  # written row groups were kept, not regenerated
        name = f"part-{rg['index']:06d}.parquet"
        assert (out / "data" / name).read_bytes() == kept[name]
    after = json.loads((out / "metadata.json").read_text())
    assert after["status"] == "complete" and after["rows_written"] == 1600
    assert not list((out / "data").glob(".*"))  # no temporary file left behind


def test_ctrl_c_stops_cleanly_and_says_how_to_continue(tmp_path):
    config = write_config(tmp_path, SLOW)
    out = tmp_path / "out"
    proc = dagen_run(str(config), "-n", "1600", "-o", str(out), "--row-group-size", "200",
                     "--dashboard-address", "127.0.0.1:0")  # fmt: skip
    wait_for_files(out / "data", 2)
    children = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert "--resume" in stderr
    assert_all_gone(children)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped"
    written = pd.read_parquet(out / "data")
    assert len(written) == meta["rows_written"] and written["n"].is_unique


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_python_drops_in_a_finalizer_still_stops_the_run(
    client, tmp_path, monkeypatch, ctrl_c_handled
):
    # Python ignores an exception a signal handler raises inside __del__: Ctrl-C landing
    # while a released future is finalised must still stop the run
    class Finalised:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)

    release = RunSession.release

    def release_then_finalise(self, futures):
        release(self, futures)
        Finalised()  # collected at once, on the run loop's thread

    monkeypatch.setattr(RunSession, "release", release_then_finalise)
    out = tmp_path / "out"

    with pytest.raises(KeyboardInterrupt):
        dagen.generate(dagen.DatasetConfig.from_dict(SLOW), 1600, out, client=client,
                       settings=dagen.RunSettings(row_group_size=200))  # fmt: skip

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["rows_written"] < 1600
    written = pd.read_parquet(out / "data")
    assert len(written) == meta["rows_written"] and written["n"].is_unique
    assert (written["sq"] == written["n"] ** 2).all()


def test_resume_refuses_another_config_and_says_what_changed(client, tmp_path):
    out = tmp_path / "out"
    dagen.generate(dagen.DatasetConfig.from_dict(SLOW), 400, out, client=client,
                   settings=dagen.RunSettings(row_group_size=200))  # fmt: skip
    changed = json.loads(json.dumps(SLOW))
    changed["columns"][1]["params"]["values"] = ["Oslo", "Lima"]

    with pytest.raises(ResumeError, match=r"columns\['city'\]\.params\.values"):
        dagen.generate(dagen.DatasetConfig.from_dict(changed), 600, out, client=client, resume=True,
                       settings=dagen.RunSettings(row_group_size=200))  # fmt: skip
    with pytest.raises(ResumeError, match="row-group-size 200"):
        dagen.generate(dagen.DatasetConfig.from_dict(SLOW), 600, out, client=client, resume=True,
                       settings=dagen.RunSettings(row_group_size=100))  # fmt: skip
    with pytest.raises(ResumeError, match="seed 5"):
        dagen.generate(dagen.DatasetConfig.from_dict(SLOW), 600, out, client=client, resume=True,
                       settings=dagen.RunSettings(row_group_size=200, seed=6))  # fmt: skip
    assert len(pd.read_parquet(out / "data")) == 400  # nothing was touched


def test_resume_extends_a_finished_dataset_without_regenerating_it(client, tmp_path):
    out = tmp_path / "out"
    cfg = dagen.DatasetConfig.from_dict(SLOW)
    settings = dagen.RunSettings(row_group_size=200)
    dagen.generate(cfg, 500, out, client=client, settings=settings)  # row groups 200, 200, 100
    kept = {p.name: p.read_bytes() for p in (out / "data").glob("part-*.parquet")}

    result = dagen.generate(cfg, 900, out, client=client, settings=settings, resume=True)

    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(900))
    assert all((out / "data" / name).read_bytes() == data for name, data in kept.items())
    starts = [(rg["start"], rg["size"]) for rg in result.metadata["row_groups"]]
    assert starts == [(0, 200), (200, 200), (400, 100), (500, 200), (700, 200)]

    again = dagen.generate(
        cfg, 900, out, settings=settings, resume=True
    )  # nothing left: no cluster
    assert again.metadata["status"] == "complete" and again.num_records == 900


def test_a_killed_worker_loses_no_row_and_recomputes_nothing_already_written(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("DAGEN_TEST_CALL_LOG", str(log))
    cluster = DaskProcesses(workers=3, nthreads=2)
    try:
        config = json.loads(json.dumps(SLOW))
        config["columns"][2]["function"] = "scenario_functions:logged_square"
        out = tmp_path / "out"
        proc = dagen_run(str(write_config(tmp_path, config)), "-n", "4000", "-o", str(out),
                         "--row-group-size", "200", "--scheduler", cluster.address)  # fmt: skip
        wait_for_files(out / "data", 3)
        written_before_kill = {
            int(p.stem.split("-")[1]) for p in (out / "data").glob("part-*.parquet")
        }
        cluster.workers[0].kill()
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    finally:
        cluster.close()

    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(4000))
    assert (df["sq"] == df["n"] ** 2).all()
    calls = Counter(int(line) for line in log.read_text().split())
    for rg in written_before_kill:
        twice = [n for n in range(rg * 200, rg * 200 + 200) if calls[n] != 1]
        assert not twice, (
            f"row group {rg} was written before the kill, yet rows {twice[:5]}... were recomputed"
        )
    assert set(calls) == set(range(4000))


def test_early_shutdown_keeps_written_row_groups_and_names_the_most_frequent_error(
    client, tmp_path
):
    data = json.loads(json.dumps(SLOW))
    data["columns"][2]["function"] = "scenario_functions:fail_from_300"
    out = tmp_path / "out"

    with pytest.raises(
        EarlyShutdownError, match="column 'sq', ValueError: the upstream service rejects"
    ):
        dagen.generate(dagen.DatasetConfig.from_dict(data), 5000, out, client=client,
                       settings=dagen.RunSettings(row_group_size=100, max_concurrent_row_groups=2))  # fmt: skip

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped" and "EarlyShutdownError" in meta["stop_reason"]
    df = pd.read_parquet(out / "data")
    assert df["n"].tolist()[:300] == list(range(300))
    assert len(df) == meta["rows_written"] < 600  # it stopped long before 5000 rows


def test_early_shutdown_can_be_disabled(client):
    data = json.loads(json.dumps(SLOW))
    data["columns"][2]["function"] = "scenario_functions:fail_from_300"
    settings = dagen.RunSettings(
        row_group_size=100, early_shutdown=dagen.EarlyShutdown(error_rate=None)
    )

    result = dagen.generate(
        dagen.DatasetConfig.from_dict(data), 600, None, client=client, settings=settings
    )

    assert result.num_records == 300 and len(result.dropped) == 300


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_names_the_row_group_and_keeps_what_was_written(client, small_disk):
    data = {"seed": 1, "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "blob", "column_type": "sampler", "sampler_type": "uuid", "params": {}},
    ]}  # fmt: skip
    out = small_disk / "out"

    with pytest.raises(
        CheckpointError, match=r"row group \d+: cannot write .*part-\d+\.parquet: disk full"
    ):
        dagen.generate(dagen.DatasetConfig.from_dict(data), 20_000, out, client=client,
                       settings=dagen.RunSettings(row_group_size=500, max_concurrent_row_groups=1))  # fmt: skip

    meta = json.loads((out / "metadata.json").read_text())
    files = sorted(p.name for p in (out / "data").iterdir())
    assert files == [
        f"part-{rg['index']:06d}.parquet" for rg in meta["row_groups"]
    ]  # no partial file
    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(len(df))) and len(df) == meta["rows_written"] > 0


def test_an_unwritable_output_folder_is_refused_before_anything_runs(client, tmp_path):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(readonly)], check=True
    )
    try:
        with pytest.raises(dagen.DagenError, match="not writable"):
            dagen.generate(dagen.DatasetConfig.from_dict(SLOW), 10, readonly / "out", client=client)
    finally:
        subprocess.run(["umount", str(readonly)], check=True)


def test_no_dask_process_outlives_a_finished_cli_run(tmp_path):
    config = write_config(tmp_path, SLOW)
    out = tmp_path / "out"
    proc = dagen_run(
        str(config), "-n", "1000", "-o", str(out), "--dashboard-address", "127.0.0.1:0"
    )
    deadline = time.monotonic() + 60
    while len(children := descendants(proc.pid)) < 2 and proc.poll() is None:  # the workers
        assert time.monotonic() < deadline, "no worker process started"
        time.sleep(0.1)
    assert children, "the local cluster runs in child processes"
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert_all_gone(children, timeout=15)
    assert len(pd.read_parquet(out / "data")) == 1000
