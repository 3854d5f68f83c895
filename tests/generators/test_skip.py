"""Skip rules: when a column skips a row, and the cells and blocks a skip leaves."""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa

from dagen.config.dataset import DatasetConfig
from dagen.generators import SkippedCell, SkipRule, build_generators, fill_skipped
from dagen.graph import ColumnGraph


def test_when_is_evaluated_to_a_python_value_not_to_text():
    rule = SkipRule("c", ("c",), when="{{ n > 2 }}")
    # rendered as text, "False" would be truthy
    assert [rule.applies({"n": n}, frozenset()) for n in (1, 3)] == [False, True]
    assert rule.applies({"n": 1, "p": {"tier": "free"}}, frozenset()) is False
    nested = SkipRule("c", ("c",), when="{{ p.tier == 'free' }}")
    assert nested.applies({"p": {"tier": "free"}}, frozenset())


def test_a_row_whose_when_cannot_be_evaluated_is_skipped_with_a_warning(caplog):
    rule = SkipRule("c", ("c",), when="{{ missing > 2 }}")
    with caplog.at_level(logging.WARNING, logger="dagen"):
        assert rule.applies({"n": 1}, frozenset())
    assert "column 'c'" in caplog.text and "missing" in caplog.text


def test_propagation_looks_at_required_columns_only_and_can_be_turned_off():
    rule = SkipRule("c", ("c",), requires=frozenset({"a__trace"}))
    assert rule.applies({}, frozenset({"a", "a__trace"}))
    assert not rule.applies({}, frozenset({"b"}))
    assert not SkipRule("c", ("c",), propagate=False, requires=frozenset({"a"})).applies(
        {}, frozenset({"a"})
    )


def test_a_skipped_cell_holds_the_value_and_nulls_for_side_effects():
    cell = SkipRule("c", ("c", "c__trace"), when="{{ n }}", value=-1).cell()
    assert isinstance(cell, SkippedCell) and cell == {"c": -1, "c__trace": None}


def test_filled_blocks_keep_ints_as_ints_and_all_null_columns_typed():
    rule = SkipRule("c", ("c",), when="{{ n }}")
    frame = pd.DataFrame({"c": pd.Series([5, 7], index=[0, 2])})
    filled = fill_skipped(frame, rule, [1])
    assert filled.index.tolist() == [0, 1, 2] and filled["c"].tolist() == [5, None, 7]
    assert pa.Table.from_pandas(filled).schema.field("c").type == pa.int64()
    empty = pd.DataFrame({"c": pd.Series([], dtype=object)})
    nulls = fill_skipped(empty, rule, [0, 1], value_type="string")
    assert pa.Table.from_pandas(nulls).schema.field("c").type == pa.large_string()


def test_rules_go_to_gated_columns_and_to_what_propagates_from_them():
    config = DatasetConfig.from_dict({"columns": [
        {"name": "n", "column_type": "sampler", "sampler_type": "poisson", "params": {"mean": 2}},
        {"name": "gated", "column_type": "expression", "expr": "{{ n }}",
         "skip": {"when": "{{ n > 3 }}", "value": "big"}},
        {"name": "follows", "column_type": "expression", "expr": "{{ gated }}!"},
        {"name": "copes", "column_type": "expression", "expr": "{{ gated }}?",
         "propagate_skip": False},
        {"name": "unrelated", "column_type": "expression", "expr": "{{ n }}"},
    ]})  # fmt: skip
    generators = build_generators(config, ColumnGraph.from_config(config))
    rules = {name: g.skip_rule for name, g in generators.items() if g.skip_rule is not None}
    assert set(rules) == {"gated", "follows"}
    assert rules["gated"].when == "{{ n > 3 }}" and rules["gated"].value == "big"
    assert rules["follows"].when is None and rules["follows"].requires == {"gated"}
