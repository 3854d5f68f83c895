"""The watcher: waits on a run's futures and says which task each finished one was.

A thin wrapper over ``distributed.as_completed`` that maps each finished future back to its
``TaskRef`` (domain coordinates) and tells, from the future's type alone, whether its
result holds failures, so the engine fetches only the results it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from distributed import Client, Future, as_completed

from dagen.cluster.fused import FailedFusedBlocks
from dagen.cluster.tasks import FailedChunk
from dagen.generators.base import CellFailure, FailedBlock
from dagen.lowering.plan import TaskRef

__all__ = ["Finished", "Watcher"]


@dataclass(frozen=True, slots=True)
class Finished:
    """A finished task: its coordinates, its future, and what the future's type says."""

    ref: TaskRef
    future: Future

    @property
    def errored(self) -> bool:
        """The task raised (a bug, or a worker lost too many times), or was cancelled."""
        return self.future.status in ("error", "cancelled")

    @property
    def lost(self) -> bool:
        """The result was lost with a dying worker after finishing: Dask recomputes it."""
        return self.future.status in ("lost", "pending")

    @property
    def has_failures(self) -> bool:
        """The result records at least one failed cell."""
        kind = self.future.type
        return isinstance(kind, type) and issubclass(
            kind, (FailedChunk, FailedBlock, FailedFusedBlocks, CellFailure)
        )


class Watcher:
    """Yields finished tasks in completion order, in batches."""

    def __init__(self, client: Client) -> None:
        self._refs: dict[Any, TaskRef] = {}  # Dask key -> task
        self._ac = as_completed(with_results=False, loop=client.loop)

    def add(self, refs: Iterable[TaskRef], futures: dict) -> None:  # type: ignore[type-arg]
        """Start watching a row group's futures."""
        batch = []
        for ref in refs:
            future = futures[ref.key]
            self._refs[future.key] = ref
            batch.append(future)
        self._ac.update(batch)

    def next_batch(self) -> list[Finished]:
        """Block until at least one watched future finishes; all that have, in order."""
        return [Finished(self._refs.pop(f.key), f) for f in self._ac.next_batch(block=True)]

    def again(self, finished: Finished) -> None:
        """Watch a lost result again until Dask has recomputed it."""
        self._refs[finished.future.key] = finished.ref
        self._ac.add(finished.future)

    def __len__(self) -> int:
        return self._ac.count()

    def clear(self) -> None:
        self._ac.clear()
        self._refs.clear()
