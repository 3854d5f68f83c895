"""One type per column: declared, learned from the first values, kept across resumes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dagen.config.dataset import DatasetConfig
from dagen.errors import CheckpointError, ResumeError
from dagen.sinks.schema import ColumnTypes, declared_types


def test_the_config_declares_expression_dtypes_conversions_and_llm_text():
    config = DatasetConfig.model_validate({"columns": [
        {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
         "params": {"low": 0, "high": 9}, "convert_to": "int"},
        {"name": "f", "column_type": "expression", "expr": "{{ n }}", "dtype": "float"},
        {"name": "s", "column_type": "expression", "expr": "{{ n }}"},
        {"name": "u", "column_type": "sampler", "sampler_type": "uniform",
         "params": {"low": 0, "high": 1}},
    ]})  # fmt: skip
    assert declared_types(config) == {"n": pa.int64(), "f": pa.float64(), "s": pa.string()}


def test_a_column_of_nulls_takes_the_declared_type():
    table = ColumnTypes({"n": pa.int64()}).conform(pa.table({"n": [None, None]}), row_group=0)
    assert table.schema.field("n").type == pa.int64() and table["n"].null_count == 2


def test_the_first_values_fix_an_undeclared_type_and_later_nulls_take_it():
    types = ColumnTypes()
    assert types.conform(pa.table({"x": [None]}), row_group=0).schema.types == [pa.null()]
    types.conform(pa.table({"x": [1, 2]}), row_group=1)
    later = types.conform(pa.table({"x": [None]}), row_group=2)
    assert later.schema.types == [pa.int64()]
    assert types.conform(pa.table({"x": [3.0, None]}), row_group=3).schema.types == [pa.int64()]


def test_a_value_that_cannot_take_the_type_names_the_column_and_row():
    types = ColumnTypes({"n": pa.int64()})
    with pytest.raises(CheckpointError, match=r"row group 4, row 7: column 'n' holds 'n/a'"):
        types.conform(pa.table({"n": ["1", "n/a"]}), row_group=4, rows=[2, 7])
    types.conform(pa.table({"n": [1]}), row_group=5)
    with pytest.raises(CheckpointError, match=r"row 1: column 'n' holds 2.5 .*int64"):
        types.conform(pa.table({"n": [1.0, 2.5]}), row_group=6)


def test_structs_gain_the_fields_later_rows_show():
    types = ColumnTypes()
    types.conform(pa.table({"d": [{"x": 1}]}), row_group=0)
    grown = types.conform(pa.table({"d": [{"x": 2, "y": "a"}]}), row_group=1)
    again = types.conform(pa.table({"d": [{"x": 3}]}), row_group=2)
    assert grown.schema == again.schema and again["d"].to_pylist() == [{"x": 3, "y": None}]


def test_types_survive_the_metadata_document():
    types = ColumnTypes()
    types.conform(pa.table({"d": [{"x": 1}], "n": [1], "s": ["a"]}), row_group=0)
    restored = ColumnTypes(recorded=types.to_dict())
    assert restored.types == types.types
    assert types.to_dict()["columns"] == {"d": "struct<x: int64>", "n": "int64", "s": "string"}


def test_a_damaged_recorded_schema_is_a_resume_error():
    with pytest.raises(ResumeError, match=r"schema\.arrow cannot be read.*--overwrite"):
        ColumnTypes(recorded={"arrow": "bm90IGEgc2NoZW1h"})
