"""One run at a time in an output folder: a lock file that names its holder.

A run claims its folder by creating ``OUT/.dagen.lock``, a small JSON document naming the
holder (host, pid, run id, start time), and removes it when it ends. The file appears
complete or not at all (written aside, then hard-linked into place, which fails when a
lock exists), so two runs can never both believe they hold it.

A lock whose holder is gone is *stale*: when it names this host and its pid is no longer
alive (a run killed with SIGKILL, a machine that rebooted), the next run takes it over
and says so. A lock held by a live process, or by another host (whose processes this one
cannot see), is refused with a message naming the holder and how to clear it.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> lock = OutputLock(folder)
    >>> lock.acquire("r1")
    >>> lock.holder().run_id, lock.holder().pid == os.getpid()
    ('r1', True)
    >>> lock.release()
    >>> lock.holder() is None
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from dagen.errors import OutputDirError

__all__ = ["LOCK_NAME", "LockHolder", "OutputLock"]

log = logging.getLogger("dagen")

LOCK_NAME = ".dagen.lock"


@dataclass(frozen=True)
class LockHolder:
    """Who holds an output folder.

    Attributes:
        host: the holder's host name.
        pid: the holder's process id on that host.
        run_id: the run's token (as in its Dask keys and worker resources).
        started: when the run claimed the folder (ISO 8601, UTC).
    """

    host: str
    pid: int
    run_id: str
    started: str

    def __str__(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {self.started})"

    @property
    def gone(self) -> bool:
        """Whether the holder is known to be dead: on this host, with no such process."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, someone else's
            return False
        return False


class OutputLock:
    """The lock file of one output folder (see the module docstring).

    Args:
        folder: the output folder (it must exist when the lock is acquired).
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.mine: LockHolder | None = None

    def holder(self) -> LockHolder | None:
        """The holder the lock file names, or None when there is no lock file.

        Raises:
            OutputDirError: the lock file exists but cannot be read.
        """
        try:
            data = json.loads(self.path.read_text())
            return LockHolder(str(data["host"]), int(data["pid"]), str(data["run_id"]),
                              str(data["started"]))  # fmt: skip
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise OutputDirError(
                f"the lock file {self.path} cannot be read ({type(exc).__name__}: {exc}); "
                "if no run uses this folder, delete it and start again"
            ) from exc

    def acquire(self, run_id: str) -> None:
        """Claim the folder for ``run_id``; a stale lock is taken over (logged).

        Raises:
            OutputDirError: another live run holds the folder (named), or the lock file
                cannot be written.
        """
        me = LockHolder(
            socket.gethostname(), os.getpid(), run_id, dt.datetime.now(dt.UTC).isoformat()
        )
        for _ in range(3):  # a stale lock removed by another run at the same time: retry
            if self._create(me):
                self.mine = me
                return
            holder = self.holder()
            if holder is None:
                continue
            if not holder.gone:
                raise OutputDirError(
                    f"output folder {self.path.parent} is in use by {holder}; wait for that "
                    f"run to end, or, if it is no longer running, delete {self.path}"
                )
            log.warning("%s held %s and is gone: taking the folder over", holder, self.path.parent)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        raise OutputDirError(
            f"cannot claim output folder {self.path.parent}: its lock keeps changing"
        )

    def release(self) -> None:
        """Remove the lock file, if it is still this run's."""
        if self.mine is None:
            return
        with contextlib.suppress(OutputDirError):
            if self.holder() == self.mine:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        self.mine = None

    def _create(self, me: LockHolder) -> bool:
        """Whether the lock file was created naming ``me`` (False: one exists)."""
        tmp = self.path.with_name(f"{LOCK_NAME}.{me.pid}-{me.run_id}")
        try:
            tmp.write_text(json.dumps(asdict(me)))
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            except OSError as exc:  # a file system without hard links
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                return self._create_exclusive(me)
            return True
        except OSError as exc:
            raise OutputDirError(
                f"cannot write the lock file {self.path}: {exc.strerror or exc}"
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _create_exclusive(self, me: LockHolder) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(asdict(me)))
        return True
