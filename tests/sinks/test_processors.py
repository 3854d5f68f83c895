"""Post-batch processors, and building them from a config."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dagen.config.dataset import DatasetConfig
from dagen.config.run import TemplateLimits
from dagen.errors import ConfigValidationError
from dagen.sinks.processors import (
    FILTERED,
    DropColumns,
    Filter,
    SchemaTransform,
    build_processors,
    resolve_columns,
)

COLUMNS = [
    {"name": "city", "column_type": "sampler", "sampler_type": "uuid"},
    {"name": "note", "column_type": "expression", "expr": "{{ city }}"},
]


def test_drop_columns_removes_only_the_named_columns():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]}, index=[0, 7])
    out = DropColumns(["a", "c"]).process(frame, row_group=0)
    assert out.columns.tolist() == ["b"]
    assert out.index.tolist() == [0, 7]
    assert frame.columns.tolist() == ["a", "b", "c"]  # the input is not changed


def test_processors_are_built_from_the_config_in_order():
    config = DatasetConfig.from_dict(
        {
            "columns": COLUMNS,
            "processors": [
                {"processor_type": "drop_columns", "columns": ["note"]},
                {"processor_type": "drop_columns", "columns": ["city"]},
            ],
        }
    )
    processors = build_processors(config, ["city", "note"])
    assert [p.columns for p in processors] == [("note",), ("city",)]


def test_a_processor_naming_an_unknown_column_is_a_config_error():
    config = DatasetConfig.from_dict(
        {
            "columns": COLUMNS,
            "processors": [{"processor_type": "drop_columns", "columns": ["note", "ctiy"]}],
        }
    )
    with pytest.raises(ConfigValidationError) as info:
        build_processors(config, ["city", "note"])
    assert "processors[0]" in str(info.value)
    assert "'ctiy'" in str(info.value)


def test_drop_columns_takes_names_and_fnmatch_patterns_in_pattern_order():
    available = ["id", "q", "q__trace", "r__trace", "x1", "x2", "y"]
    assert resolve_columns(["*__trace", "id"], available) == ["q__trace", "r__trace", "id"]
    assert resolve_columns(["x?", "x1"], available) == ["x1", "x2"]
    assert resolve_columns(["[qy]"], available) == ["q", "y"]
    with pytest.raises(ValueError, match="pattern 'z\\*' matches no column"):
        resolve_columns(["id", "z*"], available)
    with pytest.raises(ValueError, match="column 'ID' matches no column"):
        resolve_columns(["ID"], available)  # case matters, as in column names


def test_dropped_columns_are_the_side_dataset_of_drop_columns():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=[0, 7])
    folder, side = DropColumns(["a"]).side_dataset(frame, row_group=0)
    assert folder == "dropped-columns-parquet-files"
    assert side["a"].tolist() == [1, 2] and side.index.tolist() == [0, 7]


def test_a_schema_transform_renders_valid_json_from_awkward_values():
    transform = SchemaTransform("chat", {
        "messages": [{"role": "user", "content": "{{ q }}"}], "meta": "{{ meta }}",
        "flag": "{{ flag }}", "missing": "{{ none }}", "upper": "{{ q | upper }}",
    })  # fmt: skip
    frame = pd.DataFrame(
        {"q": ['say "hi"\\n\nnow'], "meta": [{"k": [1, "x"]}], "flag": [True], "none": [None]}
    )
    folder, side = transform.side_dataset(frame, row_group=3)
    row = side.iloc[0]
    assert folder == "processors-files/chat"
    assert row["messages"] == [{"role": "user", "content": 'say "hi"\\n\nnow'}]
    assert json.loads(row["meta"]) == {"k": [1, "x"]}
    assert (row["flag"], row["missing"], row["upper"]) == ("true", "null", 'SAY "HI"\\N\nNOW')
    assert transform.process(frame, row_group=3) is frame  # the main dataset is unchanged


def test_a_schema_transform_reading_an_unknown_column_or_sharing_a_name_is_refused():
    def processors(*specs):
        return DatasetConfig.from_dict({"columns": COLUMNS, "processors": list(specs)})

    unknown = processors({"processor_type": "schema_transform", "name": "t",
                          "template": {"x": "{{ town }}"}})  # fmt: skip
    with pytest.raises(ConfigValidationError, match=r"reads unknown column\(s\) \['town'\]"):
        build_processors(unknown, ["city", "note"])
    twice = {"processor_type": "schema_transform", "name": "t", "template": {"x": "{{ city }}"}}
    with pytest.raises(ConfigValidationError, match="name 't' is used twice"):
        build_processors(processors(twice, twice), ["city", "note"])
    with pytest.raises(ConfigValidationError, match="name"):
        processors({**twice, "name": "../escape"})


def test_a_later_processor_cannot_drop_what_an_earlier_one_dropped():
    config = DatasetConfig.from_dict({"columns": COLUMNS, "processors": [
        {"processor_type": "drop_columns", "column_names": ["no*"]},
        {"processor_type": "drop_columns", "columns": ["note"]},
    ]})  # fmt: skip
    with pytest.raises(ConfigValidationError, match=r"processors\[1\].*'note' matches no column"):
        build_processors(config, ["city", "note"])


# -- filter ---------------------------------------------------------------------------

SCORES = pd.DataFrame(
    {"quality": [{"realism": {"score": s}} for s in (1, 3, 2, 0)], "tag": ["a", "b", "c", "d"]},
    index=[0, 1, 2, 5],
)


def test_a_filter_keeps_the_rows_whose_condition_holds_and_says_why_the_others_went():
    keep = Filter("realistic", "{{ quality.realism.score >= 2 }}")
    dropped = keep.drops(SCORES, row_group=3)
    assert sorted(dropped) == [0, 5]  # by row position, the frame's index
    failure = dropped[5]
    assert (failure.column, failure.row_group, failure.row) == ("realistic", 3, 5)
    assert failure.error_type == FILTERED
    assert "quality.realism.score >= 2" in failure.message


@pytest.mark.parametrize("text", ["", "False", "false", " FALSE ", "0", "0.0", "None", "none"])
def test_a_condition_rendering_a_false_text_drops_the_row(text):
    keep = Filter("f", "{{ tag }}")
    assert list(keep.drops(pd.DataFrame({"tag": [text]}), row_group=0)) == [0]


@pytest.mark.parametrize("text", ["True", "true", "1", "yes", "no", "0.5", "x"])
def test_a_condition_rendering_any_other_text_keeps_the_row(text):
    keep = Filter("f", "{{ tag }}")
    assert keep.drops(pd.DataFrame({"tag": [text]}), row_group=0) == {}


def test_a_condition_failing_on_some_rows_drops_those_rows_with_its_error():
    frame = pd.DataFrame({"x": [1, "text", 3], "d": [{"a": 1}, {"a": 2}, {}]})
    dropped = Filter("typed", "{{ x > 1 }}").drops(frame, row_group=0)
    assert sorted(dropped) == [0, 1]
    assert dropped[0].error_type == FILTERED
    assert dropped[1].error_type == "TypeError" and dropped[1].column == "typed"
    missing = Filter("strict", "{{ d.a > 1 }}").drops(frame, row_group=0)
    assert missing[2].error_type == "TemplateRenderError"  # no "a": not silently false
    assert "strict" in missing[2].message
    assert missing[0].error_type == FILTERED and 1 not in missing


def test_a_filter_is_bounded_like_every_template():
    keep = Filter("big", "{{ 'x' * 10000 }}", TemplateLimits(max_value_bytes=100))
    dropped = keep.drops(pd.DataFrame({"x": [1]}), row_group=0)
    assert dropped[0].error_type == "TemplateLimitError"


def test_a_filter_naming_an_unknown_column_is_a_config_error_naming_it():
    config = DatasetConfig.from_dict(
        {
            "columns": COLUMNS,
            "processors": [
                {"processor_type": "drop_columns", "columns": ["note"]},
                {"processor_type": "filter", "name": "has_note", "keep_when": "{{ note }}"},
            ],
        }
    )
    with pytest.raises(ConfigValidationError) as info:  # note was dropped before it
        build_processors(config, ["city", "note"])
    assert "processors[1] (filter) 'has_note'" in str(info.value)
    assert "['note']" in str(info.value)


def test_a_filter_that_does_not_compile_is_a_config_error_naming_its_field():
    with pytest.raises(ConfigValidationError) as info:
        DatasetConfig.from_dict(
            {
                "columns": COLUMNS,
                "processors": [{"processor_type": "filter", "keep_when": "{{ city >= }}"}],
            }
        )
    assert "processors" in str(info.value) and "keep_when does not compile" in str(info.value)


def test_two_filters_need_two_names():
    config = DatasetConfig.from_dict(
        {
            "columns": COLUMNS,
            "processors": [
                {"processor_type": "filter", "keep_when": "{{ city }}"},
                {"processor_type": "filter", "keep_when": "{{ note }}"},
            ],
        }
    )
    with pytest.raises(ConfigValidationError, match=r"processors\[1\].*'filter' is used"):
        build_processors(config, ["city", "note"])
