"""Fixtures: the mock LLM server as a real separate process (a pytest plugin of conftest).

``server`` is one ``python -m dagen.mock.server`` process for the whole session,
with its counters zeroed and its fault settings restored before each test. ``keyed_server``
is a second process that requires the API key ``server_key``. Helpers are handed out as
fixtures (``make_config``, ``post_chat``, ``get_json``, ``free_port``, ``fast_retry``) so
that test modules never import this file.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from dagen.config.models import ModelConfig
from dagen.inference.client import RetryPolicy
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

SERVER_KEY = "sk-mock-0123456789abcdef-SECRET"
DEFAULT_FAULTS = MockServerSettings(port=0).runtime()
FAST_RETRY = RetryPolicy(backoff_base=0.005, backoff_max=0.02)


def _fresh(process: MockServerProcess) -> MockServerProcess:
    process.set(**DEFAULT_FAULTS)
    process.reset()
    return process


@pytest.fixture(scope="session")
def server_process() -> Iterator[MockServerProcess]:
    with MockServerProcess(MockServerSettings(port=0)) as process:
        yield process


@pytest.fixture
def server(server_process: MockServerProcess) -> MockServerProcess:
    """The shared mock server, zeroed, with no faults."""
    return _fresh(server_process)


@pytest.fixture(scope="session")
def keyed_process() -> Iterator[MockServerProcess]:
    with MockServerProcess(MockServerSettings(port=0, api_key=SERVER_KEY)) as process:
        yield process


@pytest.fixture
def keyed_server(keyed_process: MockServerProcess) -> MockServerProcess:
    """A mock server that answers 401 without ``Authorization: Bearer SERVER_KEY``."""
    return _fresh(keyed_process)


@pytest.fixture
def server_key() -> str:
    """The key ``keyed_server`` expects."""
    return SERVER_KEY


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Retries with millisecond backoff."""
    return FAST_RETRY


@pytest.fixture(name="make_config")
def make_config_fixture() -> Any:
    """``make_config(url, **fields)`` -> ModelConfig."""
    return config_for


@pytest.fixture(name="post_chat")
def post_chat_fixture() -> Any:
    """``post_chat(url, body, headers=None)`` -> (status, headers, JSON)."""
    return post_chat


@pytest.fixture(name="get_json")
def get_json_fixture() -> Any:
    """``get_json(url, headers=None)`` -> (status, headers, JSON)."""
    return get_json


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    """A loopback port nobody listens on."""
    return free_port()


def config_for(url: str, **fields: Any) -> ModelConfig:
    """A ModelConfig aimed at ``url`` (alias ``writer``, model ``mock-writer``)."""
    values: dict[str, Any] = {"alias": "writer", "model": "mock-writer", "endpoint": url}
    values.update(fields)
    return ModelConfig(**values)


def post_chat(
    url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` to ``{url}/chat/completions``; return (status, headers, JSON)."""
    request = urllib.request.Request(
        url + "/chat/completions", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return _open(request)


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """GET ``url``; return (status, headers, JSON)."""
    request = urllib.request.Request(url, headers=headers or {})
    return _open(request)


def _open(request: urllib.request.Request) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def free_port() -> int:
    """A loopback port nobody listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
