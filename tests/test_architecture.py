"""The layout is the architecture: import contracts and the curated public API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagen

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken" in proc.stdout


def test_public_api_is_a_short_sorted_list():
    assert dagen.__all__ == sorted(dagen.__all__)
    for name in dagen.__all__:
        assert getattr(dagen, name) is not None
    public = {n for n in dir(dagen) if not n.startswith("_")}
    # subpackages are importable but the API is what __all__ says
    assert public - set(dagen.__all__) <= {
        "cli", "cluster", "config", "console", "dashboard", "errors", "generators", "graph",
        "inference", "lowering", "mock", "report", "runner", "sinks", "tracking", "warnings",
    }  # fmt: skip


def test_every_module_declares_all_and_starts_with_a_docstring():
    import ast

    for path in (ROOT / "dagen").rglob("*.py"):
        tree = ast.parse(path.read_text())
        if path.name == "__init__.py" and not tree.body:
            continue
        assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
        names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name)}  # fmt: skip
        if path.name not in ("__init__.py", "cli.py") or names:
            assert "__all__" in names or path.name == "__init__.py", (
                f"{path.relative_to(ROOT)} has no __all__"
            )


MAX_MODULE_LINES = 500


def test_no_module_is_over_the_size_budget():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in (ROOT / "dagen").rglob("*.py")
    }
    over = {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_complexity_is_checked_by_ruff():
    import tomllib

    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "C90" in ruff["select"]
    assert ruff["mccabe"]["max-complexity"] <= 15


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def test_ruff_finds_nothing():
    proc = subprocess.run(
        [_tool("ruff"), "check", "dagen", "tests"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_accepts_the_package():
    proc = subprocess.run(
        [_tool("mypy"), "dagen"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_whole_error_tree_is_exported_from_dagen():
    import inspect

    import dagen.errors

    defined = {
        name
        for name, value in vars(dagen.errors).items()
        if inspect.isclass(value) and issubclass(value, dagen.errors.DagenError)
    }
    assert set(dagen.errors.__all__) == defined  # no error class is left out of __all__
    for name in dagen.errors.__all__:
        cls = getattr(dagen.errors, name)
        assert issubclass(cls, dagen.DagenError)
        assert name in dagen.__all__ and getattr(dagen, name) is cls, f"dagen.{name} missing"
    assert dagen.DagenWarning is dagen.warnings.DagenWarning
    assert dagen.ColumnConfig is dagen.config.columns.ColumnConfig


def _drawn_tree(docstring: str) -> dict[str, str | None]:
    """The tree drawn in a docstring as ``class -> parent`` (None for the root), read from
    the column at which each name starts under ``├──``/``└──``."""
    import re

    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name), root first
    for line in docstring.splitlines():
        found = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z]\w*Error)\b", line)
        if not found or not ("──" in line or line.strip().startswith("DagenError")):
            continue
        name = found.group(2)
        column = line.index(name)
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


def test_the_error_tree_in_the_docstring_is_the_class_tree():
    import dagen.errors

    drawn = _drawn_tree(dagen.errors.__doc__ or "")

    assert set(drawn) == set(dagen.errors.__all__)
    for name, parent in drawn.items():
        bases = [b.__name__ for b in getattr(dagen.errors, name).__bases__]
        assert bases == ([parent] if parent else ["Exception"]), f"{name} is drawn under {parent}"
