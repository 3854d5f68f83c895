"""A Data Designer file whose seed cannot give its columns: a clear error naming the file
and the column, before anything runs."""

from __future__ import annotations

import re

import pytest
import yaml

import dagen


def dd_file(tmp_path, seed_path, *columns):
    path = tmp_path / "dd.yaml"
    path.write_text(yaml.safe_dump({
        "data_designer": {
            "columns": list(columns),
            "model_configs": [],
            "seed_config": {"source": {"seed_type": "local", "path": seed_path},
                            "sampling_strategy": "ordered", "selection_strategy": None},
        },
        "library_version": "0.9.7",
    }))  # fmt: skip
    return path


LABEL = {"name": "label", "column_type": "expression", "expr": "{{ city }}", "dtype": "str",
         "drop": False, "skip": None, "propagate_skip": True}  # fmt: skip


def test_a_seed_file_that_is_missing_is_named(tmp_path):
    with pytest.raises(dagen.ConfigValidationError) as info:
        dagen.load_config(dd_file(tmp_path, "seeds/cities.csv", LABEL))
    assert str(tmp_path / "seeds" / "cities.csv") in str(info.value)
    assert "not found" in str(info.value)


def test_an_empty_seed_file_is_named(tmp_path):
    (tmp_path / "cities.csv").write_text("")
    with pytest.raises(dagen.ConfigValidationError, match=r"cities\.csv cannot be read"):
        dagen.load_config(dd_file(tmp_path, "cities.csv", LABEL))


def test_a_seed_of_a_header_only_is_read_and_refused_at_the_run_for_having_no_rows(
    tmp_path, client
):
    (tmp_path / "cities.csv").write_text("city\n")
    config = dagen.load_config(dd_file(tmp_path, "cities.csv", LABEL))
    assert config.column("seed_dataset").columns == ["city"]  # the header gave the column
    with pytest.raises(dagen.ConfigValidationError, match=r"cities\.csv has no rows"):
        dagen.preview(config, 2, client=client)


def test_a_seed_column_named_like_a_configured_column_is_refused_naming_both(tmp_path):
    (tmp_path / "cities.csv").write_text("city,label\nOslo,x\n")
    with pytest.raises(
        dagen.ConfigValidationError,
        match=re.escape("has column(s) ['label'], which configured column(s) are also named"),
    ) as info:
        dagen.load_config(dd_file(tmp_path, "cities.csv", LABEL))
    assert "cities.csv" in str(info.value)


def test_a_jsonl_seed_whose_first_line_is_not_an_object_is_named(tmp_path):
    (tmp_path / "cities.jsonl").write_text('["Oslo"]\n')
    with pytest.raises(dagen.ConfigValidationError, match=r"cities\.jsonl cannot be read"):
        dagen.load_config(dd_file(tmp_path, "cities.jsonl", LABEL))


def test_a_directory_source_that_matches_no_file_is_named(tmp_path, client):
    (tmp_path / "notes").mkdir()
    path = dd_file(tmp_path, "notes", {**LABEL, "expr": "{{ file_name }}"})
    text = path.read_text().replace("seed_type: local", "seed_type: directory")
    path.write_text(text)
    config = dagen.load_config(path)
    with pytest.raises(dagen.ConfigValidationError, match=r"no file matches file_pattern '\*'"):
        dagen.preview(config, 2, client=client)
