"""Run settings: how a run is cut into row groups and where it runs (not what it makes).

They are not part of the config fingerprint. The window, cells per task and cluster never
change the generated values; the seed does, and so does the row-group size (samplers are
seeded per row group), which is why ``--resume`` insists on the interrupted run's.

Example:
    >>> RunSettings(row_group_size=500).max_concurrent_row_groups
    4
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dagen.errors import ConfigValidationError

__all__ = ["ClusterSettings", "EarlyShutdown", "RunSettings"]


@dataclass(frozen=True)
class ClusterSettings:
    """How dagen starts a local cluster when it is given none.

    Attributes:
        n_workers: worker processes (default: the number of cores, at most 4).
        threads_per_worker: task slots per worker; async (LLM) tasks take a slot each
            while awaiting, so I/O-bound runs need many (default: chosen by the engine
            from the models' concurrency caps).
        dashboard_address: where the Dask dashboard listens (loopback by default; None
            for no dashboard).
        processes: worker processes (True) or threads of this process (False).
    """

    n_workers: int | None = None
    threads_per_worker: int | None = None
    dashboard_address: str | None = "127.0.0.1:8787"
    processes: bool = True

    @property
    def workers(self) -> int:
        """Worker processes of the local cluster: ``n_workers``, else one per core up to 4."""
        return self.n_workers or min(os.cpu_count() or 1, 4)


@dataclass(frozen=True)
class EarlyShutdown:
    """When to give up on a run whose rows keep failing.

    Attributes:
        error_rate: stop when more than this share of the cells in the window failed for
            good with a non-retryable error; None never stops.
        window: cells in the sliding window (the most recently finished ones).
        min_cells: cells seen before the rate is trusted.
    """

    error_rate: float | None = 0.5
    window: int = 500
    min_cells: int = 100


@dataclass(frozen=True)
class RunSettings:
    """How a run is executed.

    Attributes:
        row_group_size: rows per row group, and per parquet file.
        max_concurrent_row_groups: row groups in flight at once: the window that bounds
            the live task graph and the memory of a run, whatever its size.
        cells_per_task: rows of a cell-by-cell column per Dask task; 1 is one task per
            (column, row); None (the default) groups the cells of async (LLM) columns in
            small chunks and runs sync ones a row group per task (``chunk_sizes``).
        seed: overrides the config's seed.
        cluster: how to start a local cluster when none is given.
        progress_interval: seconds between progress log lines; None logs none.
        early_shutdown: when to stop a run whose rows keep failing.
        salvage_rounds: extra attempts, after a row group's main work, for its rows that
            failed with a retryable error (429, 5xx, timeout) after all retries.
        salvage_pause: seconds before the first salvage round (doubling each round).
    """

    row_group_size: int = 1000
    max_concurrent_row_groups: int = 4
    cells_per_task: int | None = None
    seed: int | None = None
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    progress_interval: float | None = 5.0
    early_shutdown: EarlyShutdown = field(default_factory=EarlyShutdown)
    salvage_rounds: int = 2
    salvage_pause: float = 5.0

    def __post_init__(self) -> None:
        for name in ("row_group_size", "max_concurrent_row_groups", "cells_per_task"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigValidationError(
                    f"setting {name} must be at least 1, got {getattr(self, name)}"
                )
