"""The ``dagen`` command line (the commands are in ``dagen.cli.commands``).

``main`` is the console script. Before it imports the commands (about 0.9 s: distributed,
pandas, pyarrow, pydantic), a ``run`` on a local cluster dagen starts itself has the
server its worker processes will be forked from start on another core
(``dagen.cluster.warm``), so that the workers' imports and the client's overlap.
``dagen.cli.cli`` is the click group, loaded on first use.

Example:
    dagen run examples/people.yaml -n 10000 -o out/people
    python -m dagen.cli run examples/people.yaml -n 10000 -o out/people
"""

from __future__ import annotations

import importlib
import importlib.util
import signal
import sys
import threading
from typing import Any

from dagen.cli.exits import on_sigint, run_as_main

__all__ = ["cli", "main"]

# options that make ``run`` use a cluster other than the local one dagen starts
_OTHER_CLUSTER = ("--scheduler", "--cluster", "--cluster-file", "--dry-run", "--help")
_GLOBAL_FLAGS = ("-v", "--verbose", "-q", "--quiet", "--debug")


def main() -> None:
    """Entry point of the ``dagen`` console script."""
    run_as_main()
    _spawned_workers_skip_the_script()
    # after a Ctrl-C exit, multiprocessing's resource tracker (a helper process started
    # with these flags) cleans up the cluster's semaphores: quietly, not as a warning
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    if starts_local_workers(sys.argv[1:]):
        from dagen.cluster import warm

        warm.start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_sigint)
    from dagen.cli.commands import cli

    cli(prog_name="dagen")


def starts_local_workers(args: list[str]) -> bool:
    """Whether ``args`` (the command line after ``dagen``) run a dataset on a local cluster
    dagen starts: ``run`` without ``--scheduler``, ``--cluster``, ``--cluster-file``,
    ``--dry-run`` or ``--help``. A wrong guess costs only time: an unused server is one
    idle process, and without one the workers are spawned."""
    rest = list(args)
    while rest and rest[0] in _GLOBAL_FLAGS:
        rest.pop(0)
    if not rest or rest[0] != "run":
        return False
    return not any(arg.split("=", 1)[0] in _OTHER_CLUSTER or arg == "-h" for arg in rest[1:])


def _spawned_workers_skip_the_script() -> None:
    """Keep the local cluster's worker processes from running the ``dagen`` script again.

    They are started by multiprocessing (spawn, or the warm server's fork), which runs the
    parent's main script once more in each child (as ``__mp_main__``) unless the main
    module is a package's ``__main__``. The console script only calls ``main``; naming its
    module ``dagen.cli.__main__`` (which it stands for) makes multiprocessing skip it, as it
    does for ``python -m dagen.cli``; the workers then import only what the run's tasks
    need. A main module that is not this script is left alone.
    """
    script = sys.modules.get("__main__")
    if script is None or getattr(script, "__spec__", None) is not None:
        return
    if getattr(script, "main", None) is not main:
        return
    script.__spec__ = importlib.util.find_spec("dagen.cli.__main__")


def __getattr__(name: str) -> Any:
    """``cli`` (the click group) from ``dagen.cli.commands``, imported on first use."""
    if name == "cli":
        return importlib.import_module("dagen.cli.commands").cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
