"""Why a run stops: the errors the run loop raises for failing tasks and failing cells.

    task_error           a task raised: its own ``DagenError``, or a ``GenerationError``
                         naming the row group and column
    failure_rate_error   too many of a column's recent cells failed for good
                         (``RunSettings.early_shutdown``): an ``EarlyShutdownError`` naming
                         the column and the most frequent failure, else None

Example:
    >>> failure_rate_error(EarlyShutdown(error_rate=None), CompletionTracker()) is None
    True
"""

from __future__ import annotations

from dagen.cluster.watcher import Finished
from dagen.config.run import EarlyShutdown
from dagen.errors import DagenError, EarlyShutdownError, GenerationError
from dagen.tracking.tracker import CompletionTracker

__all__ = ["failure_rate_error", "task_error"]


def failure_rate_error(
    policy: EarlyShutdown, tracker: CompletionTracker
) -> EarlyShutdownError | None:
    """The error that stops a run whose cells fail too often, or None while they do not."""
    if policy.error_rate is None:
        return None
    found = tracker.failure_rate(policy.min_cells)
    if found is None or found[0] <= policy.error_rate:
        return None
    rate, column = found
    common = tracker.most_common_failure()
    detail = (
        f"; most frequent: column {common.column!r}, {common.error_type}: {common.message}"
        if common
        else ""
    )
    return EarlyShutdownError(
        f"{rate:.0%} of the last {tracker.window_cells} cells of column {column!r} "
        f"failed with non-retryable errors (threshold {policy.error_rate:.0%}){detail}. "
        "Row groups already written are kept."
    )


def task_error(finished: Finished) -> DagenError:
    """The error of a task that raised, naming its row group and column."""
    ref = finished.ref
    where = f"row group {ref.row_group}" + (f", column {ref.column!r}" if ref.column else "")
    try:
        exc = finished.future.exception(timeout=5)
    except Exception as inner:  # cancelled futures raise here
        exc = inner
    if isinstance(exc, DagenError):
        return exc
    return GenerationError(
        f"{where}: task failed: {type(exc).__name__}: {exc}",
        column=ref.column,
        row_group=ref.row_group,
    )
