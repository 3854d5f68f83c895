"""One run at a time in an output folder: the lock file, its holder, stale locks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from dagen.errors import OutputDirError
from dagen.sinks.lock import LOCK_NAME, OutputLock
from dagen.sinks.parquet import ParquetSink


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_lock_file_names_its_holder_and_goes_when_released(tmp_path):
    lock = OutputLock(tmp_path)
    lock.acquire("r1234")
    held = json.loads((tmp_path / LOCK_NAME).read_text())
    assert held["host"] == socket.gethostname() and held["pid"] == os.getpid()
    assert held["run_id"] == "r1234" and held["started"]
    lock.release()
    assert list(tmp_path.iterdir()) == []


def test_a_second_run_is_refused_with_the_holder_named(tmp_path):
    first = OutputLock(tmp_path)
    first.acquire("rfirst")
    with pytest.raises(OutputDirError) as info:
        OutputLock(tmp_path).acquire("rsecond")
    message = str(info.value)
    assert "in use by run rfirst" in message and f"pid {os.getpid()}" in message
    assert str(tmp_path / LOCK_NAME) in message  # how to clear it if the run is gone
    first.release()
    OutputLock(tmp_path).acquire("rsecond")


def test_a_stale_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path, caplog):
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"host": socket.gethostname(), "pid": dead_pid(), "run_id": "rgone", "started": "x"}
    ))  # fmt: skip
    lock = OutputLock(tmp_path)
    lock.acquire("rnew")
    assert lock.holder().run_id == "rnew"
    assert "rgone" in caplog.text and "taking the folder over" in caplog.text


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"host": "elsewhere", "pid": dead_pid(), "run_id": "rfar", "started": "x"}
    ))  # fmt: skip
    with pytest.raises(OutputDirError, match=r"in use by run rfar .*on elsewhere"):
        OutputLock(tmp_path).acquire("rnew")


def test_an_unreadable_lock_file_says_what_to_do(tmp_path):
    (tmp_path / LOCK_NAME).write_text("{half")
    with pytest.raises(OutputDirError, match=r"cannot be read.*delete it"):
        OutputLock(tmp_path).acquire("rnew")


def test_a_parquet_sink_claims_its_folder_and_leaves_none_it_never_used(tmp_path):
    out = tmp_path / "runs" / "people"
    sink = ParquetSink(out)
    with sink.claim("rmine"):
        assert (out / LOCK_NAME).exists()
        other = ParquetSink(out)
        with pytest.raises(OutputDirError, match="in use by run rmine"), other.claim("rother"):
            pass
        sink.open()
        sink.close()  # the run never reached its cluster: nothing written
    assert not (tmp_path / "runs").exists()
