"""Per-column fingerprints: a change flows downstream, serving settings change nothing."""

from __future__ import annotations

from typing import Any

import dagen
from dagen.config.fingerprints import FingerprintSet, fingerprint_set
from dagen.graph import ColumnGraph


def chain(**changes: Any) -> dagen.DatasetConfig:
    """topic (sampler) -> review (writer) -> quality (judge), and a lone sampler n."""
    writer = {"alias": "writer", "model": "mock-writer", "endpoint": "http://127.0.0.1:9/v1"}
    judge = {"alias": "judge", "model": "mock-judge", "inference_parameters": {"temperature": 0.1}}
    data: dict[str, Any] = {
        "models": [{**writer, **changes.pop("writer", {})}, {**judge, **changes.pop("judge", {})}],
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["tea", "coffee"]}},
            {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
             "params": {"low": 0, "high": 1}},
            {"name": "review", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "Write about {{ topic }}."},
            {"name": "quality", "column_type": "llm-judge", "model_alias": "judge",
             "prompt": changes.pop("judge_prompt", "Rate {{ review }}"),
             "scores": [{"name": "realism", "description": "real?", "options": {1: "no", 2: "yes"}}]},
        ],
        **changes,
    }  # fmt: skip
    return dagen.DatasetConfig.model_validate(data)


def fingerprints(config: dagen.DatasetConfig, seed: int = 1) -> FingerprintSet:
    return fingerprint_set(config, ColumnGraph.from_config(config).upstream, seed)


def changed(a: FingerprintSet, b: FingerprintSet) -> set[str]:
    return {c for c in a.columns if a.columns[c] != b.columns.get(c)}


def test_a_changed_prompt_changes_its_column_and_every_column_downstream_only():
    base = fingerprints(chain())
    assert changed(base, fingerprints(chain(judge_prompt="Judge {{ review }}"))) == {"quality"}
    topic = chain()
    data = topic.to_dict()
    data["columns"][0]["params"]["values"] = ["juice"]
    assert changed(base, fingerprints(dagen.DatasetConfig.model_validate(data))) == {
        "topic", "review", "quality"
    }  # fmt: skip


def test_a_model_changes_its_columns_when_its_identity_or_parameters_change():
    base = fingerprints(chain())
    assert changed(base, fingerprints(chain(judge={"model": "other"}))) == {"quality"}
    other_temperature = chain(judge={"inference_parameters": {"temperature": 0.9}})
    assert changed(base, fingerprints(other_temperature)) == {"quality"}
    assert changed(base, fingerprints(chain(writer={"model": "w2"}))) == {"review", "quality"}


def test_where_and_how_hard_a_model_is_served_changes_nothing():
    base = fingerprints(chain())
    served = chain(
        writer={"endpoint": "http://127.0.0.1:1/v1", "max_parallel_requests": 64,
                "timeout": 5, "max_retries": 9, "api_key_env": "KEY"},
    )  # fmt: skip
    assert fingerprints(served) == base and fingerprints(served).digest == base.digest


def test_the_seed_changes_every_column_and_drop_only_the_assembly():
    base = fingerprints(chain())
    assert changed(base, fingerprints(chain(), seed=2)) == {"topic", "n", "review", "quality"}
    data = chain().to_dict()
    data["columns"][2]["drop"] = True
    dropped = fingerprints(dagen.DatasetConfig.model_validate(data))
    assert dropped.columns == base.columns and dropped.assembly != base.assembly
    assert FingerprintSet.from_dict(dropped.to_dict()) == dropped
    assert FingerprintSet.from_dict({"columns": {"a": 1}, "assembly": "x"}) is None


def test_editing_a_custom_functions_module_changes_its_column_and_what_reads_it(tmp_path):
    module = tmp_path / "edited_functions.py"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "columns:\n"
        "  - {name: n, column_type: sampler, sampler_type: uniform, params: {low: 0, high: 1}}\n"
        "  - {name: twice, column_type: custom, function: 'edited_functions:twice',\n"
        "     required_columns: [n]}\n"
        "  - {name: label, column_type: expression, expr: '{{ twice }}!'}\n"
        "  - {name: other, column_type: expression, expr: '{{ n }}'}\n"
    )
    module.write_text("def twice(row):\n    return row['n'] * 2\n")
    before = fingerprints(dagen.load_config(config_file))
    again = fingerprints(dagen.load_config(config_file))
    assert again == before  # the same code: the same fingerprints

    module.write_text("def twice(row):\n    return row['n'] * 3  # edited\n")
    after = fingerprints(dagen.load_config(config_file))

    assert changed(before, after) == {"twice", "label"}


def test_an_optional_field_a_newer_dagen_adds_leaves_every_fingerprint_as_it_was(monkeypatch):
    # an output written by this dagen must stay resumable and updatable by a dagen whose
    # columns and models carry one more optional field (None unless set)
    config = chain()
    before, whole_before = fingerprints(config), config.fingerprint()
    to_dict = dagen.DatasetConfig.to_dict

    def with_a_newer_field(self: dagen.DatasetConfig) -> dict[str, Any]:
        data = to_dict(self)
        for entry in data["columns"] + data["models"]:
            entry["a_field_of_a_newer_dagen"] = None
        return data

    monkeypatch.setattr(dagen.DatasetConfig, "to_dict", with_a_newer_field)
    assert fingerprints(config) == before
    assert config.fingerprint() == whole_before

    # set on one column, the field decides its values: that column changes, no other
    def set_on_n(self: dagen.DatasetConfig) -> dict[str, Any]:
        data = to_dict(self)
        for entry in data["columns"]:
            entry["a_field_of_a_newer_dagen"] = "on" if entry["name"] == "n" else None
        return data

    monkeypatch.setattr(dagen.DatasetConfig, "to_dict", set_on_n)
    assert changed(before, fingerprints(config)) == {"n"}
