"""Column statistics, part by part: the same figures as over the whole, for awkward values."""

from __future__ import annotations

import pyarrow as pa

from dagen.report.stats import DISTINCT_LIMIT, DatasetStats


def stats_of(*parts: pa.Table) -> dict:
    schema = pa.unify_schemas([p.schema for p in parts])
    pairs = [(name, part.column(name)) for part in parts for name in part.column_names]
    return DatasetStats.from_parts(schema, pairs).fields


def test_parts_combine_into_the_figures_of_the_whole():
    a = pa.table({"x": [1, 2, None, 4], "word": ["a", "bb", None, "a"]})
    b = pa.table({"x": [4, 100, None], "word": ["ccc", "a", "bb"]})
    fields = stats_of(a, b)

    x, word = fields["x"], fields["word"]
    assert (x.rows, x.nulls, x.distinct, x.low, x.high) == (7, 2, 4, 1.0, 100.0)
    assert x.mean == (1 + 2 + 4 + 4 + 100) / 5
    assert sum(x.bins) == 5 and len(x.edges) == len(x.bins) + 1
    assert dict(word.counts) == {"a": 3, "bb": 2, "ccc": 1}
    assert (word.low, word.high, sum(word.bins)) == (1.0, 3.0, 6)  # lengths in characters


def test_a_null_struct_makes_its_fields_null_and_lists_are_measured_by_length():
    t = pa.table(
        {"person": [{"age": 3, "tags": ["a"]}, None, {"age": None, "tags": ["a", "b", "c"]}]}
    )
    fields = stats_of(t)

    assert fields["person"].nulls == 1 and not fields["person"].counted
    assert fields["person.age"].nulls == 2
    tags = fields["person.tags"]
    assert (tags.nulls, tags.low, tags.high, tags.counted) == (1, 1.0, 3.0, False)


def test_nan_and_infinity_are_counted_apart_from_the_range():
    fields = stats_of(pa.table({"f": [1.0, float("nan"), float("inf"), None, 3.0]}))

    f = fields["f"]
    assert (f.nulls, f.non_finite, f.low, f.high, f.measured) == (1, 2, 1.0, 3.0, 2)


def test_distinct_values_past_the_limit_are_more_than_the_limit():
    half = DISTINCT_LIMIT // 2 + 1
    fields = stats_of(
        pa.table({"n": list(range(half))}), pa.table({"n": list(range(half, 2 * half))})
    )

    assert fields["n"].distinct is None and fields["n"].counted
    assert fields["n"].counts is None  # far too many values for bars
    assert sum(fields["n"].bins) == 2 * half


def test_types_arrow_cannot_compare_are_described_without_distinct_values():
    maps = pa.array([[("k", 1)], [("k", 2)]], pa.map_(pa.string(), pa.int64()))
    fields = stats_of(pa.table({"m": maps}))

    assert fields["m"].rows == 2 and not fields["m"].counted and fields["m"].distinct is None
