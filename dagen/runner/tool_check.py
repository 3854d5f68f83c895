"""Preflight of MCP tools: every tool config a column uses can serve it, checked before
the run starts.

For each ``tool_alias`` an LLM column names, in one event loop of a thread of its own
(so it runs under a caller's loop too, as in a notebook):

    1. the column's model speaks the OpenAI chat API (an Anthropic model is refused:
       dagen sends tools over the OpenAI API only);
    2. the ``mcp`` package imports;
    3. each of the tool config's providers starts (a stdio server) or answers (streamable
       HTTP, SSE) and lists its tools within ``timeout`` seconds;
    4. no tool name is offered by two of its providers, and every name of ``allow_tools``
       is offered (``dagen.generators.tools.offered_tools``).

The sessions opened here are closed again; workers open their own. A failure is a
``ConfigValidationError`` naming the columns, the tool alias and the provider, with the
server's own message. A stdio provider runs here as it will on the workers: on a cluster
whose workers are other machines, the command must exist there too.

Example:
    >>> check_tools(config)  # doctest: +SKIP
    {'lookup': ('find', 'fetch')}
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from dagen.config.dataset import DatasetConfig
from dagen.errors import ConfigValidationError, ToolCallError
from dagen.generators.tools import offered_tools
from dagen.inference.mcp import DEFAULT_OPEN_TIMEOUT, MCPSession

__all__ = ["check_tools"]


def check_tools(
    config: DatasetConfig, timeout: float = DEFAULT_OPEN_TIMEOUT
) -> dict[str, tuple[str, ...]]:
    """The steps of the module docstring; tool alias -> the tool names it offers.

    Raises:
        ConfigValidationError: a step failed (naming the columns and what failed).
    """
    users: dict[str, list[str]] = {}
    for column in config.columns:
        alias = getattr(column, "tool_alias", None)
        if isinstance(alias, str):
            users.setdefault(alias, []).append(column.name)
            _check_model(config, column, alias)
    if not users:
        return {}
    try:
        import mcp  # noqa: F401
    except ImportError as exc:
        raise ConfigValidationError(
            f"column(s) {_names([c for names in users.values() for c in names])} call MCP tools, and the mcp package "
            "is not installed (pip install 'mcp>=1.25,<2')"
        ) from exc
    found: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: found.update(outcome=_run(config, users, timeout)),
        name="dagen-tool-check",
        daemon=True,
    )
    thread.start()
    thread.join()
    outcome = found.get("outcome")
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome  # type: ignore[return-value]


def _check_model(config: DatasetConfig, column: Any, alias: str) -> None:
    model = next((m for m in config.models if m.alias == column.model_alias_), None)
    if model is not None and model.provider_type != "openai":
        raise ConfigValidationError(
            f"column {column.name!r} (tool_alias {alias!r}) uses model {model.alias!r} of "
            f"provider_type {model.provider_type!r}; dagen sends MCP tools over the OpenAI "
            "chat API only: use an OpenAI-compatible endpoint for this column"
        )


def _run(
    config: DatasetConfig, users: dict[str, list[str]], timeout: float
) -> dict[str, tuple[str, ...]] | BaseException:
    try:
        return asyncio.run(_check(config, users, timeout))
    except BaseException as exc:  # handed to the caller's thread
        return exc


async def _check(
    config: DatasetConfig, users: dict[str, list[str]], timeout: float
) -> dict[str, tuple[str, ...]]:
    providers = {p.name: p for p in config.mcp_providers}
    tools = {t.tool_alias: t for t in config.tool_configs}
    needed = sorted({name for alias in users for name in tools[alias].providers})
    sessions = [MCPSession(providers[name]) for name in needed]
    outcomes = await asyncio.gather(*(s.open(timeout) for s in sessions), return_exceptions=True)
    try:
        for name, outcome in zip(needed, outcomes, strict=True):
            if isinstance(outcome, ToolCallError):
                using = [a for a in users if name in tools[a].providers]
                columns = [c for a in using for c in users[a]]
                raise ConfigValidationError(
                    f"column(s) {_names(columns)} (tool_alias {', '.join(map(repr, using))}): "
                    f"{outcome}"
                ) from outcome
            if isinstance(outcome, BaseException):
                raise outcome
        opened = {s.provider.name: s for s in sessions}
        offered = {}
        for alias in users:
            chosen = [opened[name] for name in tools[alias].providers]
            try:
                offered[alias] = tuple(offered_tools(tools[alias], chosen))
            except ConfigValidationError as exc:
                raise ConfigValidationError(f"column(s) {_names(users[alias])}: {exc}") from exc
        return offered
    finally:
        await asyncio.gather(*(s.aclose() for s in sessions), return_exceptions=True)


def _names(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns)
