"""Clusters started the way users start them: separate ``dask scheduler`` and ``dask worker``."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")  # the `dask` command of this environment
# a folder to keep the processes' logs in, when diagnosing a test (else they are dropped);
# with it, dagen's own log lines (the drain's steps, at debug) are kept too
LOGS = os.environ.get("DAGEN_TEST_DASK_LOGS")
_LOG_NUMBERS = itertools.count()


def _log(name: str, folder: Path | None = None):
    folder = folder or (Path(LOGS) if LOGS else None)
    if folder is None:
        return subprocess.DEVNULL
    folder.mkdir(parents=True, exist_ok=True)
    # numbered: two workers started within a millisecond must not share a file
    return open(folder / f"{name}-{time.time():.3f}-{next(_LOG_NUMBERS)}.log", "w")


def _env(**extra: str) -> dict[str, str]:
    """The processes' environment: with logs kept, dagen's own log lines too (debug)."""
    return {**os.environ, **({"DASK_LOGGING__DAGEN": "debug"} if LOGS else {}), **extra}


__all__ = ["DaskProcesses", "free_port"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes started as separate commands.

    With ``tls`` (``certificates.Certificates``) they listen on ``tls://`` with the role
    certificates, as ``dask scheduler --protocol tls --tls-ca-file ...`` does; with
    ``worker_env`` the workers get these variables on top of this process's environment;
    with ``logs`` (a folder) every process writes its log there, dagen's lines at debug.
    """

    def __init__(
        self,
        workers: int = 2,
        nthreads: int = 16,
        scheduler_args: tuple[str, ...] = ("--no-dashboard",),
        tls=None,
        worker_env: dict[str, str] | None = None,
        logs: Path | None = None,
    ) -> None:
        from distributed import Client

        self.port = free_port()
        self.tls = tls
        self.logs = logs
        self.address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        env = _env(DASK_DISTRIBUTED__WORKER__DAEMON="False")
        if logs is not None:
            env["DASK_LOGGING__DAGEN"] = "debug"
        secured = ["--protocol", "tls", *tls.dask_options("scheduler")] if tls else []
        self.procs.append(
            subprocess.Popen(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), *scheduler_args,
                 *secured],
                env=env, stdout=subprocess.DEVNULL, stderr=_log("scheduler", logs),
            )
        )  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        for _ in range(workers):
            self.add_worker(nthreads, {**env, **(worker_env or {})})
        deadline = time.monotonic() + 60
        with Client(self.address, timeout="30s", security=self.security()) as c:
            while len(c.scheduler_info(n_workers=-1)["workers"]) < workers:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("dask workers did not register in 60 s")
                time.sleep(0.2)

    def security(self):
        """The client's ``Security`` for this cluster (None without TLS)."""
        return self.tls.security() if self.tls else None

    def add_worker(self, nthreads: int = 16, env: dict | None = None, nanny: bool = False):
        secured = self.tls.dask_options("worker") if self.tls else []
        proc = subprocess.Popen(
            [DASK, "worker", self.address, "--host", "127.0.0.1", "--nthreads", str(nthreads),
             "--no-dashboard", "--nworkers", "1", "--nanny" if nanny else "--no-nanny", *secured],
            env=env or _env(), stdout=subprocess.DEVNULL, stderr=_log("worker", self.logs),
        )  # fmt: skip
        self.procs.append(proc)
        self.workers.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except Exception:
                proc.kill()
