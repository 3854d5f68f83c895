"""MCP tools for LLM columns: the servers (MCP providers) and the tool configs columns name.

Field names are Data Designer 0.9.7's (``data_designer.config.mcp``), so a DD file's
``tool_configs`` and a DD ``mcp_providers`` list read as they are:

- ``MCPProvider``: a running server reached over ``sse`` (the default, as in DD) or
  ``streamable_http`` at ``endpoint``, with an optional ``api_key``;
- ``LocalStdioMCPProvider``: a server started as a subprocess (``command``, ``args``,
  ``env``) and spoken to over stdio;
- ``ToolConfig``: a ``tool_alias`` an LLM column names, the ``providers`` its tools come
  from, an optional ``allow_tools`` allowlist, ``max_tool_call_turns`` (default 5) and a
  per-call ``timeout_sec``.

``check_tool_references`` is what ``DatasetConfig`` runs: unique provider names and tool
aliases, every tool config's providers defined, every column's ``tool_alias`` defined.

Example (YAML):
    mcp_providers:
      - {name: search, provider_type: stdio, command: python, args: [-m, my_search_server]}
    tool_configs:
      - {tool_alias: lookup, providers: [search], allow_tools: [find], max_tool_call_turns: 3}
    columns:
      - {name: answer, column_type: llm-text, prompt: "...", tool_alias: lookup}

Example (Python):
    >>> ToolConfig(tool_alias="lookup", providers=["search"]).max_tool_call_turns
    5
    >>> MCPProvider(name="web", endpoint="http://127.0.0.1:9000/sse").provider_type
    'sse'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from dagen.config.base import StrictModel

__all__ = [
    "LocalStdioMCPProvider",
    "MCPProvider",
    "MCPProviderConfig",
    "ToolConfig",
    "check_tool_references",
]


class MCPProvider(StrictModel):
    """A running MCP server: ``sse`` or ``streamable_http`` transport at ``endpoint``.

    ``api_key``, when set, is sent as a bearer token.
    """

    provider_type: Literal["sse", "streamable_http"] = "sse"
    name: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    api_key: str | None = None

    def describe(self) -> str:
        return f"MCP provider {self.name!r} ({self.provider_type} {self.endpoint})"


class LocalStdioMCPProvider(StrictModel):
    """An MCP server dagen starts as a subprocess and speaks to over stdio."""

    provider_type: Literal["stdio"] = "stdio"
    name: str = Field(min_length=1)
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    def describe(self) -> str:
        return f"MCP provider {self.name!r} (stdio: {' '.join([self.command, *self.args])})"


MCPProviderConfig = Annotated[
    MCPProvider | LocalStdioMCPProvider, Field(discriminator="provider_type")
]


class ToolConfig(StrictModel):
    """The MCP tools an LLM column may call (the column names it by ``tool_alias``).

    Attributes:
        tool_alias: the name columns use.
        providers: the MCP providers the tools come from (names in ``mcp_providers``).
        allow_tools: the tools permitted; None permits every tool of the providers.
        max_tool_call_turns: how many rounds of tool calls one cell may make (a round may
            call several tools in parallel).
        timeout_sec: the limit on one tool call; None waits as long as the call takes.
    """

    tool_alias: str = Field(min_length=1)
    providers: list[str] = Field(min_length=1)
    allow_tools: list[str] | None = None
    max_tool_call_turns: int = Field(default=5, ge=1)
    timeout_sec: float | None = Field(default=None, gt=0)


def _twice(names: Sequence[str]) -> list[str]:
    return sorted({n for n in names if names.count(n) > 1})


def check_tool_references(
    providers: Sequence[MCPProvider | LocalStdioMCPProvider],
    tools: Sequence[ToolConfig],
    columns: Sequence[Any],
) -> None:
    """Raise ValueError naming the first broken reference between columns, tool configs
    and MCP providers (``DatasetConfig`` turns it into a ConfigValidationError)."""
    twice = _twice([p.name for p in providers])
    if twice:
        raise ValueError(f"mcp_providers {twice} are defined more than once")
    twice = _twice([t.tool_alias for t in tools])
    if twice:
        raise ValueError(f"tool_configs: tool_alias {twice} is used more than once")
    known = {p.name for p in providers}
    for index, tool in enumerate(tools):
        missing = [name for name in tool.providers if name not in known]
        if missing:
            raise ValueError(
                f"tool_configs[{index}] ({tool.tool_alias!r}): provider(s) {missing} are not "
                f"in mcp_providers (defined: {', '.join(sorted(known)) or 'none'})"
            )
    aliases = {t.tool_alias for t in tools}
    for index, column in enumerate(columns):
        alias = getattr(column, "tool_alias", None)
        if alias is not None and alias not in aliases:
            raise ValueError(
                f"column {column.name!r} (columns[{index}]): tool_alias {alias!r} is not in "
                f"tool_configs (defined: {', '.join(sorted(aliases)) or 'none'})"
            )
