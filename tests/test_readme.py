"""The README's Python examples run as scripts, exactly as written.

Each ```python block is written to a file and run by a fresh interpreter in a folder
holding the repository's ``examples/``: the scripts start dagen's own LocalCluster (worker
processes that import the script again), so a missing ``if __name__ == "__main__":`` guard
or a stale name fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)

pytestmark = pytest.mark.cluster


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_a_readme_python_example_runs_as_a_script(number, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = tmp_path / f"readme_example_{number}.py"
    script.write_text(BLOCKS[number])

    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    assert "GenerationResult complete" in done.stdout
