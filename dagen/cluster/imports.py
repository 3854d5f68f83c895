"""Can the workers run this config? Checked once, before a run installs itself on them.

A run's tasks need dagen on every worker (the same version as the client's: the tasks
and the run plugin are dagen's own classes, pickled by reference) and every module whose
functions the config's custom columns call by reference (an installed package, a module
on ``sys.path``). Functions from modules next to the config, from ``__main__`` or defined
inside another function travel by value with the tasks and need nothing. Without this
check a worker that lacks them fails every cell it gets with an unpickling error; with
it the run stops in seconds with a ``ClusterError`` that names each worker, what it
lacks and what to install.

The check runs ``dagen.cluster.probe.probe`` on the workers present when the run starts
(one ``client.run`` round trip), and on each worker that joins later when the run next
looks at its workers (``RunSession.workers``). The same round trip asks which of the
models' key variables each worker lacks (``dagen.cluster.keys``).

Example:
    >>> check_workers(client, user_modules(context.generators))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import logging
import types
from collections.abc import Iterable, Mapping
from typing import Any

import cloudpickle
from distributed import Client

from dagen.cluster import probe
from dagen.errors import ClusterError

__all__ = ["check_workers", "user_modules"]

log = logging.getLogger("dagen")

cloudpickle.register_pickle_by_value(probe)  # runs where dagen cannot be imported


def user_modules(generators: Mapping[str, Any]) -> dict[str, str]:
    """The modules workers must import for the generators' functions, and ``mcp`` for
    columns that call MCP tools: module -> the first column that needs it (functions
    pickled by value need none)."""
    should_pickle_by_reference = getattr(
        cloudpickle.cloudpickle, "_should_pickle_by_reference", None
    )
    found: dict[str, str] = {}
    for column, generator in generators.items():
        if getattr(generator, "tool_loop", None) is not None:
            found.setdefault("mcp", column)
        function = getattr(generator, "function", None)
        if function is not None and not isinstance(function, types.FunctionType | type):
            function = type(function)  # a callable instance: its class is what is imported
        module = getattr(function, "__module__", None)
        if not module or module == "__main__" or module.split(".")[0] == "dagen":
            continue
        if module in cloudpickle.list_registry_pickle_by_value():
            continue
        if should_pickle_by_reference is not None and not should_pickle_by_reference(function):
            continue
        found.setdefault(module, column)
    return found


def check_workers(
    client: Client,
    modules: Mapping[str, str],
    workers: list[str] | None = None,
    variables: Iterable[str] = (),
) -> dict[str, frozenset[str]]:
    """Raise unless every worker present (or each of ``workers``) has this dagen and
    imports ``modules``; the workers checked, each with the ``variables`` it lacks.

    Args:
        client: the run's client.
        modules: module -> a column whose function needs it (``user_modules``).
        workers: the addresses to check (None: every worker present).
        variables: environment variables to ask about (the models' ``api_key_env``).

    Raises:
        ClusterError: naming each worker that cannot run the config and what it lacks.
    """
    version = importlib.metadata.version("dagen")
    names = sorted(set(variables))
    try:
        answers = client.run(probe.probe, list(modules), names, workers=workers, on_error="return")
    except Exception as exc:  # a cluster going away: the run's own checks say so next
        log.debug("the workers' imports were not checked: %s", exc)
        return {}
    problems = [
        line for worker, answer in sorted(answers.items())
        for line in _problems(worker, answer, version, modules)
    ]  # fmt: skip
    if problems:
        raise ClusterError(
            f"{len({p.split(' ', 1)[0] for p in problems})} of {len(answers)} Dask workers "
            "cannot run this config:\n  " + "\n  ".join(problems)
        )
    return {
        worker: frozenset(n for n, has in answer.get("variables", {}).items() if not has)
        for worker, answer in answers.items()
    }


def _problems(worker: str, answer: Any, version: str, modules: Mapping[str, str]) -> Iterable[str]:
    """What one worker lacks, as lines that say what to install."""
    if isinstance(answer, BaseException) or not isinstance(answer, dict):
        yield f"{worker} cannot run dagen's check of its imports ({answer!r})"
        return
    if answer["dagen_error"] is not None:
        yield (
            f"{worker} cannot import dagen ({answer['dagen_error']}): install "
            f"dagen=={version} in the workers' environment"
        )
    elif answer["dagen"] != version:
        yield (
            f"{worker} has dagen {answer['dagen']}, this client {version}: install "
            f"dagen=={version} in the workers' environment"
        )
    for module, error in answer["modules"].items():
        if error is not None:
            yield (
                f"{worker} cannot import {module!r}, which the function of column "
                f"{modules.get(module, '?')!r} comes from ({error}): install it on the "
                "workers (or put its folder on their PYTHONPATH), or keep the module "
                "next to the config file so that it travels with the tasks"
            )
