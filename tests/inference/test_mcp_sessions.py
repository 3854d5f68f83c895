"""MCP sessions against a real stdio server (``tests/mcp_tools_server.py``), without a
cluster: what a cell sees when the server under its session exits."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from dagen.config.tools import LocalStdioMCPProvider
from dagen.errors import ToolCallError
from dagen.inference.mcp import close_sessions, session_for

SERVER = str(Path(__file__).resolve().parents[1] / "mcp_tools_server.py")
PROVIDER = LocalStdioMCPProvider(name="calc", command=sys.executable, args=[SERVER, "stdio"])


@pytest.mark.timeout(60)  # a call left waiting on the dead server would hang
def test_a_server_that_exits_fails_every_call_on_it_at_once_and_the_next_call_starts_it_again():
    async def scenario():
        session = await session_for(PROVIDER, scope="dies")
        hanging = [
            asyncio.create_task(session.call("hang", {"seconds": 60}, 120)) for _ in range(4)
        ]
        await asyncio.sleep(0.2)
        dying = asyncio.create_task(session.call("die", {}, 120))
        late = []  # calls sent while the server goes: none may wait for the 120 s limit
        while not dying.done():
            late.append(asyncio.create_task(session.call("add", {"a": 1, "b": 2}, 120)))
            await asyncio.sleep(0.002)
        for _ in range(20):
            late.append(asyncio.create_task(session.call("add", {"a": 1, "b": 2}, 120)))
            await asyncio.sleep(0)
        ended = await asyncio.wait_for(
            asyncio.gather(*hanging, dying, *late, return_exceptions=True), 15
        )
        again = await session_for(PROVIDER, scope="dies")
        answer = await again.call("add", {"a": 1, "b": 2}, 120)
        await close_sessions("dies")
        return session, ended, again, answer

    session, ended, again, answer = asyncio.run(scenario())
    lost = ended[:5]
    assert all(isinstance(e, ToolCallError) for e in lost), lost
    assert all("of MCP provider 'calc'" in str(e) for e in lost)
    assert all(isinstance(e, ToolCallError) or e.content == "3" for e in ended[5:])
    assert not session.is_open and again is not session
    assert answer.content == "3" and not answer.is_error


def test_a_call_on_a_closed_session_is_refused_by_name():
    async def scenario():
        session = await session_for(PROVIDER, scope="closed")
        await close_sessions("closed")
        return await session.call("add", {"a": 1, "b": 2}, 5)

    with pytest.raises(
        ToolCallError,
        match=r"tool 'add' of MCP provider 'calc' \(stdio: .*\): the session is closed",
    ):
        asyncio.run(scenario())
