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
        "cli", "cluster", "config", "errors", "generators", "graph", "inference", "lowering", "mock", "runner",
        "sinks", "tracking", "warnings",
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
