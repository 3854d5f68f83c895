"""Each public entry point given bad input: the error's type, and a message naming the fault.

A caller's mistake (wrong type, value out of range, options that exclude each other) is a
TypeError or ValueError, never a DagenError; a problem of the config is a ConfigError
wherever it is found; anything else that stops a run is another DagenError. Every case
here fails before a cluster starts, and none of them touches the output folder.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

import dagen
from dagen.errors import (
    ClusterError,
    ConfigError,
    ConfigSyntaxError,
    ConfigValidationError,
    CycleError,
    DagenError,
    MissingApiKeyError,
    ModelConnectionError,
    OutputDirError,
    ResumeError,
    UnknownColumnError,
)

NUMBERS = {"columns": [
    {"name": "n", "column_type": "sampler", "sampler_type": "uniform", "params": {"low": 0, "high": 1}},
]}  # fmt: skip


def numbers() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict(NUMBERS)


def with_model(**model: object) -> dagen.DatasetConfig:
    """One LLM column ``t`` on model alias ``w``; ``model`` fields override the model's."""
    return dagen.DatasetConfig.from_dict({
        "models": [{"alias": "w", "model": "m", **model}],
        "columns": [{"name": "t", "column_type": "llm-text", "model_alias": "w", "prompt": "hi"}],
    })  # fmt: skip


# -- the caller's mistakes: TypeError / ValueError, naming the argument --------------------

CALLER_MISTAKES = [
    ("generate-path", lambda out: dagen.generate("examples/people.yaml", 10, out),
     TypeError, r"config must be a DatasetConfig, not the path 'examples/people.yaml'; read the "
                r"file with dagen\.load_config\(path\)"),
    ("generate-Path", lambda out: dagen.generate(Path("people.yaml"), 10, out),
     TypeError, r"dagen\.load_config"),
    ("generate-dict", lambda out: dagen.generate(NUMBERS, 10, out),
     TypeError, r"not a dict; build one with dagen\.DatasetConfig\.from_dict"),
    ("generate-zero-rows", lambda out: dagen.generate(numbers(), 0, out),
     ValueError, r"generate\(\): num_records must be at least 1, got 0"),
    ("generate-float-rows", lambda out: dagen.generate(numbers(), 2.5, out),
     TypeError, r"generate\(\): num_records must be an int, got 2\.5"),
    ("generate-resume-overwrite", lambda out: dagen.generate(numbers(), 10, out, resume=True, overwrite=True),
     ValueError, r"resume and overwrite exclude each other"),
    ("generate-resume-in-memory", lambda out: dagen.generate(numbers(), 10, None, resume=True),
     ValueError, r"resume needs the output_dir"),
    ("generate-settings-dict", lambda out: dagen.generate(numbers(), 10, out, settings={"seed": 1}),
     TypeError, r"settings must be RunSettings or None, got dict"),
    ("generate-output-dir-int", lambda out: dagen.generate(numbers(), 10, 5),
     TypeError, r"output_dir must be str or PathLike or None, got int"),
    ("generate-client-and-scheduler",
     lambda out: dagen.generate(numbers(), 10, out, client=object(), scheduler="tcp://127.0.0.1:1"),
     ValueError, r"a client or a scheduler address, not both"),
    ("generate-overwrite-str", lambda out: dagen.generate(numbers(), 10, out, overwrite="yes"),
     TypeError, r"overwrite must be True or False, got 'yes'"),
    ("preview-zero", lambda out: dagen.preview(numbers(), n=0),
     ValueError, r"preview\(\): n must be at least 1, got 0"),
    ("preview-path", lambda out: dagen.preview("examples/people.yaml"),
     TypeError, r"preview\(\): config must be a DatasetConfig.*dagen\.load_config"),
    ("preview-seed-str", lambda out: dagen.preview(numbers(), seed="7"),
     TypeError, r"preview\(\): seed must be int or None, got str"),
    ("describe-zero", lambda out: dagen.describe(numbers(), 0, dagen.RunSettings()),
     ValueError, r"describe\(\): num_records must be at least 1, got 0"),
    ("describe-no-settings", lambda out: dagen.describe(numbers(), 10, None),
     TypeError, r"describe\(\): settings must be a RunSettings, got NoneType"),
    ("describe-zero-workers", lambda out: dagen.describe(numbers(), 10, dagen.RunSettings(), 0),
     ValueError, r"describe\(\): workers must be at least 1, got 0"),
    ("column-graph-path", lambda out: dagen.ColumnGraph.from_config("examples/people.yaml"),
     TypeError, r"ColumnGraph\.from_config\(\): config must be a DatasetConfig, got str; .*load_config"),
    ("run-settings-zero", lambda out: dagen.RunSettings(row_group_size=0),
     ValueError, r"RunSettings row_group_size must be at least 1, got 0"),
    ("early-shutdown-rate", lambda out: dagen.EarlyShutdown(error_rate=2.0),
     ValueError, r"EarlyShutdown error_rate must be at most 1, got 2\.0"),
    ("cluster-settings-workers", lambda out: dagen.ClusterSettings(n_workers=-1),
     ValueError, r"ClusterSettings n_workers must be at least 1, got -1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [case[1:] for case in CALLER_MISTAKES],
    ids=[case[0] for case in CALLER_MISTAKES],
)
def test_a_callers_mistake_is_a_type_or_value_error_naming_the_argument(
    tmp_path, call, error, message
):
    out = tmp_path / "out"

    with pytest.raises(error, match=message) as info:
        call(out)

    assert not isinstance(info.value, DagenError)
    assert not out.exists()  # checked before anything is touched


# -- problems of the config: ConfigError, wherever they are found --------------------------


def test_load_config_names_the_file_line_and_field(tmp_path):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigSyntaxError, match=re.escape(f"{missing}: cannot read config")):
        dagen.load_config(missing)

    broken = tmp_path / "broken.yaml"
    broken.write_text("columns:\n  - {name: a, column_type: sampler\n")
    with pytest.raises(ConfigSyntaxError, match=re.escape(f"{broken}: invalid YAML at line 3")):
        dagen.load_config(broken)

    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps([NUMBERS]))
    with pytest.raises(ConfigSyntaxError, match=re.escape(f"{listed}: a config is a mapping")):
        dagen.load_config(listed)

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("colums: []\n")
    with pytest.raises(ConfigValidationError, match="colums: unknown field"):
        dagen.load_config(unknown)


def test_the_column_graph_names_the_columns_at_fault():
    cycle = dagen.DatasetConfig.from_dict({"columns": [
        {"name": "a", "column_type": "expression", "expr": "{{ b }}"},
        {"name": "b", "column_type": "expression", "expr": "{{ a }}"},
    ]})  # fmt: skip
    with pytest.raises(CycleError, match=r"a -> b -> a|b -> a -> b"):
        dagen.ColumnGraph.from_config(cycle)

    typo = dagen.DatasetConfig.from_dict({"columns": [
        *NUMBERS["columns"], {"name": "g", "column_type": "expression", "expr": "{{ m }}"},
    ]})  # fmt: skip
    with pytest.raises(UnknownColumnError, match="column 'g' references unknown column 'm'"):
        dagen.ColumnGraph.from_config(typo)
    with pytest.raises(UnknownColumnError, match="column 'g'"):
        dagen.generate(typo, 10)


CONFIG_PROBLEMS = [
    ("unknown-model-alias", lambda: with_model(alias="other"),
     ConfigValidationError, r"column\(s\) \['t'\] use model alias\(es\) \['w'\], which are not in models"),
    ("unset-key-variable", lambda: with_model(endpoint="http://127.0.0.1:9/v1", api_key_env="DAGEN_UNSET_KEY"),
     MissingApiKeyError, r"model 'w': environment variable DAGEN_UNSET_KEY \(its API key\) is not set"),
    ("endpoint-not-a-url", lambda: with_model(endpoint="127.0.0.1:8000/v1"),
     ConfigValidationError,
     r"model 'w' \(models\[0\]\) field endpoint: endpoint '127\.0\.0\.1:8000/v1' is not an http\(s\) URL"),
    ("missing-seed-file", lambda: dagen.DatasetConfig.from_dict({"columns": [
        {"name": "s", "column_type": "seed_dataset", "path": "no-such-seed.csv", "columns": ["q"]}]}),
     ConfigValidationError, r"column 's': seed dataset .*no-such-seed\.csv not found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [case[1:] for case in CONFIG_PROBLEMS],
    ids=[case[0] for case in CONFIG_PROBLEMS],
)
def test_config_problems_found_by_generate_are_config_errors(
    tmp_path, monkeypatch, make, error, message
):
    monkeypatch.delenv("DAGEN_UNSET_KEY", raising=False)
    out = tmp_path / "out"

    with pytest.raises(error, match=message) as info:
        dagen.generate(make(), 10, out)

    assert isinstance(info.value, ConfigError)
    assert not out.exists()


def test_a_missing_key_variable_is_also_named_by_preview(monkeypatch):
    monkeypatch.delenv("DAGEN_UNSET_KEY", raising=False)
    cfg = with_model(endpoint="http://127.0.0.1:9/v1", api_key_env="DAGEN_UNSET_KEY")

    with pytest.raises(MissingApiKeyError) as info:
        dagen.preview(cfg, 2)

    assert (info.value.model, info.value.variable) == ("w", "DAGEN_UNSET_KEY")
    assert isinstance(info.value, dagen.ConfigError)


# -- what stops a run that is not the config's fault: the other DagenErrors ----------------


def test_an_unreachable_endpoint_names_the_model_and_endpoint(tmp_path, free_port):
    url = f"http://127.0.0.1:{free_port}/v1"

    with pytest.raises(
        ModelConnectionError, match=re.escape(f"model 'w': endpoint {url} is unreachable")
    ):
        dagen.generate(with_model(endpoint=url), 10, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_an_output_folder_in_use_is_named(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    with pytest.raises(OutputDirError, match=re.escape(f"output folder {out} is not empty")):
        dagen.generate(numbers(), 10, out)
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(
        OutputDirError, match=re.escape(f"output path {file} exists and is not a folder")
    ):
        dagen.generate(numbers(), 10, file)

    assert (out / "notes.txt").read_text() == "mine"


def test_resuming_another_configs_folder_names_the_folder_and_the_change(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metadata.json").write_text(json.dumps(
        {"fingerprint": "0ther", "config": {}, "seed": 1, "row_group_size": 1000}))  # fmt: skip

    with pytest.raises(
        ResumeError, match=re.escape(f"{out} was generated from a different config")
    ):
        dagen.generate(numbers(), 10, out, resume=True)


def test_an_unreachable_scheduler_is_a_cluster_error_naming_it(free_port):
    address = f"tcp://127.0.0.1:{free_port}"

    with pytest.raises(
        ClusterError, match=re.escape(f"cannot reach the Dask scheduler at {address}")
    ):
        dagen.generate(numbers(), 10, scheduler=address)


# -- errors travel between processes intact -----------------------------------------------


def test_every_error_survives_pickling_with_its_message_and_coordinates():
    for name in dagen.errors.__all__:
        cls = getattr(dagen.errors, name)
        if cls is MissingApiKeyError:
            error = cls("w", "NIM_API_KEY")
        elif issubclass(cls, dagen.GenerationError):
            error = cls(f"{name} happened", column="c", row_group=3, row=7)
        else:
            error = cls(f"{name} happened")
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is cls and str(back) == str(error) and vars(back) == vars(error)
