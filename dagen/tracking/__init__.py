"""Tracking: what is done (``CompletionTracker``), and how a run is going (``RunProgress``,
``WorkerFigures``, ``Timeline``). Pure bookkeeping, no I/O."""

from dagen.tracking.figures import ModelFigures, WorkerFigures
from dagen.tracking.progress import RateMeter, RunProgress
from dagen.tracking.timeline import Timeline
from dagen.tracking.tracker import CompletionTracker

__all__ = [
    "CompletionTracker",
    "ModelFigures",
    "RateMeter",
    "RunProgress",
    "Timeline",
    "WorkerFigures",
]
