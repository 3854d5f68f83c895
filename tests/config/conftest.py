"""Fixtures for config tests: a project folder holding a config and its function modules.

``project`` is a fresh folder; ``write`` puts a file in it. Modules imported from the
folder (custom functions found next to a config) are forgotten after the test, and
``sys.path`` is restored, so tests may reuse module names.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", list(sys.path))
    importlib.invalidate_caches()
    yield folder
    roots = (str(tmp_path), str(tmp_path.resolve()))
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(roots):
            del sys.modules[name]


@pytest.fixture
def write(project: Path) -> Callable[[str, str], Path]:
    """``write(name, text)``: a file in the project folder (text dedented)."""

    def _write(name: str, text: str) -> Path:
        path = project / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write
