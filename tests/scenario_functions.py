"""User functions for custom columns in the engine tests (importable on every worker)."""

from __future__ import annotations

import asyncio
import os

import pandas as pd


def double(row: dict) -> int:
    return row["n"] * 2


async def slow_triple(row: dict) -> int:
    await asyncio.sleep(0.001)
    return row["n"] * 3


def total(df: pd.DataFrame) -> pd.Series:
    return df["doubled"] + df["tripled"]


async def async_rank(df: pd.DataFrame) -> pd.Series:
    await asyncio.sleep(0)
    return df["total"].rank()


def fail_on_multiples_of_seven(row: dict) -> int:
    if row["n"] % 7 == 0:
        raise ValueError(f"n={row['n']} is a multiple of seven")
    return row["n"]


def must_not_see_dropped(row: dict) -> int:
    # the engine never calls a generator for a row an upstream column dropped
    assert row["checked"] % 7 != 0, "called for a dropped row"
    return row["checked"] + 1


class RowGroupOrder:
    """A stateful full-column function: remembers the row groups it has seen."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, df: pd.DataFrame) -> pd.Series:
        first = int(df["row_id"].iloc[0]) if len(df) else -1
        self.seen.append(first)
        # the state is the ordered history, and the process it lives in
        return pd.Series(
            [f"{os.getpid()}:{','.join(map(str, self.seen))}"] * len(df), index=df.index
        )


row_group_order = RowGroupOrder()


def wrong_length(df: pd.DataFrame) -> list:
    return [1]


def row_ids(df: pd.DataFrame, context) -> list:
    return list(range(context.start_row, context.start_row + context.size))


def slow_square(row: dict) -> int:
    import time

    time.sleep(0.01)
    return row["n"] ** 2


def fail_from_300(row: dict) -> int:
    if row["n"] >= 300:
        raise ValueError("the upstream service rejects this row")
    return row["n"]


def logged_square(row: dict) -> int:
    """Squares n and logs the call (one line per call) to $DAGEN_TEST_CALL_LOG."""
    import time

    time.sleep(0.005)
    with open(os.environ["DAGEN_TEST_CALL_LOG"], "a") as log:
        log.write(f"{row['n']}\n")
    return row["n"] ** 2


def none_below_100(row: dict) -> int | None:
    """Nothing for the first 100 rows (a whole first row group of nulls), then a number."""
    return None if row["n"] < 100 else row["n"] * 2


# -- validation and embedding columns ----------------------------------------------------

GOOD_PYTHON = "def add(a, b):\n    return a + b\n"
BAD_PYTHON = "def add(a, b)\n    return a + b\n"  # planted: the colon is missing
GOOD_SQL = "SELECT id, name FROM users WHERE id = 1"
BAD_SQL = "SELECT id FROM users WHERE"  # planted: the condition is missing


def code_samples(row: dict) -> dict:
    """Per row: Python and SQL text, the bad ones planted on every fourth row."""
    bad = row["n"] % 4 == 0
    return {"python": BAD_PYTHON if bad else GOOD_PYTHON, "sql": BAD_SQL if bad else GOOD_SQL}


def python_of(row: dict) -> str:
    return row["sample"]["python"]


def sql_of(row: dict) -> str:
    return row["sample"]["sql"]


def flag_multiples_of_five(df: pd.DataFrame) -> pd.DataFrame:
    """A local callable validator: one verdict per row, and the batch it was given."""
    return pd.DataFrame(
        {"is_valid": df["n"] % 5 != 0, "batch_rows": [len(df)] * len(df)}, index=df.index
    )


def review_text(row: dict) -> str:
    return f"Review number {row['n']}: the product works."


def summarise_with_model(row: dict, models) -> dict:
    # a sync function calling a model through its handle; writes a side-effect column
    answer, messages = models["writer"].generate(f"Summarise row {row['n']}.")
    return {"summary": answer, "summary_turns": len(messages)}


async def ask_both_models(row: dict, models) -> str:
    first, _ = await models["writer"].agenerate(f"Row {row['n']} for the writer.")
    second, _ = await models["judge"].agenerate(f"Row {row['n']} for the judge.")
    return f"{first} | {second}"


def parity_with_flag(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"parity": df["n"] % 2, "is_even": df["n"] % 2 == 0})


def forgets_its_side_effect(row: dict) -> dict:
    return {"half": row["n"] / 2}


def describe_possibly_skipped(row: dict) -> str:
    # opts out of propagate_skip: sees the skipped value (None) and copes with it
    return "no reply" if row["reply"] is None else "replied"
