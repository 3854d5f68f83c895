"""Custom functions: importing ``module:attr`` (also from the config's folder) and inferring
the columns a function reads."""

from __future__ import annotations

import sys

import cloudpickle
import pandas as pd
import pytest

from dagen.config.dataset import load_config
from dagen.config.functions import infer_required_columns, resolve_function
from dagen.errors import ImportFunctionError
from dagen.graph import ColumnGraph

EARLIER = ["age", "visits", "person", "city"]

# -- inference ---------------------------------------------------------------------------


def reads_subscripts(row):
    return row["age"] * 2 + row["visits"]


def reads_with_get(row):
    return row.get("visits", 0) + 1


def reads_a_list_of_columns(df: pd.DataFrame) -> pd.Series:
    return df[["age", "visits"]].sum(axis=1)


def reads_a_nested_field(row):
    return row["person"]["first_name"].upper()


async def reads_asynchronously(row):
    return row["city"]


def reads_by_computed_names(row):
    return sum(row[name] for name in row)


def reads_another_mapping(row, table=None):
    table = table or {"age": 1}
    return table["age"]


@pytest.mark.parametrize(
    ("function", "reads"),
    [
        (reads_subscripts, {"age", "visits"}),
        (reads_with_get, {"visits"}),
        (reads_a_list_of_columns, {"age", "visits"}),
        (reads_a_nested_field, {"person"}),
        (reads_asynchronously, {"city"}),
    ],
)
def test_the_columns_a_function_reads_by_literal_name(function, reads):
    assert infer_required_columns(function, EARLIER) == reads


@pytest.mark.parametrize(
    "function",
    [reads_by_computed_names, reads_another_mapping, len],
    ids=["computed-names", "other-mapping", "builtin-without-source"],
)
def test_a_function_with_no_literal_read_depends_on_every_earlier_column(function):
    assert infer_required_columns(function, EARLIER) == set(EARLIER)


# -- resolving -----------------------------------------------------------------------------


def test_a_callable_is_its_own_function():
    assert resolve_function(reads_subscripts, column="score") is reads_subscripts


def test_a_module_next_to_the_config_is_imported_from_the_config_folder(project, write):
    write(
        "shop_functions.py",
        """
        class Scorer:
            @staticmethod
            def score(row):
                return row["visits"] * 10
        """,
    )
    function = resolve_function(
        "shop_functions:Scorer.score", column="score", search_path=[project]
    )
    assert function({"visits": 3}) == 30
    assert sys.modules["shop_functions"].__file__ == str(project / "shop_functions.py")


def test_functions_from_the_config_folder_pickle_by_value(project, write):
    write("shop_functions.py", "def triple(row):\n    return row['n'] * 3\n")
    payload = cloudpickle.dumps(
        resolve_function("shop_functions:triple", column="tripled", search_path=[project])
    )
    # a worker without the module: not on its path, not imported (project restores sys.path)
    del sys.modules["shop_functions"]
    sys.path.remove(str(project.resolve()))
    assert cloudpickle.loads(payload)({"n": 4}) == 12
    assert "shop_functions" not in sys.modules


def test_a_missing_module_names_the_column(project):
    with pytest.raises(ImportFunctionError) as info:
        resolve_function("no_such_module_here:score", column="loyalty", search_path=[project])
    assert "'loyalty'" in str(info.value)
    assert "'no_such_module_here'" in str(info.value)


def test_a_missing_attribute_names_the_column_and_the_attribute(project, write):
    write("shop_functions.py", "def score(row):\n    return 1\n")
    with pytest.raises(ImportFunctionError) as info:
        resolve_function("shop_functions:scor", column="loyalty", search_path=[project])
    assert "'loyalty'" in str(info.value)
    assert "'scor'" in str(info.value)


def test_a_value_that_is_not_callable_is_rejected(project, write):
    write("shop_functions.py", "THRESHOLD = 3\n")
    with pytest.raises(ImportFunctionError, match="not callable"):
        resolve_function("shop_functions:THRESHOLD", column="loyalty", search_path=[project])


@pytest.mark.parametrize("spec", ["shop_functions", ":score", "shop_functions:"])
def test_a_function_must_be_written_module_colon_name(spec):
    with pytest.raises(ImportFunctionError, match="'module:function'"):
        resolve_function(spec, column="loyalty")


# -- through a config file -------------------------------------------------------------------

CONFIG = """
    seed: 1
    columns:
      - name: visits
        column_type: sampler
        sampler_type: poisson
        params: {{mean: 3}}
      - name: age
        column_type: sampler
        sampler_type: uniform
        params: {{low: 18, high: 90}}
      - name: loyalty
        column_type: custom
        function: "{function}"
"""


def test_a_config_finds_its_functions_next_to_it_and_infers_what_they_read(project, write):
    write("loyalty_functions.py", "def score(row):\n    return row['visits'] * 2\n")
    config = load_config(write("shop.yaml", CONFIG.format(function="loyalty_functions:score")))
    graph = ColumnGraph.from_config(config)
    assert graph.upstream["loyalty"] == {"visits"}
    assert sys.modules["loyalty_functions"].__file__ == str(project / "loyalty_functions.py")


def test_a_config_whose_function_module_is_missing_names_the_column(write):
    config = load_config(write("shop.yaml", CONFIG.format(function="gone_functions:score")))
    with pytest.raises(ImportFunctionError, match=r"column 'loyalty'.*'gone_functions'"):
        ColumnGraph.from_config(config)


def test_a_config_whose_function_is_missing_names_the_column(write):
    write("loyalty_functions.py", "def score(row):\n    return 1\n")
    config = load_config(write("shop.yaml", CONFIG.format(function="loyalty_functions:points")))
    with pytest.raises(ImportFunctionError, match=r"column 'loyalty'.*'points'"):
        ColumnGraph.from_config(config)
