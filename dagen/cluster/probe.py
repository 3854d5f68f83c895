"""What a worker can import, and which of the models' key variables it has, asked before
a run starts (``dagen.cluster.imports``): whether each variable is set, never its value.

This module is pickled by value (``cloudpickle.register_pickle_by_value``), so a worker
runs ``probe`` even when it cannot import dagen itself; it uses the standard library only.

Example:
    >>> probe(["json"])["modules"]
    {'json': None}
    >>> probe([], ["DAGEN_NO_SUCH_VARIABLE"])["variables"]
    {'DAGEN_NO_SUCH_VARIABLE': False}
"""

from __future__ import annotations

from typing import Any

__all__ = ["probe"]


def probe(modules: list[str], variables: list[str] | None = None) -> dict[str, Any]:
    """This process's dagen version (or why it has none); for each module, None if it
    imports, else the error; for each variable, whether it is set (and not empty)."""
    import importlib
    import importlib.metadata
    import os

    found: dict[str, Any] = {"dagen": None, "dagen_error": None, "modules": {}}
    found["variables"] = {name: bool(os.environ.get(name)) for name in variables or ()}
    try:
        importlib.import_module("dagen")
        found["dagen"] = importlib.metadata.version("dagen")
    except Exception as exc:  # a missing, broken or unregistered dagen
        found["dagen_error"] = f"{type(exc).__name__}: {exc}"
    for name in modules:
        try:
            importlib.import_module(name)
            found["modules"][name] = None
        except BaseException as exc:  # a module that fails on import in any way
            found["modules"][name] = f"{type(exc).__name__}: {exc}"
    return found
