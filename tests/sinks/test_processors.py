"""Post-batch processors, and building them from a config."""

from __future__ import annotations

import pandas as pd
import pytest

from dagen.config.dataset import DatasetConfig
from dagen.errors import ConfigValidationError
from dagen.sinks.processors import DropColumns, build_processors

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
