"""MCP sessions: one per (event loop, run, provider), opened on first use, reused by every
cell of the worker, closed when the run ends on the worker.

Policy. An ``MCPSession`` is one connection to one MCP provider (``dagen.config.tools``):
a subprocess spoken to over stdio (``LocalStdioMCPProvider``), or a server reached over
streamable HTTP or SSE (``MCPProvider``, ``api_key`` as a bearer token). The ``mcp``
package's transports are anyio context managers that must be left by the task that
entered them, so each session has an owner task that opens the transport and the
``ClientSession``, lists the tools once, then waits until the session is closed; cells
only send requests over it (the MCP client matches answers to requests, so calls of many
cells run at once over one session). When the transport's read stream ends (the server exited,
the connection dropped) the session is marked closed at once: the calls waiting on it fail,
and the next call opens a new session.

Tool calls do not take a slot of the model's limiter: caps and AIMD count model calls.
A call has a time limit, the tool config's ``timeout_sec`` or ``DEFAULT_TOOL_TIMEOUT``
seconds when it sets none, so a hung tool costs one row, not the run. A stdio server's
stderr goes to a temporary file whose last lines are quoted when it fails to start.

State, process-wide:

    _SESSIONS   event loop -> (scope, provider as JSON) -> opening or open session

Example:
    >>> async def cell(provider):
    ...     session = await session_for(provider, scope="r1")
    ...     [tool.name for tool in session.tools], await session.call("add", {"a": 1}, 5.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dagen.config.tools import LocalStdioMCPProvider, MCPProvider
from dagen.errors import ToolCallError

__all__ = [
    "DEFAULT_OPEN_TIMEOUT",
    "DEFAULT_TOOL_TIMEOUT",
    "MCPSession",
    "Tool",
    "ToolOutcome",
    "close_sessions",
    "session_for",
]

DEFAULT_OPEN_TIMEOUT = 30.0  # seconds for a provider to start and list its tools
DEFAULT_TOOL_TIMEOUT = 300.0  # seconds for one tool call whose tool config sets none
_CONNECTION_CLOSED = -32000  # the MCP client's error code for a connection that closed
_STDERR_TAIL = 600  # characters of a stdio server's stderr quoted in errors

Provider = MCPProvider | LocalStdioMCPProvider


@dataclass(frozen=True)
class Tool:
    """A tool an MCP provider offers: what the model is told about it."""

    name: str
    description: str
    parameters: dict[str, Any]
    provider: str

    def schema(self) -> dict[str, Any]:
        """The tool as an OpenAI function tool (``tools`` of a chat request)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class ToolOutcome:
    """A tool's answer: ``content`` is text, or OpenAI content parts when it holds images;
    ``is_error`` is the server's own flag (the tool raised; its message is the content)."""

    content: str | list[dict[str, Any]]
    is_error: bool


class MCPSession:
    """One open connection to an MCP provider (see the module docstring).

    Attributes:
        provider: the provider.
        tools: the tools it listed when it opened.
    """

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.tools: tuple[Tool, ...] = ()
        self._session: Any = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None
        self._stderr: Any = None
        self._owner: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        owner = self._owner
        return (
            self._session is not None
            and not self._closing.is_set()
            and owner is not None
            and not owner.done()
        )

    async def open(self, timeout: float = DEFAULT_OPEN_TIMEOUT) -> MCPSession:
        """Start the owner task and wait until the tools are listed.

        Raises:
            ToolCallError: the provider did not start or answer within ``timeout``
                seconds, naming it, with the server's own message.
        """
        self._owner = asyncio.create_task(self._own(), name=f"mcp:{self.provider.name}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            tail = self._stderr_tail()
            await self.aclose()
            raise ToolCallError(
                f"{self.provider.describe()} did not start and list its tools within "
                f"{timeout:g}s{tail}"
            ) from None
        if self._failure is not None:
            failure, tail = self._failure, self._stderr_tail()
            await self.aclose()
            raise ToolCallError(
                f"{self.provider.describe()} did not start: {_message(failure)}{tail}"
            ) from failure
        return self

    async def call(self, name: str, arguments: dict[str, Any], timeout: float) -> ToolOutcome:
        """Call tool ``name``; its answer, or ToolCallError (no answer in ``timeout``
        seconds, the session failed, the server refused the request or its answer)."""
        from mcp.shared.exceptions import McpError

        where = f"tool {name!r} of {self.provider.describe()}"
        if not self.is_open:
            raise ToolCallError(f"{where}: the session is closed")
        request = asyncio.ensure_future(
            self._session.call_tool(name, arguments, timedelta(seconds=timeout))
        )
        closed = asyncio.ensure_future(self._closing.wait())
        try:
            # the MCP client's own limit answers first, as an McpError; a connection that
            # closes leaves a request sent at that moment unanswered, so its end is awaited too
            await asyncio.wait(
                {request, closed}, timeout=timeout + 1.0, return_when="FIRST_COMPLETED"
            )
        finally:
            closed.cancel()
        if not request.done():
            request.cancel()
            if self._closing.is_set():
                raise ToolCallError(f"{where}: the connection closed during the call")
            raise ToolCallError(f"{where} did not answer within {timeout:g}s")
        try:
            result = request.result()
        except McpError as exc:
            text = exc.error.message
            if exc.error.code == _CONNECTION_CLOSED:
                self._closing.set()  # the next call opens a new session
            if "timed out" in text.lower():
                raise ToolCallError(f"{where} did not answer within {timeout:g}s") from exc
            raise ToolCallError(f"{where}: {text}") from exc
        except Exception as exc:  # the transport failed: the next call opens a new session
            self._closing.set()
            raise ToolCallError(f"{where}: {_message(exc)}") from exc
        return ToolOutcome(_content(result.content), bool(result.isError))

    async def aclose(self) -> None:
        """End the owner task (closing the session, stopping a stdio server)."""
        self._closing.set()
        owner = self._owner
        if owner is not None and not owner.done():
            try:
                await asyncio.wait_for(asyncio.shield(owner), 10.0)
            except (TimeoutError, asyncio.CancelledError):
                owner.cancel()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def _own(self) -> None:
        from mcp import ClientSession

        try:
            async with contextlib.AsyncExitStack() as stack:
                streams = await self._transport(stack)
                read: Any = _Watched(streams[0], on_end=self._closing.set)
                session = await stack.enter_async_context(ClientSession(read, streams[1]))
                await session.initialize()
                listed = await session.list_tools()
                self.tools = tuple(
                    Tool(
                        name=t.name,
                        description=t.description or "",
                        parameters=t.inputSchema or {"type": "object", "properties": {}},
                        provider=self.provider.name,
                    )
                    for t in listed.tools
                )
                self._session = session
                self._ready.set()
                await self._closing.wait()
        except Exception as exc:  # kept for open() to name
            self._failure = exc
        finally:
            self._session = None
            self._ready.set()

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        """Enter the provider's transport on ``stack``; its (read, write, ...) streams."""
        provider = self.provider
        if isinstance(provider, LocalStdioMCPProvider):
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - lives as long as the session
            params = StdioServerParameters(
                command=provider.command, args=list(provider.args), env=dict(provider.env)
            )
            return await stack.enter_async_context(stdio_client(params, errlog=self._stderr))
        headers = {"Authorization": f"Bearer {provider.api_key}"} if provider.api_key else None
        if provider.provider_type == "streamable_http":
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
            return await stack.enter_async_context(
                streamable_http_client(provider.endpoint, http_client=http)
            )
        from mcp.client.sse import sse_client

        return await stack.enter_async_context(sse_client(provider.endpoint, headers=headers))

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        text = " ".join(self._stderr.read().split())
        return f" (its stderr: ...{text[-_STDERR_TAIL:]})" if text else ""


class _Watched:
    """A transport's read stream that calls ``on_end`` when it ends (the server exited, the
    connection dropped), before the MCP client fails the requests still waiting on it."""

    def __init__(self, stream: Any, on_end: Any) -> None:
        self._stream = stream
        self._on_end = on_end

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def __aenter__(self) -> _Watched:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self._stream.__aexit__(*exc)

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._stream.__anext__()
        except Exception:  # its end (StopAsyncIteration) or a stream that broke
            self._on_end()
            raise


# event loop -> (scope, provider as JSON) -> the task opening the session, then its result
_SESSIONS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Task[MCPSession]]
] = weakref.WeakKeyDictionary()


async def session_for(
    provider: Provider, *, scope: str = "", timeout: float = DEFAULT_OPEN_TIMEOUT
) -> MCPSession:
    """The running loop's open session to ``provider`` for ``scope``, opened on first use
    (cells asking at once share one opening; a failed opening is retried by the next
    call; a session that failed since is replaced).

    Raises:
        ToolCallError: the provider did not start (see ``MCPSession.open``).
    """
    sessions = _SESSIONS.setdefault(asyncio.get_running_loop(), {})
    key = (scope, provider.model_dump_json())
    opening = sessions.get(key)
    if opening is not None and opening.done():
        failed = opening.cancelled() or opening.exception() is not None
        if failed or not opening.result().is_open:
            if not failed:
                await opening.result().aclose()
            opening = None
    if opening is None:
        opening = sessions[key] = asyncio.ensure_future(MCPSession(provider).open(timeout))
    return await asyncio.shield(opening)


async def close_sessions(scope: str | None = None) -> None:
    """Close and forget the running loop's sessions (of one ``scope``, or all)."""
    sessions = _SESSIONS.get(asyncio.get_running_loop(), {})
    for key in [k for k in sessions if scope is None or k[0] == scope]:
        opening = sessions.pop(key)
        if not opening.done():
            opening.cancel()
            continue
        if not opening.cancelled() and opening.exception() is None:
            await opening.result().aclose()


def _content(blocks: Any) -> str | list[dict[str, Any]]:
    """A tool's content blocks as a tool message's content: the text, or OpenAI content
    parts when an image is among them (other blocks as their JSON)."""
    parts: list[dict[str, Any]] = []
    for block in blocks or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append({"type": "text", "text": block.text})
        elif kind == "image":
            url = f"data:{block.mimeType};base64,{block.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            dumped = block.model_dump(mode="json") if hasattr(block, "model_dump") else str(block)
            parts.append({"type": "text", "text": json.dumps(dumped, ensure_ascii=False)})
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _message(exc: BaseException) -> str:
    """The innermost messages of an error (anyio wraps transport errors in groups)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_message(e) for e in exc.exceptions)
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
