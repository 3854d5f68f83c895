"""Data Designer's contract for custom functions: the function gets the row (or the
DataFrame), adds its column, and returns it; dagen takes the column from it, never a
struct of the whole row, and a row without the column fails naming it."""

from __future__ import annotations

import asyncio
import functools
import logging
import textwrap

import pandas as pd
import pytest
from pydantic import BaseModel

import dagen
from dagen import ConfigValidationError, CustomColumnConfig, custom_column_generator
from dagen.generators import BatchContext, CellFailure, FailedBlock
from dagen.generators.custom import CustomGenerator

CTX = BatchContext("greeting", 0, 0, 3, seed=1)


def generator(function, *, full_column=False, reads=("name",), **fields):
    strategy = "full_column" if full_column else "cell_by_cell"
    config = CustomColumnConfig(
        name="greeting", function=function, generation_strategy=strategy, **fields
    )
    return CustomGenerator(config, function, reads)


def data_designer_decorator(**metadata):
    """What DD 0.9.7's ``@custom_column_generator`` does: metadata on a sync wrapper."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            return function(*args, **kwargs)

        wrapper.custom_column_metadata = {
            "required_columns": [], "side_effect_columns": [], "model_aliases": [], **metadata
        }  # fmt: skip
        return wrapper

    return decorate


class Params(BaseModel):
    greeting: str = "Hello"


# -- cell by cell ----------------------------------------------------------------------------


def test_a_function_returning_the_row_yields_the_column_not_a_struct_of_the_row():
    def greet(row):  # no decorator: a dagen function written the DD way
        row["greeting"] = f"Hi {row['name']}"
        return row

    assert generator(greet).run_cell({"name": "Ada"}, CTX, 0) == {"greeting": "Hi Ada"}


def test_a_decorated_function_that_forgets_its_column_fails_the_row_naming_it():
    @custom_column_generator()
    def greet(row):
        row["greting"] = "typo"
        return row

    failure = generator(greet).run_cell({"name": "Ada"}, CTX, 2)
    assert isinstance(failure, CellFailure)
    assert failure.column == "greeting" and failure.row == 2
    assert "returned a row without 'greeting'" in failure.message


def test_returning_the_row_unchanged_is_an_error_not_a_struct_value():
    failure = generator(lambda row: row).run_cell({"name": "Ada"}, CTX, 0)
    assert isinstance(failure, CellFailure)
    assert "without 'greeting'" in failure.message


def test_a_decorated_function_returning_a_value_instead_of_the_row_fails_naming_the_column():
    failure = generator(custom_column_generator()(lambda row: "Hi")).run_cell(
        {"name": "Ada"}, CTX, 0
    )
    assert isinstance(failure, CellFailure)
    assert "must return the row (a dict) with key 'greeting'" in failure.message


def test_side_effect_columns_come_from_the_decorator_and_undeclared_keys_are_dropped(caplog):
    @data_designer_decorator(side_effect_columns=["shout"])
    def greet(row):
        row["greeting"] = f"Hi {row['name']}"
        row["shout"] = row["greeting"].upper()
        row["scratch"] = 1
        return row

    gen = generator(greet)
    assert gen.outputs == ("greeting", "shout")
    with caplog.at_level(logging.WARNING, logger="dagen"):
        assert gen.run_cell({"name": "Ada"}, CTX, 0) == {"greeting": "Hi Ada", "shout": "HI ADA"}
        gen.run_cell({"name": "Bo"}, CTX, 1)
    warnings = [r.getMessage() for r in caplog.records if "undeclared" in r.getMessage()]
    assert warnings == [
        "column 'greeting': the function created undeclared columns ['scratch']; they are "
        "dropped (declare them in side_effect_columns to keep them)"
    ]


def test_a_missing_side_effect_column_fails_the_row_naming_it():
    @custom_column_generator(side_effect_columns=["shout"])
    def greet(row):
        row["greeting"] = "Hi"
        return row

    failure = generator(greet).run_cell({"name": "Ada"}, CTX, 0)
    assert isinstance(failure, CellFailure) and "'shout'" in failure.message


def test_generator_params_are_the_annotated_model_as_data_designer_passes_them():
    def greet(row, generator_params: Params):
        row["greeting"] = f"{generator_params.greeting} {row['name']}"
        return row

    gen = generator(greet, params={"greeting": "Hej"})
    assert gen.run_cell({"name": "Ada"}, CTX, 0) == {"greeting": "Hej Ada"}


def test_generator_params_are_optional_and_none_when_the_column_has_none():
    seen = []

    def greet(row, generator_params):
        seen.append(generator_params)
        row["greeting"] = "Hi"
        return row

    assert generator(greet).run_cell({"name": "Ada"}, CTX, 0) == {"greeting": "Hi"}
    generator(greet, params={"greeting": "Hej"}).run_cell({"name": "Ada"}, CTX, 0)
    assert seen[0] is None
    assert seen[1].greeting == "Hej"  # no model annotated: a namespace of the params


def test_params_that_do_not_fit_the_model_are_a_config_error_naming_the_column():
    def greet(row, generator_params: Params):
        return row

    with pytest.raises(
        ConfigValidationError, match=r"column 'greeting': generator_params do not fit Params"
    ):
        generator(greet, params={"greeting": ["not", "text"]})


def test_an_async_function_behind_data_designers_sync_wrapper_is_awaited():
    @data_designer_decorator()
    async def greet(row):
        await asyncio.sleep(0)
        row["greeting"] = f"Hi {row['name']}"
        return row

    gen = generator(greet)
    assert gen.is_async
    assert asyncio.run(gen.arun_cell({"name": "Ada"}, CTX, 0)) == {"greeting": "Hi Ada"}


# -- full column -----------------------------------------------------------------------------


def test_a_full_column_function_returning_the_dataframe_yields_the_column():
    @custom_column_generator()
    def greet(df):
        df["greeting"] = "Hi " + df["name"]
        return df

    frame = pd.DataFrame({"name": ["Ada", "Bo"]}, index=[3, 5])
    block = generator(greet, full_column=True).run_batch(frame, CTX)
    assert block.frame.to_dict() == {"greeting": {3: "Hi Ada", 5: "Hi Bo"}}


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (lambda df: df, "without column(s) 'greeting'"),
        (lambda df: ["Hi"] * len(df), "must return the DataFrame with column 'greeting' added"),
    ],
    ids=["without-the-column", "not-a-dataframe"],
)
def test_a_full_column_function_breaking_the_contract_fails_the_row_group(result, message):
    gen = generator(custom_column_generator()(result), full_column=True)
    block = gen.run_batch(pd.DataFrame({"name": ["Ada", "Bo"]}), CTX)
    assert isinstance(block, FailedBlock)
    assert sorted(block.failures) == [0, 1]
    for failure in block.failures.values():
        assert failure.column == "greeting" and message in failure.message


# -- models ----------------------------------------------------------------------------------

MODELS_MODULE = """
from dagen import custom_column_generator


@custom_column_generator(required_columns=["name"], model_aliases=["writer"])
def write_line(row, generator_params, models):
    answer, messages = models["writer"].generate(f"One line about {row['name']}.")
    row["line"] = answer
    row["line_turns"] = len(messages)
    return row
"""


def test_a_three_argument_function_calls_the_decorators_model_aliases(tmp_path, server, client):
    (tmp_path / "writer_functions.py").write_text(MODELS_MODULE)
    (tmp_path / "lines.yaml").write_text(
        textwrap.dedent(
            f"""
            seed: 3
            models:
              - {{alias: writer, model: mock-writer, endpoint: "{server.url}"}}
            columns:
              - {{name: name, column_type: sampler, sampler_type: category,
                  params: {{values: [Ada, Bo]}}}}
              - {{name: line, column_type: custom, function: write_line,
                  side_effect_columns: [line_turns]}}
            """
        )
    )
    config = dagen.load_config(tmp_path / "lines.yaml", functions=["writer_functions"])
    assert config.column("line").model_aliases == ("writer",)
    frame = dagen.generate(
        config, num_records=4, output_dir=tmp_path / "out", client=client
    ).to_pandas()
    assert list(frame.columns) == ["name", "line", "line_turns"]
    assert frame["line"].map(lambda v: isinstance(v, str) and v != "").all()
    assert frame["line_turns"].tolist() == [2, 2, 2, 2]
