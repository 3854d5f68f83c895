"""Plugins: a package's ``dagen.plugins`` entry point adds column types, seed readers and
processors, and a config naming them works with no import by hand (CLI and ``load_config``).

The example plugin (examples/plugins/dagen-example-plugin) is installed by
``bash scripts/test``, which then requires it; elsewhere these tests skip, naming the
command that installs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dagen.config.plugins import load_plugins

INSTALL = "pip install -e examples/plugins/dagen-example-plugin"

CONFIG = """
    seed: 5
    columns:
      - name: title
        column_type: seed_dataset
        path: titles.tsv
        columns: [title]
      - name: handle
        column_type: slug
        source: title
    processors:
      - processor_type: dedupe
        columns: [handle]
"""


@pytest.fixture
def example_plugin():
    if importlib.util.find_spec("dagen_example_plugin") is None:
        if os.environ.get("DAGEN_REQUIRE_EXAMPLE_PLUGIN"):
            pytest.fail(f"the example plugin is not installed; scripts/test runs: {INSTALL}")
        pytest.skip(f"the example plugin is not installed; to install it: {INSTALL}")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "titles.tsv").write_text("title\tyear\nThe Long Night\t1999\nA Quiet Day!\t2004\n")
    (tmp_path / "titles.yaml").write_text(textwrap.dedent(CONFIG))
    return tmp_path


def fresh_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """A new interpreter, so that nothing was imported or registered by hand."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={**os.environ, **env},
    )  # fmt: skip


def test_load_config_knows_an_installed_plugins_column_type_with_no_import(example_plugin, project):
    done = fresh_python(
        """
        import dagen
        config = dagen.load_config("titles.yaml")
        print(type(config.column("handle")).__module__, sorted(config.column("handle").required_columns([])))
        """,
        project,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["dagen_example_plugin", "['title']"]


def test_dagen_run_generates_a_plugins_column_from_a_plugins_seed_reader_and_processes_it(
    example_plugin, project
):
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "-q", "run", "titles.yaml", "-n", "4", "-o", "out",
         "--workers", "1", "--dashboard-address", "127.0.0.1:0"],
        cwd=project, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = pq.read_table(project / "out" / "data").to_pandas()
    # the seed's two titles, read twice, slugified; the plugin's dedupe drops the repeats
    assert rows[["title", "handle"]].values.tolist() == [
        ["The Long Night", "the-long-night"],
        ["A Quiet Day!", "a-quiet-day"],
    ]
    metadata = json.loads((project / "out" / "metadata.json").read_text())
    assert metadata["drop_summary"] == [{"column": "handle", "error_type": "duplicate", "rows": 2}]


def test_a_plugins_processor_that_refuses_its_config_names_the_processor(example_plugin, project):
    (project / "titles.yaml").write_text(
        textwrap.dedent(CONFIG).replace("columns: [handle]", "columns: [handel]")
    )
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "validate", "titles.yaml"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "processors[0] (dedupe): field columns: no column(s) ['handel']" in done.stderr


def test_plugins_load_once_per_process(example_plugin):
    assert load_plugins() == {"example": "dagen-example-plugin 0.1.0"}
    assert load_plugins() == {"example": "dagen-example-plugin 0.1.0"}


def broken_distribution(folder: Path) -> Path:
    """An installed distribution whose plugin raises when dagen registers it."""
    info = folder / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[dagen.plugins]\nbroken = broken_plugin:register\n")
    (folder / "broken_plugin.py").write_text(
        "def register():\n    raise RuntimeError('the notes table is missing')\n"
    )
    return folder


def test_a_plugin_that_fails_is_a_config_error_naming_it_and_its_package(project):
    site = broken_distribution(project / "site")
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "validate", "titles.yaml"],
        cwd=project, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        "plugin 'broken' (broken_plugin:register, from broken-plugin 0.1) cannot be loaded: "
        "the notes table is missing"
    ) in done.stderr
    loaded = fresh_python(
        "import dagen\ndagen.load_config('titles.yaml')", project, PYTHONPATH=str(site)
    )
    assert "plugin 'broken'" in loaded.stderr and "ImportFunctionError" in loaded.stderr


def test_a_column_type_no_plugin_provides_lists_the_known_ones(project):
    (project / "titles.yaml").write_text(
        "columns:\n  - {name: handle, column_type: slugify, source: title}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "validate", "titles.yaml"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown column_type 'slugify'" in done.stderr
