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


def none_on_multiples_of_three(row: dict) -> int | None:
    """n, or no value (null) when n is a multiple of three: a column with nulls."""
    return None if row["n"] % 3 == 0 else row["n"]
