"""The example notebook, executed top to bottom by a real Jupyter kernel (nbclient +
ipykernel) in a copy of ``examples/``: preview, a run on a LocalCluster with a callback,
streaming with top-level ``await``, and the result's html view."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.cluster


def test_the_pipelines_notebook_runs_in_a_jupyter_kernel(tmp_path):
    folder = shutil.copytree(ROOT / "examples", tmp_path / "examples")
    notebook = nbformat.read(folder / "pipelines.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))

    NotebookClient(notebook, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()  # fmt: skip

    outputs = [cell.get("outputs", []) for cell in notebook.cells]
    assert outputs[0][0]["text"].strip() == sys.executable  # this environment's kernel
    callback_cell = "".join(o.get("text", "") for o in outputs[6])
    assert callback_cell.count("row group ") == 6
    assert "part-000005.parquet" in callback_cell
    assert outputs[6][-1]["data"]["text/plain"] == "[0, 1, 2, 3, 4, 5]"
    assert outputs[8][-1]["data"]["text/plain"] == "2000"
    errors = [o.get("text", "") for out in outputs for o in out if o.get("name") == "stderr"]
    assert not any("DagenWarning" in text for text in errors)  # a kernel's loop: no warning
    shown = outputs[-1][-1]["data"]
    assert shown["text/plain"].startswith("<GenerationResult complete: 3,000 rows written")
    assert "<table>" in shown["text/html"] and "3,000" in shown["text/html"]
    assert sorted(p.name for p in (folder / "out" / "notebook-people" / "data").iterdir()) == [
        f"part-{i:06d}.parquet" for i in range(6)
    ]
