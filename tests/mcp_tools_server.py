"""A real MCP server for the tool tests (FastMCP from the ``mcp`` package).

    python tests/mcp_tools_server.py stdio
    python tests/mcp_tools_server.py streamable-http --port P     # at http://127.0.0.1:P/mcp
    python tests/mcp_tools_server.py sse --port P                 # at http://127.0.0.1:P/sse

Tools: ``add(a, b)``, ``shout(text)``, ``fail(reason)`` (raises), ``hang(seconds)``
(sleeps), ``picture()`` (a 1x1 PNG), ``die()`` (the server exits mid-call). With
``DAGEN_TEST_MCP_LOG`` set, each call appends
``{"pid", "session", "tool"}`` as a JSON line to that file, so a test can count the
processes and MCP sessions that served a run. ``DAGEN_TEST_MCP_EXIT`` set to a message
makes the server write it to stderr and exit before serving (a server that does not start).
``DAGEN_TEST_MCP_DIE_ONCE`` set to a path makes ``die()`` exit only on its first call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys

from mcp.server.fastmcp import Context, FastMCP, Image

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def build(port: int) -> FastMCP:
    server = FastMCP("dagen-test-tools", host="127.0.0.1", port=port, log_level="WARNING")

    def log(ctx: Context, tool: str) -> None:
        path = os.environ.get("DAGEN_TEST_MCP_LOG")
        if path:
            entry = {"pid": os.getpid(), "session": id(ctx.session), "tool": tool}
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    @server.tool()
    def add(a: int, b: int, ctx: Context) -> int:
        """Add two integers."""
        log(ctx, "add")
        return a + b

    @server.tool()
    def shout(text: str, ctx: Context) -> str:
        """The text in capitals."""
        log(ctx, "shout")
        return text.upper()

    @server.tool()
    def fail(reason: str, ctx: Context) -> str:
        """Always raises."""
        log(ctx, "fail")
        raise ValueError(f"fail was asked to fail: {reason}")

    @server.tool()
    async def hang(seconds: float, ctx: Context) -> str:
        """Sleeps (a tool that hangs)."""
        log(ctx, "hang")
        await asyncio.sleep(seconds)
        return "woke up"

    @server.tool()
    def die(ctx: Context) -> str:
        """Ends the server process without an answer (only the first time, across
        processes, when ``DAGEN_TEST_MCP_DIE_ONCE`` names a file to mark it by)."""
        once = os.environ.get("DAGEN_TEST_MCP_DIE_ONCE")
        if once:
            try:
                os.close(os.open(once, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                log(ctx, "survive")
                return "a server died already"
        log(ctx, "die")
        os._exit(1)

    @server.tool()
    def picture(ctx: Context) -> Image:
        """A one-pixel PNG."""
        log(ctx, "picture")
        return Image(data=PNG_1X1, format="png")

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "streamable-http", "sse"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if os.environ.get("DAGEN_TEST_MCP_EXIT"):
        print(os.environ["DAGEN_TEST_MCP_EXIT"], file=sys.stderr, flush=True)
        sys.exit(3)
    build(args.port).run(args.transport)


if __name__ == "__main__":
    main()
