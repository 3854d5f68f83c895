"""What ``dagen run`` shows while it runs: a progress bar on a terminal, lines elsewhere.

Verbosity (``-q`` / default / ``-v``):

    quiet     errors and warnings only: no progress, no links, no summary
    default   the dashboard link, then a bar (terminal) or a progress line every 5 s
              (not a terminal: CI logs, pipes), then the summary
    verbose   also Dask's own log at INFO, dagen's at DEBUG, and progress lines under the bar

The bar (``rich``) counts cells over the whole run and shows the percentage, rows written
and dropped, rows/s (from cells progressed, not only rows written), the ETA, and each
model's calls in flight against its cap with its 429s. Its figures are the run's
``RunProgress`` snapshots (``generate(progress=...)``), about one per second.

Example:
    >>> setup_logging(QUIET); logging.getLogger("dagen").getEffectiveLevel() == logging.WARNING
    True
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from dagen.tracking.progress import RunProgress

__all__ = ["DEFAULT", "QUIET", "VERBOSE", "RunDisplay", "setup_logging"]

QUIET, DEFAULT, VERBOSE = -1, 0, 1
_CONSOLE = Console(stderr=True)


def on_terminal() -> bool:
    """Whether progress goes to a terminal (a bar) or not (plain lines)."""
    return _CONSOLE.is_terminal


def setup_logging(verbosity: int) -> None:
    """Route dagen's and Dask's logs to stderr at the levels of ``verbosity``."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_dagen", False):
            root.removeHandler(old)
    handler: logging.Handler
    if on_terminal():
        handler = RichHandler(console=_CONSOLE, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s", datefmt="%H:%M:%S"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
        )
    setattr(handler, "_dagen", True)  # noqa: B010 (found again by the next setup)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    dagen_level = {QUIET: logging.WARNING, DEFAULT: logging.INFO, VERBOSE: logging.DEBUG}
    logging.getLogger("dagen").setLevel(dagen_level[verbosity])
    dask_level = logging.INFO if verbosity == VERBOSE else logging.ERROR
    for name in ("distributed", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(dask_level)


class RunDisplay:
    """The bar of one run on a terminal; use ``show`` as ``generate``'s ``progress``."""

    def __init__(self) -> None:
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[models]}"),
            console=_CONSOLE,
            transient=False,
            refresh_per_second=4,
        )
        self.task = self.bar.add_task("cells", total=None, rows="", rate="", eta="?", models="")

    @contextmanager
    def shown(self) -> Iterator[RunDisplay]:
        with self.bar:
            yield self

    def show(self, progress: RunProgress) -> None:
        """Update the bar from a snapshot."""
        self.bar.update(self.task, **_fields(progress))


def _fields(p: RunProgress) -> dict[str, Any]:
    eta = "?" if p.eta is None else _duration(p.eta)
    models = "  ".join(
        f"{m.alias} {m.in_flight}/{m.cap}" + (f" 429x{m.rate_limited}" if m.rate_limited else "")
        for m in p.models.values()
    )
    return {
        "completed": p.cells_done,
        "total": p.cells_planned or None,
        "rows": f"rows {p.rows_written}/{p.rows_planned}"
        + (f" ({p.rows_dropped} dropped)" if p.rows_dropped else ""),
        "rate": f"{p.rows_per_s:.1f} rows/s" + (f"  ${p.cost:.4f}" if p.cost is not None else ""),
        "eta": eta,
        "models": models,
    }


def _duration(value: float) -> str:
    whole = round(value)
    if whole < 60:
        return f"{whole}s"
    minutes, seconds = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
