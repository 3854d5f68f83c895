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

A Data Designer file names only the function (``generator_function: create_greeting``);
``qualify_function`` finds such a name in the modules the user says hold them
(``dagen run --functions mypkg.columns``, ``load_config(..., functions=[...])``) and
writes it ``module:function``. A function decorated with Data Designer's
``@custom_column_generator`` carries ``custom_column_metadata`` (required, side-effect
columns, model aliases); ``function_metadata`` reads it, and a column that leaves those
fields unset takes them from there.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import cloudpickle

from dagen.errors import ImportFunctionError

__all__ = [
    "METADATA_FIELDS",
    "custom_column_generator",
    "function_metadata",
    "infer_required_columns",
    "prepare_custom_columns",
    "qualify_function",
    "resolve_function",
    "with_function_metadata",
]

F = TypeVar("F", bound=Callable[..., Any])

# Data Designer's decorator metadata key -> the custom column's field
METADATA_FIELDS = ("required_columns", "side_effect_columns", "model_aliases")


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
            f"column {column!r}: function {spec!r} must be written 'module:function' (or name "
            "the modules holding bare names: load_config(..., functions=[...]), --functions)"
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


def qualify_function(
    name: str, *, column: str, modules: Iterable[str], search_path: Iterable[str | Path] = ()
) -> str:
    """``name`` written ``module:name``, for the first of ``modules`` that defines it.

    Args:
        name: a bare function name (``create_greeting``); a ``module:attr`` is returned as is.
        column: the column that uses the function, for error messages.
        modules: the modules to look in, in order (``mypkg.columns``).
        search_path: extra folders to import them from (the config's folder).

    Raises:
        ImportFunctionError: no module is given, one does not import, or none defines it.
    """
    if ":" in name:
        return name
    modules = list(modules)
    if not modules:
        raise ImportFunctionError(
            f"column {column!r}: function {name!r} names no module; say where it lives "
            f"(dagen run --functions mypkg.columns, load_config(..., functions=['mypkg.columns'])) "
            f"or write it module:function (mypkg.columns:{name})"
        )
    for module_name in modules:
        module = _import(module_name, column, search_path)
        if callable(getattr(module, name, None)):
            if _is_local(module, search_path):
                cloudpickle.register_pickle_by_value(module)
            return f"{module_name}:{name}"
    raise ImportFunctionError(
        f"column {column!r}: no function {name!r} in the functions module(s) {modules}"
    )


def _import(module_name: str, column: str, search_path: Iterable[str | Path]) -> Any:
    for folder in search_path:
        folder = str(Path(folder).resolve())
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportFunctionError(
            f"column {column!r}: cannot import functions module {module_name!r}: {exc}"
        ) from exc


def custom_column_generator(
    required_columns: list[str] | None = None,
    side_effect_columns: list[str] | None = None,
    model_aliases: list[str] | None = None,
) -> Callable[[F], F]:
    """Data Designer's decorator, for functions written for both: it stores the same
    ``custom_column_metadata`` on the function (returned unwrapped).

    >>> @custom_column_generator(required_columns=["name"])
    ... def greet(row):
    ...     row["greeting"] = "Hi " + row["name"]
    ...     return row
    >>> function_metadata(greet)
    {'required_columns': ['name']}
    """

    def decorate(function: F) -> F:
        function.custom_column_metadata = {  # type: ignore[attr-defined]
            "required_columns": list(required_columns or []),
            "side_effect_columns": list(side_effect_columns or []),
            "model_aliases": list(model_aliases or []),
        }
        return function

    return decorate


def function_metadata(function: Any) -> dict[str, list[str]]:
    """What Data Designer's ``@custom_column_generator`` stored on ``function``: the
    non-empty ones of ``required_columns``, ``side_effect_columns``, ``model_aliases``
    (an empty list is the decorator's default, "not said")."""
    metadata = getattr(function, "custom_column_metadata", None)
    if not isinstance(metadata, dict):
        return {}
    return {key: list(metadata[key]) for key in METADATA_FIELDS if metadata.get(key)}


def prepare_custom_columns(
    columns: Any, *, functions: Iterable[str] = (), search_path: Iterable[str | Path] = ()
) -> Any:
    """A config's column list with each custom column's bare function name qualified
    (``qualify_function``) and its decorator metadata filled in (``with_function_metadata``).

    A function that does not import is left as it is: building the generators names it.

    Raises:
        ImportFunctionError: a bare name that no functions module defines.
    """
    if not isinstance(columns, list):
        return columns
    modules, folders = list(functions), list(search_path)
    out = []
    for column in columns:
        if not isinstance(column, Mapping):  # validation names what is wrong with it
            out.append(column)
            continue
        spec = column.get("function")
        if column.get("column_type") != "custom" or not isinstance(spec, str):
            out.append(column)
            continue
        name = str(column.get("name"))
        spec = qualify_function(spec, column=name, modules=modules, search_path=folders)
        try:
            function = resolve_function(spec, column=name, search_path=folders)
        except ImportFunctionError:
            function = None
        out.append(with_function_metadata({**column, "function": spec}, function))
    return out


def with_function_metadata(column: Any, function: Any = None) -> Any:
    """A custom column's data with the fields it leaves unset taken from its function's
    decorator metadata (``function`` defaults to the column's own, when a callable)."""
    if not isinstance(column, Mapping):
        return column
    found = function_metadata(function or column.get("function"))
    unset = {key: value for key, value in found.items() if column.get(key) is None}
    return {**column, **unset} if unset else column


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
