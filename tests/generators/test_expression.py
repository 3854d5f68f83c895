"""Expression generators: one sandboxed Jinja render per row; a bad row drops alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dagen.config.columns import ExpressionColumnConfig
from dagen.config.run import TemplateLimits
from dagen.errors import TemplateError, TemplateLimitError
from dagen.generators import BatchContext, ColumnBlock, FailedBlock
from dagen.generators.expression import ExpressionGenerator, Template, to_plain


def render(expr: str, frame: pd.DataFrame, *, dtype: str = "str", row_group: int = 3):
    gen = ExpressionGenerator(
        ExpressionColumnConfig(name="out", expr=expr, dtype=dtype), tuple(frame.columns)
    )
    return gen.run_batch(frame, BatchContext("out", row_group, 300, 10, seed=0))


def test_each_row_is_rendered_from_its_own_values_and_keeps_its_position():
    frame = pd.DataFrame(
        {"name": ["Ada", "Leo", "Mei"], "city": ["Oslo", "Lima", "Pune"]}, index=[0, 4, 7]
    )
    block = render("{{ name }} from {{ city | upper }}", frame)
    assert block.frame["out"].to_dict() == {
        0: "Ada from OSLO",
        4: "Leo from LIMA",
        7: "Mei from PUNE",
    }
    assert not block.failures


def test_struct_fields_and_numpy_values_render_as_plain_python():
    frame = pd.DataFrame(
        {
            "person": [{"first_name": "Ada", "age": 36}],
            "visits": np.array([3], dtype=np.int64),
            "score": [np.nan],
        }
    )
    block = render("{{ person.first_name }} {{ person.age + visits }} {{ score is none }}", frame)
    assert block.frame["out"].tolist() == ["Ada 39 True"]


@pytest.mark.parametrize(
    ("dtype", "expr", "value"),
    [
        ("int", "{{ a + b }}", 5),
        ("float", "{{ a / b }}", 2 / 3),
        ("bool", "{{ a < b }}", True),
        ("bool", "{{ a > b }}", False),
        ("str", "{{ a }}{{ b }}", "23"),
    ],
)
def test_the_rendered_text_is_cast_to_the_dtype(dtype, expr, value):
    block = render(expr, pd.DataFrame({"a": [2], "b": [3]}), dtype=dtype)
    result = block.frame["out"].iloc[0]
    assert result == pytest.approx(value) if dtype == "float" else result == value
    assert type(result) is type(value)


def test_a_missing_variable_fails_only_its_row_naming_the_column_and_the_variable():
    frame = pd.DataFrame({"person": [{"nickname": "Ace"}, {}, {"nickname": "Bo"}]}, index=[0, 1, 2])
    block = render("Call me {{ person.nickname }}", frame, row_group=3)
    assert isinstance(block, FailedBlock)
    assert block.frame["out"].to_dict() == {0: "Call me Ace", 2: "Call me Bo"}
    assert block.failures.keys() == {1}
    failure = block.failures[1]
    assert failure.error_type == "TemplateRenderError"
    assert (failure.column, failure.row_group, failure.row) == ("out", 3, 1)
    assert "'out'" in failure.message
    assert "nickname" in failure.message


def test_a_value_that_does_not_cast_fails_only_its_row():
    frame = pd.DataFrame({"n": ["7", "seven", "8"]})
    block = render("{{ n }}", frame, dtype="int")
    assert block.frame["out"].to_dict() == {0: 7, 2: 8}
    assert block.failures[1].error_type == "ValueError"


def test_an_undefined_top_level_variable_fails_every_row():
    block = render("{{ missing }}", pd.DataFrame({"a": [1, 2]}))
    assert block.rows == []
    assert sorted(block.failures) == [0, 1]
    assert all("missing" in f.message for f in block.failures.values())


def test_an_empty_row_group_renders_nothing():
    block = render("{{ a }}", pd.DataFrame({"a": pd.Series([], dtype=object)}))
    assert type(block) is ColumnBlock
    assert block.rows == []


def test_a_template_that_does_not_compile_is_an_error_naming_the_column():
    template = Template("{{ name ", column="greeting", what="expression")
    with pytest.raises(TemplateError, match="column 'greeting': expression does not compile"):
        template.render({"name": "Ada"})


def test_the_sandbox_refuses_unsafe_attributes():
    block = render("{{ name.__class__.__mro__ }}", pd.DataFrame({"name": ["Ada"]}))
    assert block.failures[0].error_type == "TemplateRenderError"


# a template of text and plain variables is joined without the sandbox: the same text


@pytest.mark.parametrize(
    ("expr", "plain"),
    [
        ("{{ city }}-{{ age }}", True),
        ("Hi {{ who }}!\n", True),
        ("{{- who -}} x", True),
        ("no variables at all", True),
        ("{{ who | upper }}", False),
        ("{{ person.first_name }}", False),
        ("{% if who %}{{ who }}{% endif %}", False),
        ("{{ who ~ city }}", False),
    ],
)
def test_only_text_and_plain_variables_are_joined(expr, plain):
    assert (Template(expr, "out", "expression").pieces is not None) is plain


@pytest.mark.parametrize(
    "value",
    [
        "Oslo",
        7,
        np.int64(7),
        2.5,
        np.float64(0.1 + 0.2),
        float("nan"),
        None,
        True,
        np.bool_(False),
        {"first_name": "Ada"},
        [1, "two"],
        pd.Timestamp("2024-01-02 03:04:05"),
    ],
)
def test_a_joined_render_is_what_the_sandboxed_render_makes(value):
    template = Template("[{{ v }}] and {{ w }}\n", "out", "expression")
    row = {"v": value, "w": "x"}
    sandboxed = template._env.render(template._compiled, {"v": to_plain(value), "w": "x"})
    assert template.join(row) is not None
    assert template.render(row) == sandboxed


def test_a_joined_column_matches_the_sandboxed_render_row_by_row():
    frame = pd.DataFrame(
        {
            "city": ["Oslo", None, "Pune"],
            "age": pd.array([18, None, 90], dtype="Int64"),
            "score": [1.5, np.nan, 3.0],
            "unused": [object(), object(), object()],
        },
        index=[2, 5, 9],
    )
    joined = render("{{ city }}:{{ age }}:{{ score }}", frame).frame["out"].to_dict()
    sandboxed = render("{{ city | string }}:{{ age }}:{{ score }}", frame).frame["out"].to_dict()
    assert joined == sandboxed == {2: "Oslo:18:1.5", 5: "None:<NA>:None", 9: "Pune:90:3.0"}


def test_a_plain_template_missing_a_variable_still_fails_naming_it():
    frame = pd.DataFrame({"city": ["Oslo"]})
    gen = ExpressionGenerator(ExpressionColumnConfig(name="out", expr="{{ city }} {{ zone }}"), ())
    block = gen.run_batch(frame, BatchContext("out", 3, 300, 10, seed=0))
    assert isinstance(block, FailedBlock)
    (failure,) = block.failures.values()
    assert "zone" in failure.message and failure.column == "out"


def test_a_plain_template_over_the_size_limit_still_fails_the_row():
    limits = TemplateLimits(max_value_bytes=10)
    template = Template("{{ a }}{{ a }}", "out", "expression", limits)
    assert template.join({"a": "x" * 6}) is None
    with pytest.raises(TemplateLimitError, match="max_value_bytes"):
        template.render({"a": "x" * 6}, 0, 1)
    assert template.render({"a": "x" * 5}) == "x" * 10


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_row_the_column_join_cannot_make_fails_alone_as_the_render_says():
    # one row over the size limit, one whose value has no str, one that does not cast
    frame = pd.DataFrame({"a": ["7", "x" * 40, _Unprintable(), "nine", "8"]}, index=[0, 1, 2, 3, 4])
    gen = ExpressionGenerator(
        ExpressionColumnConfig(name="out", expr="{{ a }}", dtype="int"), ("a",),
        TemplateLimits(max_value_bytes=20),
    )  # fmt: skip
    block = gen.run_batch(frame, BatchContext("out", 3, 300, 5, seed=0))
    assert block.frame["out"].to_dict() == {0: 7, 4: 8}
    assert sorted(block.failures) == [1, 2, 3]
    assert "max_value_bytes" in block.failures[1].message
    assert "no text" in block.failures[2].message
    assert all(f.column == "out" and f.row_group == 3 for f in block.failures.values())
    plain = gen.template.join_columns({"a": ["7", "8"]}, 2)
    assert plain == ["7", "8"] and gen.template.join_columns({"b": ["7"]}, 1) is None
    joined = gen.run_batch(frame.loc[[0, 3, 4]], BatchContext("out", 3, 300, 5, seed=0))
    assert joined.frame["out"].to_dict() == {0: 7, 4: 8} and list(joined.failures) == [3]
    assert joined.failures[3].row == 3 and joined.failures[3].column == "out"
