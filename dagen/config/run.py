"""Run settings: how a run is cut into row groups and where it runs (not what it makes).

They are arguments of ``generate``, not parts of a config file: a value out of range is a
mistake of the caller and raises ``ValueError`` (a value of the wrong type ``TypeError``),
naming the setting. They are not part of the config fingerprint. The window, cells per task and cluster never
change the generated values; the seed does, and so does the row-group size (samplers are
seeded per row group), which is why ``--resume`` insists on the interrupted run's.

Example:
    >>> RunSettings(row_group_size=500).max_concurrent_row_groups
    4
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dagen.config.cluster import check_adapt

__all__ = ["ClusterSettings", "EarlyShutdown", "RunMode", "RunSettings", "TemplateLimits"]


def _check_int(owner: object, name: str, low: int | None, optional: bool = False) -> None:
    """Raise unless ``owner.name`` is an int >= ``low`` (any int when ``low`` is None), or
    None when ``optional``."""
    value = getattr(owner, name)
    if value is None and optional:
        return
    kind = type(owner).__name__
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        want = "an int or None" if optional else "an int"
        raise TypeError(f"{kind} {name} must be {want}, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{kind} {name} must be at least {low}, got {value}")


def _check_number(owner: object, name: str, low: float, optional: bool = False) -> None:
    """Raise unless ``owner.name`` is a finite number >= ``low`` (or None when ``optional``)."""
    value = getattr(owner, name)
    if value is None and optional:
        return
    kind = type(owner).__name__
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        want = "a number or None" if optional else "a number"
        raise TypeError(f"{kind} {name} must be {want}, got {value!r}")
    if not math.isfinite(value) or value < low:
        raise ValueError(f"{kind} {name} must be a finite number >= {low}, got {value}")


class RunMode(StrEnum):
    """What a run does with an output that already holds data (``generate(mode=...)``;
    the CLI's ``--overwrite``, ``--resume``, ``--update``).

    Attributes:
        NEW: write a new dataset; an output that holds data is refused.
        OVERWRITE: replace the dataset the output holds (once the new one is complete).
        RESUME: continue the interrupted run the output holds (``-n`` may grow).
        UPDATE: regenerate only the columns whose config changed (``dagen.plan_update``).

    Example:
        >>> RunMode("resume") is RunMode.RESUME, RunMode.UPDATE.keeps_data
        (True, True)
    """

    NEW = "new"
    OVERWRITE = "overwrite"
    RESUME = "resume"
    UPDATE = "update"

    @property
    def keeps_data(self) -> bool:
        """Whether the run keeps what the output holds (a resume or an update)."""
        return self in (RunMode.RESUME, RunMode.UPDATE)


@dataclass(frozen=True)
class ClusterSettings:
    """How dagen starts a cluster when it is given none: a LocalCluster by default, or
    the cluster class ``cluster_class`` names (``dagen.config.cluster``).

    Attributes:
        n_workers: worker processes (default: the number of cores, at most 4).
        threads_per_worker: task slots per worker; async (LLM) tasks take a slot each
            while awaiting, so I/O-bound runs need many (default: chosen by the engine
            from the models' concurrency caps).
        dashboard_address: where the Dask dashboard listens (loopback by default; None
            for no dashboard).
        processes: worker processes (True) or threads of this process (False).
        cluster_class: a short name (``local``, ``slurm``, ``pbs``, ``gateway``,
            ``kubernetes``) or the dotted path of a cluster class dagen starts, waits for
            and closes; None: a LocalCluster from the fields above.
        cluster_kwargs: keyword arguments the cluster class is made with.
        adapt: (minimum, maximum) workers for ``cluster.adapt``; None: no adaptive scaling
            (with no ``cluster_class``, the LocalCluster adapts).
        start_timeout: seconds to wait for the started cluster's first workers.
    """

    n_workers: int | None = None
    threads_per_worker: int | None = None
    dashboard_address: str | None = "127.0.0.1:8787"
    processes: bool = True
    cluster_class: str | None = None
    cluster_kwargs: Mapping[str, Any] = field(default_factory=dict)
    adapt: tuple[int, int] | None = None
    start_timeout: float = 120.0

    @property
    def workers(self) -> int:
        """Worker processes of the local cluster: ``n_workers``, else one per core up to 4."""
        return self.n_workers or min(os.cpu_count() or 1, 4)

    def __post_init__(self) -> None:
        _check_int(self, "n_workers", 1, optional=True)
        _check_int(self, "threads_per_worker", 1, optional=True)
        if self.cluster_class is not None and (
            not isinstance(self.cluster_class, str) or not self.cluster_class.strip()
        ):
            raise TypeError(
                f"ClusterSettings cluster_class must be a class path, got {self.cluster_class!r}"
            )
        if not isinstance(self.cluster_kwargs, Mapping) or not all(
            isinstance(k, str) for k in self.cluster_kwargs
        ):
            raise TypeError(
                "ClusterSettings cluster_kwargs must be a mapping of names to values, "
                f"got {self.cluster_kwargs!r}"
            )
        if self.adapt is not None:
            check_adapt(self.adapt)
            object.__setattr__(self, "adapt", tuple(self.adapt))
        _check_number(self, "start_timeout", 0.0)
        if self.start_timeout == 0:
            raise ValueError("ClusterSettings start_timeout must be more than 0")

    @property
    def chosen(self) -> bool:
        """Whether a cluster class, its options or adaptive scaling were asked for."""
        return bool(self.cluster_class or self.cluster_kwargs or self.adapt)


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

    def __post_init__(self) -> None:
        _check_number(self, "error_rate", 0.0, optional=True)
        if self.error_rate is not None and self.error_rate > 1:
            raise ValueError(f"EarlyShutdown error_rate must be at most 1, got {self.error_rate}")
        _check_int(self, "window", 1)
        _check_int(self, "min_cells", 0)


@dataclass(frozen=True)
class TemplateLimits:
    """Bounds on one render of a template (an expression, a prompt) for one row.

    A template past either bound fails its row with ``TemplateLimitError`` naming the
    column and the bound (``dagen.generators.sandbox`` says how they are enforced).

    Attributes:
        render_seconds: wall time one render may take.
        max_value_bytes: size of the rendered text, and of any value built on the way.
    """

    render_seconds: float = 10.0
    max_value_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        _check_number(self, "render_seconds", 0.0)
        if self.render_seconds == 0:
            raise ValueError("TemplateLimits render_seconds must be more than 0")
        _check_int(self, "max_value_bytes", 1)


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
        template_limits: time and size bounds on each render of a template.
        max_cost: USD the dataset may cost at most (every model it calls needs
            ``pricing``): no row group is started whose projected spend would pass it,
            and the run then stops, keeping what it wrote (``dagen.lowering.budget``).
        exact: ``num_records`` counts the rows written (after drops and filters): row
            groups are admitted, sized from the keep rate seen so far, until exactly that
            many are written, in row order (``dagen.lowering.exact``).
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
    template_limits: TemplateLimits = field(default_factory=TemplateLimits)
    max_cost: float | None = None
    exact: bool = False

    def __post_init__(self) -> None:
        _check_int(self, "row_group_size", 1)
        _check_int(self, "max_concurrent_row_groups", 1)
        _check_int(self, "cells_per_task", 1, optional=True)
        _check_int(self, "seed", None, optional=True)
        _check_number(self, "progress_interval", 0.0, optional=True)
        _check_int(self, "salvage_rounds", 0)
        _check_number(self, "salvage_pause", 0.0)
        _check_number(self, "max_cost", 0.0, optional=True)
        if not isinstance(self.exact, bool):
            raise TypeError(f"RunSettings exact must be a bool, got {self.exact!r}")
        for name, kind in (
            ("cluster", ClusterSettings),
            ("early_shutdown", EarlyShutdown),
            ("template_limits", TemplateLimits),
        ):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(
                    f"RunSettings {name} must be a {kind.__name__}, got {getattr(self, name)!r}"
                )
