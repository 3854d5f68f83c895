"""Custom generators: the user's function, sync or async, cell by cell or full column."""

from __future__ import annotations

import asyncio

import pandas as pd

from dagen.config.columns import CustomColumnConfig
from dagen.generators import BatchContext, CellFailure, FailedBlock
from dagen.generators.custom import CustomGenerator


def custom(function, *, name: str = "score", full_column: bool = False, **params):
    strategy = "full_column" if full_column else "cell_by_cell"
    config = CustomColumnConfig(
        name=name, function=function, generation_strategy=strategy, params=params
    )
    return CustomGenerator(config, function, ("visits",))


CTX = BatchContext("score", 4, 400, 100, seed=1)


# -- cell by cell ----------------------------------------------------------------------------


def test_a_sync_cell_function_gets_the_row_and_its_params():
    def loyalty(row, *, factor):
        return row["visits"] * factor

    gen = custom(loyalty, factor=10)
    assert not gen.is_async
    assert gen.run_cell({"visits": 3}, CTX, 5) == {"score": 30}


def test_an_async_cell_function_runs_on_an_event_loop():
    async def loyalty(row):
        await asyncio.sleep(0)
        return row["visits"] + 1

    gen = custom(loyalty)
    assert gen.is_async
    assert asyncio.run(gen.arun_cell({"visits": 3}, CTX, 5)) == {"score": 4}


def test_a_sync_function_also_runs_through_the_async_path():
    gen = custom(lambda row: row["visits"] * 2)
    assert asyncio.run(gen.arun_cell({"visits": 3}, CTX, 5)) == {"score": 6}


def test_a_dict_result_with_the_column_is_taken_as_is_and_other_dicts_are_values():
    assert custom(lambda row: {"score": 1}).run_cell({}, CTX, 0) == {"score": 1}
    assert custom(lambda row: {"a": 1}).run_cell({}, CTX, 0) == {"score": {"a": 1}}


def test_a_raising_cell_function_becomes_a_failure_value():
    def loyalty(row):
        return row["visits"] / row["days"]

    result = custom(loyalty).run_cell({"visits": 3, "days": 0}, CTX, 7)
    assert result == CellFailure(
        column="score",
        row_group=4,
        row=7,
        error_type="ZeroDivisionError",
        message="division by zero",
    )


def test_a_raising_async_cell_function_becomes_a_failure_value():
    async def loyalty(row):
        raise KeyError("days")

    result = asyncio.run(custom(loyalty).arun_cell({"visits": 3}, CTX, 2))
    assert isinstance(result, CellFailure)
    assert (result.column, result.row_group, result.row) == ("score", 4, 2)
    assert result.error_type == "KeyError"
    assert "days" in result.message


# -- full column ---------------------------------------------------------------------------


def test_a_full_column_function_gets_the_surviving_rows_and_keeps_their_positions():
    seen = []

    def rank(df):
        seen.append(df.index.tolist())
        return df["visits"].rank()

    frame = pd.DataFrame({"visits": [5, 1, 3]}, index=[0, 2, 9])
    block = custom(rank, full_column=True).run_batch(frame, CTX)
    assert seen == [[0, 2, 9]]
    assert block.frame["score"].to_dict() == {0: 3.0, 2: 1.0, 9: 2.0}
    assert not block.failures


def test_a_full_column_function_may_return_a_list_in_row_order():
    frame = pd.DataFrame({"visits": [5, 1]}, index=[3, 8])
    block = custom(lambda df: ["high", "low"], full_column=True).run_batch(frame, CTX)
    assert block.frame["score"].to_dict() == {3: "high", 8: "low"}


def test_a_full_column_function_cannot_change_the_input_rows():
    def mutate(df):
        df["visits"] = 0
        return df["visits"]

    frame = pd.DataFrame({"visits": [5, 1]})
    custom(mutate, full_column=True).run_batch(frame, CTX)
    assert frame["visits"].tolist() == [5, 1]


def test_an_async_full_column_function():
    async def rank(df):
        return df["visits"] * 2

    frame = pd.DataFrame({"visits": [5, 1]})
    block = asyncio.run(custom(rank, full_column=True).arun_batch(frame, CTX))
    assert block.frame["score"].tolist() == [10, 2]


def test_a_wrong_number_of_values_fails_every_row_naming_the_column_and_row_group():
    frame = pd.DataFrame({"visits": [5, 1, 3]}, index=[0, 1, 5])
    block = custom(lambda df: [1, 2], full_column=True).run_batch(frame, CTX)
    assert isinstance(block, FailedBlock)
    assert block.rows == []
    assert sorted(block.failures) == [0, 1, 5]
    for row, failure in block.failures.items():
        assert (failure.column, failure.row_group, failure.row) == ("score", 4, row)
        assert failure.error_type == "GenerationError"
        assert "column 'score', row group 4" in failure.message
        assert "2 values for 3 rows" in failure.message


def test_a_raising_full_column_function_fails_every_row_with_its_reason():
    def rank(df):
        raise RuntimeError("ranking service down")

    block = custom(rank, full_column=True).run_batch(pd.DataFrame({"visits": [1, 2]}), CTX)
    assert sorted(block.failures) == [0, 1]
    message = block.failures[0].message
    assert "column 'score', row group 4" in message
    assert "RuntimeError: ranking service down" in message
