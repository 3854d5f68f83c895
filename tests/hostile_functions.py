"""Custom-column functions that misbehave as user code does (imported by worker processes)."""

from __future__ import annotations

import sys


def raises(row: dict) -> int:
    raise RuntimeError("the user's function failed")


def exits(row: dict) -> int:
    sys.exit(3)


def unstorable(row: dict) -> object:
    return object()  # no parquet column can hold it
