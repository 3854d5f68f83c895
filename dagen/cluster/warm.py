"""Local worker processes forked from a warm process instead of started cold.

A LocalCluster's nanny starts each worker process with multiprocessing's spawn: a new
interpreter that imports distributed, pandas and dagen's task modules before it can run a
task, about 1 s of CPU per worker, all of it while the cluster starts and on the cores the
client is importing on. ``dagen run`` instead calls ``start`` first thing, before it
imports its own command line: multiprocessing's forkserver starts with those modules
preloaded and imports them once, on another core, while the client imports; each worker
is then a fork of it, ready in milliseconds (and so is a worker the nanny restarts).

    dagen run ...      main: start()  -> imports, config, cluster ...
                       forkserver:       imports distributed, dagen.cluster.tasks
                       nanny: fork ----> worker (modules loaded), nanny: fork ----> worker

A forked worker gets what a spawned one gets:
    sys.path, the working directory,   multiprocessing's preparation data, sent per worker
    the main module                    (the ``dagen`` script as ``dagen.cli.__main__``)
    Dask's config, the nanny's         the nanny, per worker, as with spawn
    ``environ``
    the nanny's ``pre-spawn-environ``  in the server's environment from its start
    (PYTHONHASHSEED, OMP_NUM_THREADS…)  (read by the interpreter and numpy as they load)
    SIGINT ignored                     the server starts with it ignored; forks inherit it

What differs: the environment is the one this process had when ``start`` ran, so a
variable set after it does not reach the workers. Hence the command line only, which sets
none (library calls keep spawn unless a script calls ``start`` itself, first thing).
``forking`` uses the server only while the pre-spawn environment the config gives then is
the one the server started with (a Dask config that changes it gets spawned workers, as
before).

Example:
    >>> start()                      # doctest: +SKIP
    >>> with forking():              # doctest: +SKIP
    ...     cluster = LocalCluster()
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["PRELOAD", "forking", "start", "started"]

# what a worker imports before its first task (bench/RESULTS.md, "start and stop")
PRELOAD = ("distributed", "dagen.cluster.tasks")

# distributed's defaults for ``distributed.nanny.pre-spawn-environ`` (its distributed.yaml);
# read before Dask is imported, and checked against the config by ``forking``
_NANNY_DEFAULTS = {
    "MALLOC_TRIM_THRESHOLD_": 65536,
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
}

_started: dict[str, str] | None = None  # the pre-spawn environment the server started with


def started() -> bool:
    """Whether this process started the warm server."""
    return _started is not None


def start(preload: tuple[str, ...] = PRELOAD) -> None:
    """Start multiprocessing's forkserver now, with ``preload`` imported in it, SIGINT
    ignored and the nanny's pre-spawn environment; once per process, main thread only
    (elsewhere signals cannot be set, and nothing is started)."""
    global _started
    if _started is not None or threading.current_thread() is not threading.main_thread():
        return
    env = _pre_spawn(_NANNY_DEFAULTS)
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    saved = {name: os.environ.get(name) for name in env}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _started = env


@contextlib.contextmanager
def forking() -> Iterator[None]:
    """Meanwhile, local worker processes (also those restarted) are forked from the warm
    server, when this process started one whose environment is the one a nanny would give
    its workers now; else nothing changes (they are spawned)."""
    if _started is None:
        yield
        return
    import dask

    configured = dask.config.get("distributed.nanny.pre-spawn-environ", default={})
    if _pre_spawn(configured) != _started:
        yield
        return
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield


def _pre_spawn(configured: Mapping[str, Any]) -> dict[str, str]:
    """The environment a nanny sets before it starts a worker process: the config's
    variables (this process's own values first, ``None`` unsets) and a fixed hash seed
    (distributed.nanny)."""
    env = {
        name: os.environ.get(name, str(value))
        for name, value in configured.items()
        if value is not None
    }
    if env.get("PYTHONHASHSEED") in (None, "0"):
        env["PYTHONHASHSEED"] = "6640"
    return env
