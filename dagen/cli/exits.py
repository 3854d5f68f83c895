"""How the ``dagen`` commands end: one clear line per error, the documented exit codes.

Exit codes: 2 for a config problem (wherever it is found), 1 for any other error, 3 when a
run or preview finished but wrote no row, 4 when a run stopped at its ``--max-cost``
(what it wrote is kept; ``--resume --max-cost <higher>`` carries on), 130 on Ctrl-C. No traceback reaches the user
unless ``--debug`` (or ``DAGEN_DEBUG=1``) asks for it. Ctrl-C prints one line, stops the
run cleanly (keeping what it wrote) and exits within ``INTERRUPT_GRACE`` seconds whatever
still runs.

State: ``_interrupt`` (the line Ctrl-C prints, whether it was said, whether Ctrl-C was
seen) and ``_process`` (whether ``main`` runs the whole process).

Example:
    >>> EXIT_CONFIG, EXIT_FAILED, EXIT_NO_ROWS, EXIT_BUDGET, EXIT_INTERRUPTED
    (2, 1, 3, 4, 130)
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from functools import wraps
from types import FrameType
from typing import Any

import click

from dagen.errors import BudgetExceededError, ConfigError, DagenError

__all__ = [
    "EXIT_BUDGET",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NO_ROWS",
    "INTERRUPT_GRACE",
    "RESUME_HINT",
    "fail",
    "friendly_errors",
    "on_sigint",
    "run_as_main",
    "say_on_interrupt",
]


EXIT_CONFIG = 2  # a ConfigError, wherever it was raised (also click's usage errors)
EXIT_FAILED = 1  # any other DagenError, or an unexpected exception
EXIT_NO_ROWS = 3  # the run finished but wrote no row: every row was dropped
EXIT_BUDGET = 4  # BudgetExceededError: the run stopped at --max-cost (what it wrote is kept)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)

INTERRUPT_GRACE = 1.5  # seconds a Ctrl-C leaves the run to stop cleanly before the exit
RESUME_HINT = "interrupted: row groups already written are kept; continue with --resume"

_process = {"main": False}  # True when ``main`` runs: the whole process is the command
_interrupt = {"message": RESUME_HINT, "said": False, "seen": False}
_said = threading.Lock()


def _say_interrupted() -> None:
    """The one line Ctrl-C prints, whichever path gets there first."""
    with _said:
        if _interrupt["said"]:
            return
        _interrupt["said"] = True
    click.echo(str(_interrupt["message"]), err=True)


def on_sigint(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: raise KeyboardInterrupt as usual (the run stops cleanly, keeping what it
    wrote), and exit after ``INTERRUPT_GRACE`` seconds whatever still runs (a template or
    user function busy in a thread, a cluster slow to close)."""
    if not _interrupt["seen"]:
        _interrupt["seen"] = True
        threading.Thread(target=_exit_after_grace, daemon=True).start()
    signal.default_int_handler(signum, frame)


def _exit_after_grace() -> None:
    time.sleep(INTERRUPT_GRACE)
    _say_interrupted()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _debug() -> bool:
    return os.environ.get("DAGEN_DEBUG", "") not in ("", "0")


def fail(message: str, code: int, exc: BaseException | None = None) -> None:
    if exc is not None and _debug():
        traceback.print_exception(exc)
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit with ``code``; as a whole process, at once: a user function or template still
    running in a thread of an in-process cluster must not keep it alive."""
    if not _process["main"]:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn errors into one clear message and an exit code (see the module docstring)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except ConfigError as exc:
            fail(str(exc), EXIT_CONFIG, exc)
        except BudgetExceededError as exc:
            fail(str(exc), EXIT_BUDGET, exc)
        except DagenError as exc:
            fail(str(exc), EXIT_FAILED, exc)
        except KeyboardInterrupt:
            _say_interrupted()
            _exit_now(EXIT_INTERRUPTED)
        except Exception as exc:
            text = str(exc).splitlines()[0] if str(exc) else ""
            fail(
                f"unexpected {type(exc).__name__}: {text} (--debug shows the traceback)",
                EXIT_FAILED,
                exc,
            )

    return wrapper


def say_on_interrupt(message: str) -> None:
    """The line Ctrl-C prints from now on (a preview has nothing to resume)."""
    _interrupt["message"] = message


def run_as_main() -> None:
    """``main`` runs the whole process: an exit may end it at once."""
    _process["main"] = True
