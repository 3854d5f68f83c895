"""Fixtures: Data Designer 0.9.7 itself, in a virtual environment of its own (a pytest plugin
of conftest).

dagen never imports Data Designer. The DD-compatibility tests have DD's own code write its
config files (``write_config``) and run them against the same loopback mock, in a separate
Python: ``bash scripts/test`` installs it in ``.venv-datadesigner`` and names it in
``DAGEN_DATA_DESIGNER_PYTHON``. There, a missing peer fails the tests; in a plain
``python -m pytest`` without it, they are skipped with the command that installs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = (
    "python -m venv .venv-datadesigner && "
    ".venv-datadesigner/bin/pip install -r tests/datadesigner/requirements.txt"
)


@pytest.fixture(scope="session")
def data_designer_python() -> Path:
    """The Python of the environment where Data Designer 0.9.7 is installed."""
    named = os.environ.get("DAGEN_DATA_DESIGNER_PYTHON")
    if named:
        path = Path(named)
        if not path.is_file():
            pytest.fail(f"DAGEN_DATA_DESIGNER_PYTHON names {path}, which does not exist")
        return path
    path = ROOT / ".venv-datadesigner" / "bin" / "python"
    if not path.is_file():
        pytest.skip(f"Data Designer 0.9.7 is not installed here; to install it: {INSTALL}")
    return path


@pytest.fixture(scope="session")
def run_data_designer(data_designer_python: Path) -> Callable[..., Any]:
    """Run a Python script in Data Designer's environment; return what it prints as JSON.

    The script is dedented; it runs in ``cwd`` and must print one JSON value last.
    """

    def run(script: str, cwd: Path, timeout: float = 240) -> Any:
        done = subprocess.run(
            [str(data_designer_python), "-c", textwrap.dedent(script)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(cwd)},
        )
        if done.returncode != 0:
            raise AssertionError(f"Data Designer's script failed:\n{done.stderr[-4000:]}")
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    return run
