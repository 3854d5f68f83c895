"""Where a benchmark run executes: the LocalCluster dagen starts, or separate processes.

    LocalDefault        dagen.generate(..., client=None) starts its own LocalCluster (2
                        worker processes on 127.0.0.1, scheduler in this process); the
                        task counter rides in through the Dask config's scheduler preload.
    SchedulerProcesses  ``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1,
                        started by the bench (so they are its descendants and measured);
                        dagen is given ``scheduler="tcp://127.0.0.1:P"``.

Both are context managers that yield a ``Target``: the keyword arguments for
``dagen.generate`` and how to read the scheduler's task counts after the run.

Example:
    >>> with SchedulerProcesses(nthreads=12) as target:  # doctest: +SKIP
    ...     dagen.generate(cfg, 100, None, **target.generate_kwargs)
    ...     target.counts()["tasks"]
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
from distributed import Client, LocalCluster

from bench import taskcount
from bench.probe import ProcessMonitor
from dagen.cluster.clients import local_settings

__all__ = ["LocalDefault", "SchedulerProcesses", "Target", "idle_cpu_rate"]

ROOT = Path(__file__).resolve().parents[1]  # holds bench/ and dagen/
PRELOAD = "bench.taskcount"


@dataclass
class Target:
    """A cluster ready for one run."""

    kind: str
    generate_kwargs: dict[str, Any]
    counts: Callable[[], dict[str, Any]]


@contextlib.contextmanager
def LocalDefault() -> Iterator[Target]:
    """dagen's own LocalCluster (the default), with the task counter preloaded."""

    def counts() -> dict[str, Any]:
        counter = taskcount.latest()
        return counter.snapshot() if counter is not None else {}

    with dask.config.set({"distributed.scheduler.preload": [PRELOAD]}):
        yield Target("local cluster started by dagen", {}, counts)


class SchedulerProcesses:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes on loopback.

    Args:
        nthreads: task slots per worker (async LLM cells hold one each while waiting).
        workers: worker processes.
        timeout: seconds to wait for the cluster to come up.
    """

    def __init__(self, nthreads: int, workers: int = 2, timeout: float = 60.0) -> None:
        self.nthreads = nthreads
        self.workers = workers
        self.timeout = timeout
        self.procs: list[subprocess.Popen[bytes]] = []
        self.client: Client | None = None

    def __enter__(self) -> Target:
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        dask_cli = str(Path(sys.executable).with_name("dask"))
        scheduler = [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port)]
        scheduler += ["--no-dashboard", "--preload", PRELOAD]
        worker = [dask_cli, "worker", address, "--host", "127.0.0.1"]
        worker += ["--nthreads", str(self.nthreads), "--no-dashboard"]
        try:
            self._spawn(scheduler)
            self.client = Client(address, timeout=self.timeout, set_as_default=False)
            for _ in range(self.workers):
                self._spawn(worker)
            self.client.wait_for_workers(self.workers, timeout=self.timeout)
        except BaseException:
            self.__exit__()
            raise
        client = self.client

        def counts() -> dict[str, Any]:
            return client.run_on_scheduler(taskcount.snapshot_on_scheduler)  # type: ignore[no-any-return]

        client.run_on_scheduler(taskcount.reset_on_scheduler)
        return Target(
            f"dask scheduler + {self.workers} dask worker processes (nthreads={self.nthreads})",
            {"scheduler": address},
            counts,
        )

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        for proc in reversed(self.procs):  # workers first, then the scheduler
            _stop(proc)
        self.procs.clear()

    def _spawn(self, argv: list[str]) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        quiet = subprocess.DEVNULL
        self.procs.append(subprocess.Popen(argv, env=env, stdin=quiet, stdout=quiet, stderr=quiet))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM one process the bench started, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def idle_cpu_rate(processes: bool, *, settle: float = 2.0, seconds: float = 5.0) -> float:
    """CPU seconds per second that an idle cluster of the kind a run uses burns
    (heartbeats, system monitors, periodic callbacks): a floor under CPU per cell that
    grows with a run's duration, not with its cells."""
    with contextlib.ExitStack() as stack:
        if processes:
            stack.enter_context(SchedulerProcesses(nthreads=4))
        else:  # what dagen starts (dagen.cluster.clients): 2 worker processes on loopback
            stack.enter_context(dask.config.set(local_settings()))  # its quieter timers
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=min(os.cpu_count() or 1, 4),
                    threads_per_worker=2,
                    host="127.0.0.1",
                    scheduler_kwargs={"dashboard": False},
                    silence_logs=logging.ERROR,
                )
            )
            stack.enter_context(Client(cluster, set_as_default=False))
        time.sleep(settle)
        with ProcessMonitor() as monitor:
            time.sleep(seconds)
        return monitor.cpu_seconds / seconds
