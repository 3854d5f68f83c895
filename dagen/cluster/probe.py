"""What a worker can import, asked before a run starts (``dagen.cluster.imports``).

This module is pickled by value (``cloudpickle.register_pickle_by_value``), so a worker
runs ``probe`` even when it cannot import dagen itself; it uses the standard library only.

Example:
    >>> probe(["json"])["modules"]
    {'json': None}
"""

from __future__ import annotations

from typing import Any

__all__ = ["probe"]


def probe(modules: list[str]) -> dict[str, Any]:
    """This process's dagen version (or why it has none) and, for each module, None if it
    imports, else the error."""
    import importlib
    import importlib.metadata

    found: dict[str, Any] = {"dagen": None, "dagen_error": None, "modules": {}}
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
