"""The tool-call loop of an LLM column with ``tool_alias``: the model calls MCP tools until
it answers.

Policy, as Data Designer 0.9.7 runs it (``ModelFacade.generate`` with an ``MCPFacade``):

1. Every model call of the cell offers the tool config's tools (its providers' tools, only
   those in ``allow_tools`` when it is set) as OpenAI function tools.
2. An answer with ``tool_calls`` is one turn. Its calls run at once (``asyncio.gather``),
   over the worker's pooled MCP sessions (``dagen.inference.mcp``), each within
   ``timeout_sec``; the assistant message and one ``tool`` message per call, in the
   order asked, join the conversation, and the model is called again.
3. A turn past ``max_tool_call_turns`` is not run: each call gets DD's refusal text as its
   result, so the model is told to answer. A model that asks for tools again after that
   fails the row (``ToolCallError``): DD would ask it forever.
4. The first answer without tool calls is the cell's answer; its parse and repairs are the
   LLM generator's, and the repairs offer the tools again (the turns are per cell).

A tool outside the config's tools or ``allow_tools``, arguments that are not a JSON
object, a call that times out or a session that fails make the row fail with a
``ToolCallError`` naming the column, the tool and its provider. A tool that answers with
an error (it raised, on the server) is an answer: the model reads the error.

Model calls go through the model's client, its limiter and retries; tool calls do not
(caps and AIMD count model calls). The whole exchange is in ``messages``, which the LLM
generator keeps as the cell's ``__trace``.

Example:
    >>> loop = ToolLoop("answer", ToolConfig(tool_alias="t", providers=["calc"]), [])
    >>> loop.max_turns
    5
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from dagen.config.tools import LocalStdioMCPProvider, MCPProvider, ToolConfig
from dagen.errors import ConfigValidationError, ToolCallError
from dagen.inference.chat import ChatResult
from dagen.inference.mcp import DEFAULT_TOOL_TIMEOUT, MCPSession, Tool, session_for

__all__ = ["REFUSAL", "ToolLoop", "offered_tools"]

REFUSAL = (  # DD 0.9.7's DEFAULT_TOOL_REFUSAL_MESSAGE, word for word
    "Tool call refused: You have reached the maximum number of tool-calling turns. "
    "Please provide your final response without requesting additional tool calls."
)

Provider = MCPProvider | LocalStdioMCPProvider
ModelCall = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[ChatResult]]


def offered_tools(config: ToolConfig, sessions: Sequence[MCPSession]) -> dict[str, Tool]:
    """The tools a tool config offers, by name, from its providers' open sessions.

    Raises:
        ConfigValidationError: two providers offer a tool of the same name, or a tool of
            ``allow_tools`` is on none of them (naming the tool alias and providers).
    """
    found: dict[str, Tool] = {}
    for session in sessions:
        for tool in session.tools:
            if tool.name in found:
                raise ConfigValidationError(
                    f"tool_configs {config.tool_alias!r}: tool {tool.name!r} is offered by "
                    f"MCP providers {found[tool.name].provider!r} and {tool.provider!r}; a "
                    "tool name must be unique across a tool config's providers"
                )
            found[tool.name] = tool
    if config.allow_tools is not None:
        missing = sorted(set(config.allow_tools) - set(found))
        if missing:
            raise ConfigValidationError(
                f"tool_configs {config.tool_alias!r}: allow_tools {missing} are not offered "
                f"by MCP providers {config.providers} (they offer: "
                f"{', '.join(sorted(found)) or 'no tools'})"
            )
        found = {name: tool for name, tool in found.items() if name in config.allow_tools}
    return found


class ToolLoop:
    """Runs one cell's conversation through its tool calls (see the module docstring).

    Args:
        column: the LLM column, for errors.
        config: the column's tool config.
        providers: every MCP provider of the dataset config (the loop uses its own).
    """

    def __init__(self, column: str, config: ToolConfig, providers: Sequence[Provider]) -> None:
        by_name = {p.name: p for p in providers}
        self.column = column
        self.config = config
        self.providers = tuple(by_name[name] for name in config.providers if name in by_name)
        self.max_turns = config.max_tool_call_turns
        self.timeout = config.timeout_sec or DEFAULT_TOOL_TIMEOUT

    async def tools(self, scope: str) -> dict[str, tuple[Tool, MCPSession]]:
        """The offered tools, each with the open session that serves it (opened on first
        use; ``scope``, the run token, keeps each run's sessions apart on a worker)."""
        sessions = [await session_for(p, scope=scope) for p in self.providers]
        tools = offered_tools(self.config, sessions)
        by_provider = {s.provider.name: s for s in sessions}
        return {name: (tool, by_provider[tool.provider]) for name, tool in tools.items()}

    async def run(
        self,
        call_model: ModelCall,
        messages: list[dict[str, Any]],
        *,
        scope: str,
        row_group: int,
        row: int,
    ) -> ChatResult:
        """Call the model (``call_model(messages, tools)``) until it answers without tool
        calls, appending each turn's messages to ``messages``; that answer. ``scope`` is
        the run token, ``row_group`` and ``row`` the cell's, for errors.

        Raises:
            ToolCallError: a call could not be made, or the model kept calling tools after
                its turns were spent (naming the column, row group, row and tool).
        """
        try:
            tools = await self.tools(scope)
        except (ToolCallError, ConfigValidationError) as exc:
            raise self._error(str(exc), row_group, row) from exc
        schemas = [tool.schema() for tool, _ in tools.values()]
        turns = 0
        while True:
            result = await call_model(messages, schemas)
            if not result.tool_calls:
                return result
            turns += 1
            if turns > self.max_turns + 1:
                raise self._error(
                    f"the model asked for tools again after its max_tool_call_turns="
                    f"{self.max_turns} were spent and it was told to answer",
                    row_group,
                    row,
                )
            messages.append(_assistant(result))
            if turns > self.max_turns:
                answers: list[Any] = [REFUSAL] * len(result.tool_calls)
            else:
                answers = await asyncio.gather(
                    *(self._call(tools, call, row_group, row) for call in result.tool_calls)
                )
            messages.extend(
                {"role": "tool", "tool_call_id": call["id"], "content": answer}
                for call, answer in zip(result.tool_calls, answers, strict=True)
            )

    async def _call(
        self,
        tools: dict[str, tuple[Tool, MCPSession]],
        call: dict[str, Any],
        row_group: int,
        row: int,
    ) -> str | list[dict[str, Any]]:
        name, text = call["function"]["name"], call["function"]["arguments"]
        if name not in tools:
            offered = ", ".join(sorted(tools)) or "none"
            raise self._error(
                f"the model asked for tool {name!r}, which tool config "
                f"{self.config.tool_alias!r} does not offer (offered: {offered})",
                row_group,
                row,
            )
        try:
            arguments = json.loads(text) if text.strip() else {}
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            raise self._error(
                f"the model called tool {name!r} with arguments that are not a JSON object: "
                f"{text[:200]!r}",
                row_group,
                row,
            )
        _, session = tools[name]
        try:
            outcome = await session.call(name, arguments, self.timeout)
        except ToolCallError as exc:
            raise self._error(str(exc), row_group, row) from exc
        return outcome.content

    def _error(self, text: str, row_group: int, row: int) -> ToolCallError:
        return ToolCallError(
            f"column {self.column!r} (tool_alias {self.config.tool_alias!r}): {text}",
            column=self.column,
            row_group=row_group,
            row=row,
        )


def _assistant(result: ChatResult) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content}
    message["tool_calls"] = list(result.tool_calls)
    return message
