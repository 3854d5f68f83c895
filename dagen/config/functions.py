"""Custom functions: import ``"module:attr"`` and infer which columns a function reads.

A custom column names its function as ``"package.module:function"``. The module is found
on ``sys.path`` and, failing that, next to the config file, so that a config and its
functions can live side by side. Functions from modules next to the config (not installed
packages) are marked to be pickled by value, so workers of a remote cluster receive the
code with the task graph instead of needing the module installed.

When a column does not declare ``required_columns``, the function's source is read for
string subscripts of its first argument (``row["age"]``, ``df["age"]``, ``row.get("age")``);
those that name earlier columns are the required columns. A function whose source cannot
be read depends on every earlier column.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cloudpickle

from dagen.errors import ImportFunctionError

__all__ = ["infer_required_columns", "resolve_function"]


def resolve_function(
    spec: str | Callable[..., Any], *, column: str, search_path: Iterable[str | Path] = ()
) -> Callable[..., Any]:
    """The callable that ``spec`` names.

    Args:
        spec: ``"module:attr"`` (attr may be dotted) or a callable, returned as is.
        column: the column that uses the function, for error messages.
        search_path: extra folders to import the module from (the config's folder).

    Raises:
        ImportFunctionError: the module or attribute is missing or not callable.
    """
    if callable(spec):
        return spec
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ImportFunctionError(
            f"column {column!r}: function {spec!r} must be written 'module:function'"
        )
    for folder in search_path:
        folder = str(Path(folder).resolve())
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportFunctionError(
            f"column {column!r}: cannot import module {module_name!r} for function {spec!r}: {exc}"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise ImportFunctionError(
                f"column {column!r}: module {module_name!r} has no attribute {attr!r}"
            ) from exc
    if not callable(target):
        raise ImportFunctionError(f"column {column!r}: {spec!r} is not callable")
    if _is_local(module, search_path):
        cloudpickle.register_pickle_by_value(module)
    return target


def _is_local(module: Any, search_path: Iterable[str | Path]) -> bool:
    path = getattr(module, "__file__", None)
    if not path:
        return False
    resolved = Path(path).resolve()
    return any(Path(folder).resolve() in resolved.parents for folder in search_path)


def infer_required_columns(function: Callable[..., Any], earlier: list[str]) -> frozenset[str]:
    """The columns that ``function`` reads from its first argument.

    Args:
        function: the user's function.
        earlier: the columns declared before the custom column: the answer when the
            source cannot be read or reads no column by a literal name.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return frozenset(earlier)
    func = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
        None,
    )
    if func is None or not func.args.args:
        return frozenset(earlier)
    arg = func.args.args[0].arg
    found: set[str] = set()
    for node in ast.walk(func):
        key = None
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_name(node.value, arg)
        ):
            key = node.slice  # row["a"] is a read; df["new"] = ... is not
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _is_name(node.func.value, arg)
            and node.args
            # row.get("a", default) tolerates a missing column: a read only if "a" exists
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in earlier
        ):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.add(key.value)
        elif isinstance(key, ast.List | ast.Tuple):  # df[["a", "b"]]
            found.update(
                e.value
                for e in key.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return frozenset(found) if found else frozenset(earlier)


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
