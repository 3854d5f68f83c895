"""Functions used by people.yaml: one cell by cell, one over the whole row group."""

import pandas as pd


def loyalty_score(row: dict) -> float:
    """A score from a person's age and visit count."""
    return round(row["visits"] * 10 + (row["age"] - 18) / 7.2, 2)


def rank_within_group(df: pd.DataFrame) -> pd.Series:
    """Percentile rank of each row's score within its row group."""
    return df["score"].rank(pct=True).round(4)
