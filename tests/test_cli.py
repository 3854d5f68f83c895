"""The command line as a user meets it: clear errors naming what is at fault, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from dagen.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def dagen_process(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``dagen ARGS`` in a new process, as a user runs it (output captured)."""
    return subprocess.run([sys.executable, "-m", "dagen.cli", *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "config.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


def test_validate_accepts_the_examples(examples):
    for name in ("people.yaml", "reviews.yaml"):
        result = invoke("validate", str(examples / name))
        assert result.exit_code == 0, result.output
        assert "valid" in result.output and "fingerprint" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("columns:\n  - {name: a, column_type: sampler\n", r"invalid YAML at line \d+"),
        ("colums: []\n", "colums: unknown field"),
        ("columns:\n  - {name: a, column_type: sampler, sampler_type: uniform, params: {low: 1, hgh: 2}}\n",
         r"column 'a' \(columns\[0\]\) field params"),
        ("columns:\n  - {name: a, column_type: expression, expr: '{{ b }}'}\n"
         "  - {name: b, column_type: expression, expr: '{{ a }}'}\n", "cycle: a -> b -> a|cycle: b -> a -> b"),
        ("columns:\n  - {name: city, column_type: sampler, sampler_type: category, params: {values: [x]}}\n"
         "  - {name: g, column_type: expression, expr: 'Hi {{ cty }}'}\n",
         "column 'g' references unknown column 'cty' \\(did you mean 'city'\\?\\)"),
        ("columns:\n  - {name: g, column_type: expression, expr: 'Hi {{ x '}\n", "column 'g'.*does not compile"),
        ("columns:\n  - {name: s, column_type: custom, function: 'no_such_module:f'}\n",
         "column 's': cannot import module 'no_such_module'"),
        ("columns:\n  - {name: t, column_type: llm-text, model_alias: nope, prompt: hi}\n",
         "column.*'t'.*model alias.*'nope'"),
        ("columns:\n  - {name: s, column_type: seed_dataset, path: missing.csv, columns: [q]}\n",
         r"column 's': seed dataset .*missing\.csv not found"),
    ],
    ids=["yaml-syntax", "unknown-field", "sampler-param", "cycle", "unknown-reference", "bad-jinja",
         "missing-module", "unknown-model", "missing-seed"],
)  # fmt: skip
def test_bad_configs_exit_2_with_a_message_naming_the_fault(write, text, expected):
    result = invoke("validate", write(text))

    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert re.search(expected, result.output), result.output


def test_invalid_json_names_the_line(write):
    path = write('{"columns": [\n  {"name": "a",,}\n]}', name="config.json")

    result = invoke("validate", path)

    assert result.exit_code == 2 and "invalid JSON at line 2" in result.output


def test_graph_shows_order_strategies_tasks_and_critical_path(examples):
    result = invoke("graph", str(examples / "reviews.yaml"), "-n", "1000", "--row-group-size", "250",
                    "--cells-per-task", "1")  # fmt: skip

    assert result.exit_code == 0
    assert re.search(r"review\s+cell_by_cell\s+1\s+1004\s+customer, product, stars", result.output)
    assert "critical path:" in result.output
    assert "model calls on the critical path: review -> facts" in result.output
    # 4 row groups: the 3 samplers in one task each, 3 llm columns x (250 cells + 1
    # collector), 1 checkpoint
    assert "one task per row group runs: product, customer, stars" in result.output
    assert f"1000 rows in 4 row groups: {4 * (1 + 3 * 251 + 1)} Dask tasks" in result.output


def test_graph_by_default_tiles_each_workers_share_of_a_model_with_small_chunks(examples):
    result = invoke("graph", str(examples / "reviews.yaml"), "-n", "1000", "--row-group-size", "250",
                    "--workers", "2", "--json")  # fmt: skip

    per_task = {c["name"]: c["cells_per_task"] for c in json.loads(result.output)["columns"]}
    # writer: cap 16 over 2 workers = 8 each -> chunks of 4 (two overlap per share);
    # judge: cap 8 -> 4 each -> chunks of 2; samplers are full-column
    assert per_task == {"product": None, "customer": None, "stars": None,
                        "review": 4, "facts": 4, "quality": 2}  # fmt: skip


def test_graph_mermaid_and_json(examples):
    mermaid = invoke("graph", str(examples / "people.yaml"), "--mermaid").output
    assert mermaid.startswith("flowchart LR") and "-->" in mermaid
    info = json.loads(invoke("graph", str(examples / "people.yaml"), "--json").output)
    assert info["columns"][0]["name"] == "person"
    fused = {c["name"]: c["fused_with"] for c in info["columns"]}
    samplers = ["person", "city", "district", "age", "signup", "customer_id", "visits", "greeting"]
    assert fused["person"] == samplers[1:] and fused["greeting"] == samplers[:-1]
    assert fused["score"] == fused["score_rank"] == []  # a cell column, and what reads it


def test_an_unreachable_endpoint_is_named_before_anything_runs(write, tmp_path):
    path = write("""
        models: [{alias: m, model: x, endpoint: "http://127.0.0.1:9/v1"}]
        columns:
          - {name: t, column_type: llm-text, model_alias: m, prompt: hi}
    """)

    result = dagen_process("run", path, "-n", "5", "-o", str(tmp_path / "o"))

    assert result.returncode == 1
    assert "model 'm': endpoint http://127.0.0.1:9/v1 is unreachable" in result.stderr
    assert not (tmp_path / "o" / "data").exists() or not any((tmp_path / "o" / "data").iterdir())


def test_a_missing_api_key_variable_is_named(write, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGEN_NO_SUCH_KEY", raising=False)
    path = write("""
        models: [{alias: m, model: x, endpoint: "http://127.0.0.1:9/v1", api_key_env: DAGEN_NO_SUCH_KEY}]
        columns:
          - {name: t, column_type: llm-text, model_alias: m, prompt: hi}
    """)

    result = dagen_process("run", path, "-n", "5", "-o", str(tmp_path / "o"))

    assert result.returncode == 2, result.stderr  # a config problem, though found by `run`
    assert (
        "error: model 'm': environment variable DAGEN_NO_SUCH_KEY (its API key) is not set"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("{alias: writer, model: x}", r"column\(s\) \['t'\] use model alias\(es\) \['nope'\]"),
        ("{alias: nope, model: x, endpoint: 'localhost:8000/v1'}",
         r".*invalid config\n  model 'nope' \(models\[0\]\) field endpoint: "
         r"endpoint 'localhost:8000/v1' is not an http\(s\) URL"),
    ],
    ids=["unknown-model-alias", "endpoint-not-a-url"],
)  # fmt: skip
def test_config_problems_found_by_run_exit_2(write, tmp_path, model, expected):
    path = write(f"""
        models: [{model}]
        columns:
          - {{name: t, column_type: llm-text, model_alias: nope, prompt: hi}}
    """)

    result = dagen_process("run", path, "-n", "5", "-o", str(tmp_path / "o"))

    assert result.returncode == 2, result.stderr
    assert re.search("error: " + expected, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_resume_with_overwrite_is_a_usage_error(examples, tmp_path):
    result = dagen_process("run", str(examples / "people.yaml"), "-n", "5", "-o",
                           str(tmp_path / "o"), "--resume", "--overwrite")  # fmt: skip

    assert result.returncode == 2, result.stderr
    assert "--resume and --overwrite exclude each other" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_resume_takes_the_outputs_row_group_size_unless_told_another(examples, tmp_path):
    out = str(tmp_path / "o")
    common = ("run", str(examples / "people.yaml"), "-o", out, "--workers", "1",
              "--dashboard-address", "127.0.0.1:0")  # fmt: skip
    first = dagen_process(*common, "-n", "10", "--row-group-size", "4", timeout=120)
    assert first.returncode == 0, first.stderr

    grown = dagen_process(*common, "-n", "14", "--resume", timeout=120)

    assert grown.returncode == 0, grown.stderr
    meta = json.loads((tmp_path / "o" / "metadata.json").read_text())
    assert meta["row_group_size"] == 4 and meta["rows_written"] == 14
    assert [rg["size"] for rg in meta["row_groups"]] == [4, 4, 2, 4]
    other = dagen_process(*common, "-n", "20", "--resume", "--row-group-size", "5", timeout=120)
    assert other.returncode != 0 and "--row-group-size 4, not 5" in other.stderr


def test_a_bad_mock_server_setting_exits_2_naming_it():
    result = dagen_process("mock-llm", "--port", "0", "--error-rate", "1.5")

    assert result.returncode == 2, result.stderr
    assert "error: " in result.stderr and "error_rate=1.5" in result.stderr
    assert "Traceback" not in result.stderr


def test_preview_prints_rows_of_the_llm_example_offline(examples):
    result = dagen_process(
        "preview", str(examples / "reviews.yaml"), "-n", "3", "--json", timeout=120
    )

    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert {"product", "review", "facts", "quality"} <= set(rows[0])
    assert rows[0]["quality"]["realism"]["score"] in (1, 2, 3)


def test_run_without_a_terminal_prints_progress_lines_the_dashboard_link_and_a_summary(
    examples, tmp_path
):
    result = dagen_process("run", str(examples / "reviews.yaml"), "-n", "200", "-o",
                           str(tmp_path / "o"), "--row-group-size", "100", timeout=180)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Dask dashboard: http://127.0.0.1:" in result.stderr and "/dagen" in result.stderr
    assert re.search(r"100\.0% cells 1200/1200, rows written 200/200", result.stderr)
    assert "rows/s" in result.stderr and "writer" in result.stderr  # rates, models
    assert "wrote 200 of 200 rows" in result.stdout


def test_quiet_prints_nothing_but_verbose_adds_each_models_figures(examples, tmp_path):
    quiet = dagen_process("run", str(examples / "people.yaml"), "-n", "50", "-o",
                          str(tmp_path / "q"), "-q", timeout=180)  # fmt: skip
    verbose = dagen_process("-v", "run", str(examples / "reviews.yaml"), "-n", "50", "-o",
                            str(tmp_path / "v"), timeout=180)  # fmt: skip

    assert quiet.returncode == 0 and verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert quiet.stdout == "" and "cells" not in quiet.stderr and "dashboard" not in quiet.stderr
    assert re.search(r"writer: 0/16 calls in flight .*, 100 requests, 0 x 429", verbose.stderr)
    assert "100.0% cells" in verbose.stderr and "wrote 50 of 50 rows" in verbose.stdout


def test_quiet_and_verbose_exclude_each_other(examples, tmp_path):
    result = dagen_process("run", str(examples / "people.yaml"), "-n", "5", "-o",
                           str(tmp_path / "o"), "-q", "-v")  # fmt: skip

    assert result.returncode == 2 and "exclude each other" in result.stderr


PRICED = """
    models:
      - {alias: writer, model: mock-writer, max_parallel_requests: 4,
         pricing: {input_per_million: 100000, output_per_million: 100000}}
    columns:
      - {name: city, column_type: sampler, sampler_type: category, params: {values: [Oslo, Lima]}}
      - {name: t, column_type: llm-text, model_alias: writer, prompt: "A line on {{ city }}."}
"""


def test_max_cost_stops_the_run_with_exit_4_and_says_how_to_carry_on(write, tmp_path):
    path, out = write(PRICED), tmp_path / "o"
    args = ("run", path, "-n", "40", "-o", str(out), "--row-group-size", "10", "--workers", "1")

    stopped = dagen_process(*args, "--max-cost", "60", timeout=120)

    assert stopped.returncode == 4, stopped.stderr
    assert "error: stopped before the spend would pass --max-cost $60.0000" in stopped.stderr
    assert "--resume --max-cost <higher>" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped" and meta["cost"]["cap"] == 60.0
    assert 0 < meta["rows_written"] < 40 and meta["cost"]["spent"] <= 60.0

    finished = dagen_process(*args, "--resume", "--max-cost", "1000", timeout=120)

    assert finished.returncode == 0, finished.stderr
    assert "cost $" in finished.stdout and "writer $" in finished.stdout
    assert json.loads((out / "metadata.json").read_text())["rows_written"] == 40


def test_max_cost_with_a_model_without_pricing_exits_2_naming_it(write, tmp_path):
    path = write(PRICED.replace(
        "pricing: {input_per_million: 100000, output_per_million: 100000}", "timeout: 30"
    ))  # fmt: skip

    result = dagen_process("run", path, "-n", "5", "-o", str(tmp_path / "o"), "--max-cost", "1")

    assert result.returncode == 2, result.stderr
    assert "model 'writer' has no pricing" in result.stderr
    assert not (tmp_path / "o").exists()


FILTERED_CONFIG = """\
seed: 4
columns:
  - {name: x, column_type: sampler, sampler_type: uniform, params: {low: 0, high: 1}}
processors:
  - {processor_type: filter, name: low_x, keep_when: "%s"}
"""


@pytest.mark.parametrize(
    ("keep_when", "expected"),
    [("{{ x < 0.3 }}", None),
     ("{{ y < 0.3 }}", r"processors\[0\] \(filter\) 'low_x' field keep_when: reads unknown column\(s\) \['y'\]"),
     ("{{ x < }}", r"processors.*keep_when does not compile")],
    ids=["valid", "unknown-column", "syntax"],
)  # fmt: skip
def test_validate_checks_a_filter_naming_the_processor(write, keep_when, expected):
    result = invoke("validate", write(FILTERED_CONFIG % keep_when))

    if expected is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2 and re.search(expected, result.output), result.output


def test_run_exact_writes_exactly_n_rows_after_the_filter(write, tmp_path):
    out = tmp_path / "o"
    result = dagen_process("run", write(FILTERED_CONFIG % "{{ x < 0.3 }}"), "-n", "150", "-o",
                           str(out), "--row-group-size", "100", "--exact", "--workers", "1",
                           "--dashboard-address", "127.0.0.1:0", timeout=180)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert re.search(r"wrote 150 of 150 rows \(\d+ dropped\)", result.stdout)
    assert "dropped" in result.stdout and "'low_x', filtered" in result.stdout
    assert re.search(r"100\.0% .*rows written 150/150", result.stderr)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["exact"] is True and meta["rows_written"] == 150
