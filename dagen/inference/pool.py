"""The per-loop pool: one ``ModelClient`` per (event loop, scope, model config).

All the calls one Dask worker makes on its event loop for one model share one client, so
one HTTP session (keep-alive) and one ``AdaptiveLimiter`` (the worker's share of the
model's cap). A scope (the run token) keeps runs apart, with their usage counters.

State, process-wide:

    _POOL    event loop -> (scope, alias, config as JSON) -> client   (weak in the loop)

The client classes (and their HTTP library) are imported with the first client: a worker
running a run without models, which still reads the pool's figures, never loads them.

Example:
    >>> async def cell(config, prompt):
    ...     client = client_for(config, scope="r1")    # same client for the whole loop
    ...     result = await client.chat([{"role": "user", "content": prompt}])
    ...     return result.content
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import weakref
from typing import TYPE_CHECKING, Any

from dagen.config.models import ModelConfig
from dagen.inference.limiter import AdaptiveLimiter
from dagen.inference.usage import ModelUsage, merge_counts

if TYPE_CHECKING:
    from dagen.inference.client import ApiKey, ModelClient

__all__ = [
    "CLIENT_TYPES",
    "client_for",
    "close_clients",
    "scope_figures",
    "scope_in_flight",
    "scope_usage",
    "set_ceilings",
]

# provider_type -> (module, class) of the client that speaks its API, imported when used
CLIENT_TYPES: dict[str, tuple[str, str]] = {
    "openai": ("dagen.inference.client", "ModelClient"),
    "anthropic": ("dagen.inference.anthropic", "AnthropicClient"),
}

# event loop -> (alias, config as JSON) -> client
_POOL: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, str], ModelClient]]
_POOL = weakref.WeakKeyDictionary()
_POOL_LOCK = threading.Lock()


def client_for(
    config: ModelConfig,
    *,
    ceiling: int | None = None,
    scope: str = "",
    api_key: ApiKey | None = None,
) -> ModelClient:
    """Return the running loop's client for ``config``, creating it on first use.

    The client class is the one of the model's ``provider_type`` (``CLIENT_TYPES``).
    The same (loop, alias, config) always gets the same client, hence the same session
    and limiter: one Dask worker reuses one connection pool for all its calls.

    Args:
        config: the model.
        ceiling: the limiter's ceiling; ``config.max_parallel_requests`` for a new
            client when None. A different value updates an existing client's limiter.
        scope: keeps clients (and so their usage counters) apart, e.g. one per run.
        api_key: the key, when it was read elsewhere (the process that started the run);
            else it is read from ``config.api_key_env`` here.

    Raises:
        RuntimeError: no event loop is running (call it from async code).
        ValueError, MissingApiKeyError: as ``ModelClient``.
    """
    loop = asyncio.get_running_loop()
    key = (scope, config.alias, config.model_dump_json())
    with _POOL_LOCK:
        clients = _POOL.setdefault(loop, {})
        client = clients.get(key)
        if client is None:
            limiter = AdaptiveLimiter(ceiling or config.max_parallel_requests)
            module, name = CLIENT_TYPES[config.provider_type]
            kind = getattr(importlib.import_module(module), name)
            client = clients[key] = kind(config, limiter=limiter, api_key=api_key)
        elif ceiling is not None and ceiling != client.limiter.ceiling:
            client.limiter.set_ceiling(ceiling)
    return client


async def close_clients(scope: str | None = None) -> None:
    """Close and forget the running loop's pooled clients (of one ``scope``, or all)."""
    loop = asyncio.get_running_loop()
    with _POOL_LOCK:
        pooled = _POOL.get(loop, {})
        keys = [k for k in pooled if scope is None or k[0] == scope]
        clients = [pooled.pop(k) for k in keys]
    for client in clients:
        await client.aclose()


def scope_usage(scope: str) -> dict[str, ModelUsage]:
    """Usage of the pooled clients of ``scope`` on every loop of this process, per alias."""
    usage: dict[str, ModelUsage] = {}
    with _POOL_LOCK:
        for clients in _POOL.values():
            for (client_scope, alias, _), client in clients.items():
                if client_scope == scope:
                    usage.setdefault(alias, ModelUsage()).merge(client.usage)
    return usage


def scope_in_flight(scope: str) -> dict[str, int]:
    """Calls of the pooled clients of ``scope`` in flight now on every loop of this process,
    per alias (the calls holding a slot of their limiter)."""
    found: dict[str, int] = {}
    with _POOL_LOCK:
        for clients in _POOL.values():
            for (client_scope, alias, _), client in clients.items():
                if client_scope == scope:
                    found[alias] = found.get(alias, 0) + client.limiter.in_flight
    return found


def set_ceilings(scope: str, ceilings: dict[str, int]) -> None:
    """Set the limiter ceiling of the running loop's pooled clients of ``scope`` now (per
    alias; values below 1 are left to the next ``client_for``), rather than at their next
    call, so that callers already waiting are held to the new ceiling."""
    loop = asyncio.get_running_loop()
    with _POOL_LOCK:
        pooled = list(_POOL.get(loop, {}).items())
    for (client_scope, alias, _), client in pooled:
        ceiling = ceilings.get(alias, 0)
        if client_scope == scope and ceiling >= 1 and ceiling != client.limiter.ceiling:
            client.limiter.set_ceiling(ceiling)


def scope_figures(scope: str) -> dict[str, dict[str, Any]]:
    """The live figures of the pooled clients of ``scope`` in this process, per alias:
    calls in flight, the limiters' limits and ceilings, cumulative usage counters and the
    cumulative latency histogram (bucket -> calls), summed over the process's loops.

    Example: ``{"writer": {"in_flight": 8, "limit": 8, "ceiling": 8, "requests": 120, ...,
    "latency": {24: 118, 25: 2}}}``.
    """
    found: dict[str, dict[str, Any]] = {}
    with _POOL_LOCK:
        clients = [
            (alias, client)
            for pooled in _POOL.values()
            for (client_scope, alias, _), client in pooled.items()
            if client_scope == scope
        ]
    for alias, client in clients:
        into = found.setdefault(
            alias, {"in_flight": 0, "limit": 0, "ceiling": 0, "usage": ModelUsage(), "latency": []}
        )
        into["in_flight"] += client.limiter.in_flight
        into["limit"] += client.limiter.limit
        into["ceiling"] += client.limiter.ceiling
        into["usage"].merge(client.usage)
        into["latency"].append(dict(client.latency.counts))
    return {
        alias: {
            "in_flight": f["in_flight"],
            "limit": f["limit"],
            "ceiling": f["ceiling"],
            **f["usage"].to_dict(),
            "latency": merge_counts(f["latency"]),
        }
        for alias, f in found.items()
    }
