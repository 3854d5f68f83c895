"""User functions the no-model benchmark config calls (importable on every worker).

Example:
    >>> score_row({"age": 30, "city": "Oslo"})
    36.3
"""

from __future__ import annotations

from typing import Any

__all__ = ["score_row"]


def score_row(row: dict[str, Any]) -> float:
    """A cell-by-cell score from a row's age and city: cheap, so engine overhead shows."""
    return round(row["age"] * 1.2 + len(row["city"]) * 0.1 - 0.1, 2)
