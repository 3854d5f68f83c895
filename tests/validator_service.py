"""A small real validation service on 127.0.0.1 for the remote validator tests.

``POST /`` with ``{"data": [{"n": ...}, ...]}`` answers ``{"data": [{"is_valid": n % 3 != 0,
"reason": ...}, ...]}``. The service records the size of every batch it answered, and can
be told to answer the next K requests with a status (503, 429...), to sleep before
answering, or to answer a fixed body. A pytest plugin of conftest (``validator_service``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class ValidatorService:
    """The service's state, shared with its handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[int] = []  # size of each batch answered 200, in order
        self.requests = 0
        self.in_flight = 0
        self.peak = 0
        self.fail_next: list[int] = []  # statuses for the next requests
        self.sleep = 0.0
        self.body: Any = None  # a fixed answer instead of the verdicts
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/validate"

    def answer(self, payload: dict[str, Any]) -> tuple[int, Any]:
        with self.lock:
            self.requests += 1
            if self.fail_next:
                return self.fail_next.pop(0), {"error": "injected"}
        if self.body is not None:
            return 200, self.body
        rows = payload["data"]
        with self.lock:
            self.batches.append(len(rows))
        verdicts = [
            {"is_valid": row["n"] % 3 != 0, "reason": "multiple of 3" if row["n"] % 3 == 0 else ""}
            for row in rows
        ]
        return 200, {"data": verdicts}


def _handler(service: ValidatorService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with service.lock:
                service.in_flight += 1
                service.peak = max(service.peak, service.in_flight)
            try:
                time.sleep(service.sleep)
                status, answer = service.answer(json.loads(body))
            finally:
                with service.lock:
                    service.in_flight -= 1
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def validator_service() -> Iterator[ValidatorService]:
    """A fresh validation service on a free loopback port, stopped after the test."""
    service = ValidatorService()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.server.shutdown()
        service.server.server_close()
        thread.join(5)
