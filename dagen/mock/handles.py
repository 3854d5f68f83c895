"""Handles that run the mock LLM server for a caller: in a thread, or as a process.

``MockServerThread`` embeds the server in the current process (offline runs);
``MockServerProcess`` starts ``python -m dagen.mock.server`` as a separate process
(tests and benchmarks, so that the server's CPU is not the caller's). Both are context
managers with ``url`` (the ``/v1`` base), ``stats()``, ``reset()`` and ``set(**faults)``.

Example:
    >>> with MockServerProcess(MockServerSettings(latency=0.05)) as server:
    ...     server.stats()["requests"]
    0
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Self

from dagen.errors import RunError
from dagen.mock.server import READY_LINE, MockServerSettings, flag, serve_forever

__all__ = ["MockServerProcess", "MockServerThread"]


class _Handle(abc.ABC):
    """What the thread and process handles share: start/stop as a context manager, and
    HTTP helpers for the stats and settings (``url`` is the ``/v1`` base)."""

    url: str

    @abc.abstractmethod
    def start(self) -> str: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        root = self.url.removesuffix("/v1")
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(root + path, data=body, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        """GET /stats."""
        return self._call("GET", "/stats")  # type: ignore[no-any-return]

    def requests(self) -> list[dict[str, Any]]:
        """GET /requests: model, temperature and top_p of each request since the reset."""
        return self._call("GET", "/requests")["requests"]  # type: ignore[no-any-return]

    def reset(self) -> dict[str, Any]:
        """POST /stats/reset: zero the counters and forget fail-times state."""
        return self._call("POST", "/stats/reset", {})  # type: ignore[no-any-return]

    def set(self, **settings: Any) -> dict[str, Any]:
        """POST /admin/settings with the given runtime settings; return them all."""
        return self._call("POST", "/admin/settings", settings)  # type: ignore[no-any-return]


class MockServerThread(_Handle):
    """The mock server on its own event loop in a background thread.

    Example:
        >>> with MockServerThread(MockServerSettings(port=0)) as server:
        ...     server.url.endswith("/v1")
        True
    """

    def __init__(self, settings: MockServerSettings | None = None) -> None:
        self.settings = settings or MockServerSettings(port=0)
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="dagen-mock-llm", daemon=True)

    def start(self, timeout: float = 30.0) -> str:
        """Start serving; return the ``/v1`` base URL once listening.

        Raises:
            RunError: the server did not start.
        """
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RunError(f"mock LLM server thread did not start within {timeout}s")
        if self._error is not None:
            raise RunError(f"mock LLM server thread failed: {self._error}") from self._error
        return self.url

    def _run(self) -> None:
        def ready(url: str) -> None:
            self.url = url
            self._ready.set()

        self._loop = asyncio.new_event_loop()
        try:
            serve_forever(self._loop, self.settings, ready)
        except BaseException as exc:  # handed to start() in the calling thread
            self._error = exc
        finally:
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


class MockServerProcess(_Handle):
    """The mock server as a separate ``python -m dagen.mock.server`` process.

    The process always binds port 0 (a free port) on ``settings.host``; ``settings.port``
    is ignored, so parallel test runs never clash. ``url`` is known once ``start`` returns.

    Example:
        >>> with MockServerProcess(MockServerSettings(latency=0.05)) as server:
        ...     server.stats()["requests"]
        0
    """

    def __init__(
        self, settings: MockServerSettings | None = None, *, startup_timeout: float = 30.0
    ) -> None:
        self.settings = settings or MockServerSettings(port=0)
        self.startup_timeout = startup_timeout
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def argv(self) -> list[str]:
        """The command line that starts the server process."""
        # `import dagen` may import this module before runpy runs it as __main__; runpy
        # then warns that it "may result in unpredictable behaviour". It does not here.
        args = [sys.executable, "-W", "ignore::RuntimeWarning:runpy"]
        args += ["-m", "dagen.mock.server"]
        for f in dataclasses.fields(self.settings):
            value = 0 if f.name == "port" else getattr(self.settings, f.name)
            if value is not None:
                args += [flag(f.name), str(value)]
        return args

    def start(self) -> str:
        """Start the process and wait for its readiness line; return the ``/v1`` URL.

        Raises:
            RunError: the process exited or stayed silent for ``startup_timeout`` seconds.
        """
        root = str(Path(__file__).resolve().parents[2])  # the directory holding dagen/
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            self.argv(), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
        assert self.process.stdout is not None
        prefix = READY_LINE.format(url="")
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = self.process.stdout.readline()
                if line.startswith(prefix):
                    self.url = line[len(prefix) :].strip()
                    return self.url
                if not line:  # end of output: the process died
                    break
        code = self.process.poll()
        self.stop()
        raise RunError(f"mock LLM server process did not start (exit code {code})")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (SIGTERM), wait, and kill it if it lingers."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
