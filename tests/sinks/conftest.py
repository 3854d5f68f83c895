"""Fixtures for sink tests: row-group results built from small frames."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pytest

from dagen.generators import CellFailure
from dagen.sinks.assemble import RowGroupResult


@pytest.fixture
def result() -> Callable[..., RowGroupResult]:
    """``result(row_group, frame, dropped={row: CellFailure})``: a written-ready row group."""

    def _result(
        row_group: int, frame: pd.DataFrame, dropped: dict[int, CellFailure] | None = None
    ) -> RowGroupResult:
        dropped = dropped or {}
        return RowGroupResult(
            row_group=row_group,
            size=len(frame) + len(dropped),
            rows=len(frame),
            table=pa.Table.from_pandas(frame, preserve_index=False),
            dropped=dropped,
            counts={str(c): int(n) for c, n in frame.notna().sum().items()},
        )

    return _result
