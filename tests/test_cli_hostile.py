"""The command line against hostile input, as a user meets it: one clear ``error:`` line
naming what is at fault, the documented exit code, never a traceback (unless ``--debug``),
and Ctrl-C obeyed at once. Every case runs ``dagen`` in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

FOREVER = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
CITY = "  - {name: city, column_type: sampler, sampler_type: category, params: {values: [Oslo, Lima]}}\n"
QUIET = ("--dashboard-address", "127.0.0.1:0")  # no "port in use" warning from Dask


def dagen(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagen.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The one ``error:`` line of stderr (log lines may come before it), checked clean."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "Unclosed" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    return errors[0]


@pytest.fixture
def config(tmp_path):
    def write(columns: str, head: str = "seed: 1\n", name: str = "config.yaml") -> str:
        path = tmp_path / name
        path.write_text(head + "columns:\n" + textwrap.dedent(columns))
        return str(path)

    return write


# -- config files ------------------------------------------------------------------------


def test_a_config_that_is_not_utf8_exits_2_naming_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(("columns:\n" + CITY.replace("Lima", "Bogotá")).encode("latin-1"))

    result = dagen("validate", str(path))

    assert result.returncode == 2
    assert "latin1.yaml: not UTF-8 text" in one_error_line(result)
    assert len(result.stderr.splitlines()) == 1


def test_a_yaml_alias_bomb_exits_2_at_once(tmp_path):
    lines = ["columns:", "  - name: a", "    column_type: sampler", "    sampler_type: category",
             "    params:", "      values:", '        - &l0 ["x","x","x","x","x","x","x","x","x"]']  # fmt: skip
    lines += [f"        - &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")

    result = dagen("validate", str(path), timeout=60)

    assert result.returncode == 2
    assert "expands to more than 1,000,000 values" in one_error_line(result)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [{alias: default, model: m, endpoint: 'http://h:abc/v1'}]\ncolumns:\n"
         "  - {name: t, column_type: llm-text, prompt: hi}\n",
         "model 'default' (models[0]) field endpoint: endpoint 'http://h:abc/v1' is not a URL"),
        ("models: [{alias: default, model: m}]\ncolumns:\n"
         "  - {name: s, column_type: llm-structured, prompt: hi, output_format: {type: objekt}}\n",
         "column 's' (columns[0]) field output_format: not a valid JSON schema"),
        ("models: [{alias: default, model: a}, {alias: default, model: b}]\ncolumns:\n"
         "  - {name: t, column_type: llm-text, prompt: hi}\n",
         "alias 'default' is used by more than one model"),
        ("models: [{alias: default, model: m}]\ncolumns:\n"
         "  - {name: j, column_type: llm-judge, prompt: hi, scores: [{name: q, description: a, "
         "options: {1: x}}, {name: q, description: b, options: {2: y}}]}\n",
         "column 'j' (columns[0]) field scores: score names must be unique"),
        ("columns:\n" + CITY.replace("}}", "}, convert_to: int}"),
         "column 'city' (columns[0]): convert_to 'int' cannot apply"),
        ("columns:\n" + CITY + "  - {name: area, column_type: sampler, sampler_type: subcategory, "
         "params: {category: city, values: {Oslo: [Frogner]}}}\n",
         "column 'area' (columns[1]): params.values has no (non-empty) list for 'Lima'"),
        ("columns:\n" + CITY + "processors: [{processor_type: drop_columns, columns: [nope]}]\n",
         "processors[0] (drop_columns) field columns: column 'nope' matches no column"),
    ],
    ids=["endpoint-port", "json-schema", "duplicate-alias", "duplicate-score", "convert-to",
         "subcategory-unmapped", "processor-column"],
)  # fmt: skip
def test_validate_refuses_what_a_run_would_refuse_or_waste_money_on(tmp_path, text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(text)

    result = dagen("validate", str(path))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr, result.stderr


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [("localhost", "missing port number"), ("tcp://127.0.0.1:99999", "port 99999 out of range"),
     ("tcp://:8786", "no host"), ("foo://x:1", "unknown address scheme 'foo'")],
)  # fmt: skip
def test_a_scheduler_address_that_cannot_work_exits_1_naming_it(config, tmp_path, address, why):
    result = dagen(
        "run", config(CITY), "-n", "5", "-o", str(tmp_path / "o"), "--scheduler", address
    )

    assert result.returncode == 1
    line = one_error_line(result)
    assert (
        f"scheduler address {address!r} is not usable ({why}" in line and "tcp://host:port" in line
    )


# -- runs that write nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "reason"),
    [("hostile_functions:raises", "RuntimeError: the user's function failed"),
     ("hostile_functions:exits", "SystemExit: 3")],
    ids=["raises", "sys-exit"],
)  # fmt: skip
def test_a_run_whose_every_row_fails_in_user_code_exits_3_naming_the_reason(
    config, tmp_path, function, reason
):
    path = config(
        CITY
        + f"  - {{name: x, column_type: custom, function: '{function}', required_columns: [city]}}\n"
    )

    result = dagen("run", path, "-n", "20", "-o", str(tmp_path / "o"), *QUIET)

    assert result.returncode == 3, result.stderr
    line = one_error_line(result)
    assert line.startswith("error: no row was written: every row was dropped")
    assert f"20 rows: column 'x', {reason}" in line
    assert "Compute Failed" not in result.stderr


def test_preview_says_why_rows_were_dropped_and_exits_3_when_none_is_left(config):
    path = config(CITY + "  - {name: n, column_type: expression, expr: '{{ city }}', dtype: int}\n")

    result = dagen("preview", path, "-n", "4")

    assert result.returncode == 3
    assert (
        "dropped 4 rows: column 'n', ValueError: could not convert string to float" in result.stderr
    )
    assert "no row was generated" in one_error_line(result)


def test_a_template_past_its_size_limit_drops_its_rows_naming_the_limit(config):
    path = config(
        CITY + "  - {name: big, column_type: expression, expr: \"{{ 'x' * 300000000 }}\"}\n"
    )

    result = dagen("preview", path, "-n", "2")

    assert result.returncode == 3
    assert "TemplateLimitError: column 'big': expression went past a limit" in result.stderr
    assert "max_value_bytes" in result.stderr


def test_debug_shows_the_traceback_that_is_otherwise_hidden(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"columns: [caf\xe9]\n")

    for result in (dagen("--debug", "validate", str(path)),
                   dagen("validate", str(path), env={"DAGEN_DEBUG": "1"})):  # fmt: skip
        assert result.returncode == 2
        assert "Traceback" in result.stderr and "UnicodeDecodeError" in result.stderr
        assert result.stderr.rstrip().splitlines()[-1].startswith("error: ")


# -- Ctrl-C and size ---------------------------------------------------------------------


def _ctrl_c_reaches_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in a terminal (not a background shell)


def start(*args: str) -> subprocess.Popen:
    """``dagen ARGS`` as the foreground job of a terminal: its own process group."""
    return subprocess.Popen([sys.executable, "-m", "dagen.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_ctrl_c_reaches_it)  # fmt: skip


def ctrl_c(proc: subprocess.Popen, timeout: float = 10) -> str:
    """Send SIGINT to the whole process group, as a terminal does; the stderr."""
    children = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=timeout)  # a hang fails here
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    return stderr


def wait_for(condition, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("command", ["run", "preview"])
def test_ctrl_c_stops_a_template_that_never_ends_in_one_line(config, tmp_path, command):
    path = config(CITY + f"  - {{name: slow, column_type: expression, expr: '{FOREVER}'}}\n")
    out = tmp_path / "o"
    args = (
        ("run", path, "-n", "10", "-o", str(out), *QUIET) if command == "run" else ("preview", path)
    )
    proc = start(*args)
    # the render has started once the run's metadata exists (preview: give it the same time)
    wait_for(lambda: (out / "metadata.json").exists()) if command == "run" else time.sleep(6)

    stderr = ctrl_c(proc)

    assert proc.returncode == 130
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "Unclosed" not in stderr and "leaked" not in stderr, stderr
    last = stderr.rstrip().splitlines()[-1]
    assert last.startswith("interrupted: ")
    assert sum(line.startswith("interrupted: ") for line in stderr.splitlines()) == 1


def test_a_run_of_a_trillion_rows_starts_writing_at_once_in_flat_memory(config, tmp_path):
    out = tmp_path / "o"
    proc = start("run", config(CITY), "-n", str(10**12), "-o", str(out), *QUIET)
    try:
        wait_for(lambda: len(list((out / "data").glob("part-*.parquet"))) >= 3)
        # planned all at once, 10**9 row groups would take hundreds of gigabytes
        assert psutil.Process(proc.pid).memory_info().rss < 1 << 30
    finally:
        stderr = ctrl_c(proc)
    assert proc.returncode == 130, stderr
    assert Path(out / "metadata.json").exists()


def test_a_user_value_that_cannot_be_stored_is_one_line_not_a_worker_log(config, tmp_path):
    path = config(CITY + "  - {name: x, column_type: custom, function: 'hostile_functions:unstorable', "
                  "required_columns: [city]}\n")  # fmt: skip

    result = dagen("run", path, "-n", "5", "-o", str(tmp_path / "o"), *QUIET)

    assert result.returncode == 1
    assert "row group 0: values cannot be stored as Arrow" in one_error_line(result)
    assert "Compute Failed" not in result.stderr


def test_a_template_that_never_ends_in_practice_stops_at_the_time_limit(config, tmp_path):
    path = config(CITY + f"  - {{name: slow, column_type: expression, expr: '{FOREVER}'}}\n")

    result = dagen(
        "run", path, "-n", "3", "-o", str(tmp_path / "o"), "--template-timeout", "0.5", *QUIET
    )

    assert result.returncode == 3
    line = one_error_line(result)
    assert "3 rows: column 'slow', TemplateLimitError" in line and "render_seconds" in line


def test_graph_of_a_trillion_rows_is_counted_not_listed(examples):
    result = dagen("graph", str(examples / "people.yaml"), "-n", str(10**12), timeout=60)

    assert result.returncode == 0, result.stderr
    assert "1000000000000 rows in 1000000000 row groups" in result.stdout


def test_an_unexpected_exception_is_one_line_and_exit_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import dagen.cli.commands

    def broken(path, **options):
        raise RuntimeError("something dagen did not expect\nsecond line")

    monkeypatch.setattr(dagen.cli.commands, "load_config", broken)
    monkeypatch.delenv("DAGEN_DEBUG", raising=False)

    result = CliRunner().invoke(dagen.cli.commands.cli, ["validate", str(tmp_path / "c.yaml")])

    assert result.exit_code == 1
    assert result.output == (
        "error: unexpected RuntimeError: something dagen did not expect (--debug shows the traceback)\n"
    )


def test_a_bad_scheduler_address_with_overwrite_leaves_the_existing_dataset_alone(config, tmp_path):
    out = tmp_path / "o"
    (out / "data").mkdir(parents=True)
    (out / "data" / "part-000000.parquet").write_text("a good dataset")

    result = dagen(
        "run", config(CITY), "-n", "5", "-o", str(out), "--overwrite", "--scheduler", "localhost"
    )

    assert result.returncode == 1 and "scheduler address 'localhost'" in one_error_line(result)
    assert (out / "data" / "part-000000.parquet").read_text() == "a good dataset"


def test_convert_refuses_to_write_over_the_file_it_converts_and_makes_a_missing_folder(
    tmp_path,
):
    from click.testing import CliRunner

    import dagen.cli

    (tmp_path / "seed.csv").write_text("city\nOslo\n")
    source = tmp_path / "dd.yaml"
    text = "data_designer:\n  columns: []\n  seed_config: {source: {path: seed.csv}}\n"
    source.write_text(text)
    runner = CliRunner()

    over = runner.invoke(dagen.cli.cli, ["convert", str(source), "-o", str(source)])
    assert over.exit_code == 2 and "is the file being converted" in over.output
    assert source.read_text() == text  # the user's file is as it was

    nested = tmp_path / "new" / "folder" / "dagen.yaml"
    made = runner.invoke(dagen.cli.cli, ["convert", str(source), "-o", str(nested)])
    assert made.exit_code == 0, made.output
    assert dagen.load_config(nested).columns[0].path == "../../seed.csv"
