"""Admission: which tasks of the row groups in flight are handed to Dask, and when.

A Dask worker runs its resource-constrained tasks in priority order and stops at the first
one whose resource is used up (dask/distributed#6136). Were every task of a row group handed
over at once, a model at its cap would hold back every other model's ready cells queued
behind it on the same worker: two models would throttle each other. So the engine hands a
model's cells over only when a worker has room for them in that model's share:

    model cell      handed over once every task it reads has finished and a worker has
                    free credit for the model; pinned (loosely) to that worker
    any other task  handed over as soon as every task it waits on has been handed over

A worker's credit for a model is the Dask resource it holds for it (``QUEUED_PER_SLOT`` x
its share of the model's cap), so on each worker a model's cells that are ready or running
never need more than the worker has: whatever cell tops a worker's queue can start, and a
model at its cap keeps its own cells waiting here, in the engine, not in front of another
model's. Cells waiting for credit are taken oldest row group first, then by row, then the
deeper column first, so rows finish in order and a model downstream is fed as early as it
can be.

Pure bookkeeping: no Dask here. The engine feeds it plans, shares and finished keys; the
session submits what ``take`` returns.

Example:
    >>> from dagen.graph import ColumnGraph
    >>> g = ColumnGraph.from_edges({"topic": [], "text": ["topic"]})
    >>> plan = RowGroupPlan.build(g, RowGroup(0, 0, 4), run="r", cells_per_task=2)
    >>> gate = Admission({"text": "m"}, g.order)
    >>> gate.set_shares({"m": {"w1": 1}})  # credit: 2 cells on w1
    >>> gate.add(plan)
    >>> [h.ref.key for h in gate.take()]  # topic's chunks; text's wait for them to finish
    [('topic', 'r', 0, 0), ('topic', 'r', 0, 2), ('topic.rows', 'r', 0)]
    >>> gate.finished(('topic', 'r', 0, 0)); gate.finished(('topic', 'r', 0, 2))
    >>> [(h.ref.key, h.worker) for h in gate.take()]  # one chunk fits the credit
    [(('text', 'r', 0, 0), 'w1')]
    >>> gate.waiting  # the other waits for it to finish
    1
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dagen.lowering.plan import Key, RowGroup, RowGroupPlan, TaskRef
from dagen.lowering.shares import shares

__all__ = [
    "QUEUED_PER_SLOT",
    "Admission",
    "Handover",
    "fit_to_slots",
    "local_cluster_slots",
    "shares",
    "slots_needed",
]

QUEUED_PER_SLOT = 2  # model cells a worker may hold per slot of its share: in flight + queued


def slots_needed(
    chunking: Mapping[str, int],
    column_models: Mapping[str, str],
    shares: Mapping[str, Mapping[str, int]],
    worker: str,
) -> int:
    """Tasks ``worker`` runs at once to hold its credit of every model, plus one for the rest.

    Dask counts an async task against a worker's ``nthreads`` while its calls wait, so a
    worker short of slots makes a model's cells wait behind another model's.

    Args:
        chunking: rows per task of each cell-by-cell column.
        column_models: LLM column -> model alias.
        shares: each model's share of its cap on each worker (alias -> worker -> share).
        worker: the worker.
    """
    needed = 1
    for alias, per_worker in shares.items():
        per_task = min(chunking[c] for c, a in column_models.items() if a == alias)
        needed += -(-QUEUED_PER_SLOT * per_worker.get(worker, 0) // per_task)
    return needed


def local_cluster_slots(caps: Mapping[str, int], workers: int) -> int:
    """Task slots per worker for a cluster dagen starts: ``slots_needed`` of the worker with
    the largest share of every model, at the finest chunking (one row per task).

    >>> local_cluster_slots({"writer": 16, "judge": 5}, workers=2)
    23
    """
    split = {alias: shares(cap, workers) for alias, cap in caps.items()}
    per_worker = {alias: {"w0": max(s)} for alias, s in split.items()}
    return slots_needed(dict.fromkeys(caps, 1), {a: a for a in caps}, per_worker, "w0")


def fit_to_slots(
    chunking: Mapping[str, int],
    column_models: Mapping[str, str],
    shares: Mapping[str, Mapping[str, int]],
    slots: Mapping[str, int],
    row_group_size: int,
) -> dict[str, int]:
    """Coarser chunks for model columns until every worker has the slots its credit needs.

    While a worker is short (``slots_needed`` > its ``nthreads``), the chunks of the model
    needing the most tasks there double, up to the model's largest credit and the row
    group: fewer, larger tasks hold the same cells, so each model still reaches its cap.
    Gives up (the caller warns) when no model's chunks can grow.

    Args:
        chunking: rows per task of each cell-by-cell column.
        column_models: LLM column -> model alias.
        shares: each model's share of its cap on each worker (alias -> worker -> share).
        slots: tasks each worker runs at once (worker -> nthreads).
        row_group_size: rows per row group (no chunk is larger).
    """
    fitted = dict(chunking)
    limit = {
        alias: min(row_group_size, QUEUED_PER_SLOT * max(per_worker.values(), default=1))
        for alias, per_worker in shares.items()
    }
    columns = {a: [c for c, m in column_models.items() if m == a] for a in shares}
    while True:
        short = [
            w
            for w, n in sorted(slots.items())
            if slots_needed(fitted, column_models, shares, w) > n
        ]
        if not short:
            return fitted
        size = {a: min(fitted[c] for c in columns[a]) for a in shares}
        growable = [a for a in shares if shares[a].get(short[0], 0) and size[a] < limit[a]]
        if not growable:
            return fitted
        alias = max(growable, key=lambda a: shares[a][short[0]] / size[a])  # the most tasks
        fitted.update(dict.fromkeys(columns[alias], min(2 * size[alias], limit[alias])))


@dataclass(frozen=True, slots=True)
class Handover:
    """A task to submit now.

    Attributes:
        ref: the task (its ``after`` cleared when that task's row group is already written).
        row_group: the task's row group.
        worker: for a model cell, the worker whose credit it takes, else None.
        units: for a model cell, the units of the model's resource it needs, else 0.
    """

    ref: TaskRef
    row_group: RowGroup
    worker: str | None = None
    units: int = 0


class Admission:
    """Decides, task by task, when the row groups in flight go to Dask (module docstring).

    Args:
        column_models: LLM column -> model alias; their cell tasks wait for credit.
        order: the columns in topological order (a deeper column's cells go first).
    """

    def __init__(self, column_models: Mapping[str, str], order: Sequence[str]) -> None:
        self._model_of = dict(column_models)
        self._position = {col: i for i, col in enumerate(order)}
        self._credit: dict[str, dict[str, int]] = {}  # alias -> worker -> units it may hold
        self._used: dict[str, dict[str, int]] = {}  # alias -> worker -> units held now
        self._held: dict[Key, tuple[str, str, int]] = {}  # cell -> (alias, worker, units)
        self._groups: dict[int, RowGroup] = {}
        self._keys: dict[int, list[Key]] = {}  # row group -> its tasks' keys
        self._refs: dict[Key, TaskRef] = {}  # every task of the row groups in flight
        self._missing: dict[Key, int] = {}  # not handed yet -> what it still waits on
        self._dependents: dict[Key, list[Key]] = {}
        self._handed: set[Key] = set()
        self._finished: set[Key] = set()
        self._ready: dict[str, list[tuple[tuple[int, int, int], Key]]] = {}  # alias -> heap
        self._out: list[Handover] = []

    # -- what the engine tells it --------------------------------------------------------

    def set_shares(self, shares: Mapping[str, Mapping[str, int]]) -> None:
        """Each model's per-worker shares of its cap (model alias -> worker -> share).

        Called again when workers come or go: credit held on a worker that left is
        forgotten (Dask reruns its cells elsewhere, under the same resource caps).
        """
        self._credit = {
            alias: {w: QUEUED_PER_SLOT * n for w, n in per_worker.items() if n > 0}
            for alias, per_worker in shares.items()
        }
        self._used = {
            alias: {w: self._used.get(alias, {}).get(w, 0) for w in credit}
            for alias, credit in self._credit.items()
        }

    def add(self, plan: RowGroupPlan) -> None:
        """Admit a row group: its tasks are handed over as ``take`` allows."""
        self._groups[plan.row_group.index] = plan.row_group
        self._keys[plan.row_group.index] = [ref.key for ref in plan.tasks]
        for ref in plan.tasks:
            self._refs[ref.key] = ref
            waits = [
                dep
                for dep in (*ref.dependencies, ref.after)
                if dep is not None and dep in self._refs and not self._satisfied(ref, dep)
            ]
            self._missing[ref.key] = len(waits)
            for dep in waits:
                self._dependents.setdefault(dep, []).append(ref.key)
            if not waits:
                self._unblocked(ref)

    def finished(self, key: Key) -> None:
        """A handed-over task finished: its credit is free, cells reading it may go."""
        if key in self._finished or key not in self._refs:
            return  # a result recomputed after a worker loss, or of a written row group
        self._finished.add(key)
        held = self._held.pop(key, None)
        if held is not None:
            alias, worker, units = held
            if worker in self._used.get(alias, {}):
                self._used[alias][worker] -= units
        for dependent in self._dependents.get(key, ()):
            if self._is_model_cell(self._refs[dependent]):
                self._wake(dependent)

    def forget(self, row_group: int) -> None:
        """A row group is written or cancelled: drop its bookkeeping, and free the credit
        its unfinished cells held (a cancelled row group's never finish)."""
        self._groups.pop(row_group, None)
        for key in self._keys.pop(row_group, ()):
            del self._refs[key]
            self._missing.pop(key, None)
            self._dependents.pop(key, None)
            self._handed.discard(key)
            self._finished.discard(key)
            held = self._held.pop(key, None)
            if held is not None and held[1] in self._used.get(held[0], {}):
                self._used[held[0]][held[1]] -= held[2]
        for alias, heap in self._ready.items():  # cells still waiting for credit
            kept = [entry for entry in heap if entry[1] in self._refs]
            if len(kept) != len(heap):
                heapq.heapify(kept)
                self._ready[alias] = kept
        self._out = [h for h in self._out if h.ref.key in self._refs]

    # -- what it hands out -----------------------------------------------------------------

    def take(self, *, running_low_only: bool = False) -> list[Handover]:
        """The tasks to submit now, dependencies before dependents.

        Args:
            running_low_only: hand a model's cells only to the workers whose cells of that
                model no longer fill their share (its calls there would soon idle), topping
                them up; the engine takes this way between hand-overs close together, so
                that cells go in fewer, larger graphs. Other tasks always go.
        """
        for alias, heap in self._ready.items():
            eligible = self._running_low(alias) if running_low_only else None
            while heap:
                ref = self._refs[heap[0][1]]
                units = self.units(ref)
                worker = self._roomiest(alias, units, eligible)
                if worker is None:
                    break
                heapq.heappop(heap)
                self._used[alias][worker] += units
                self._held[ref.key] = (alias, worker, units)
                self._hand(ref, worker, units)
        out, self._out = self._out, []
        return out

    def units(self, ref: TaskRef) -> int:
        """Units of its model's resource a cell task needs: one per row, at most what the
        smallest worker credit holds (so a chunk larger than any share still runs)."""
        credit = self._credit.get(self._model_of[ref.column or ""], {})
        return max(1, min(ref.rows, min(credit.values(), default=1)))

    @property
    def running(self) -> int:
        """Tasks of the row groups in flight taken (``take``) and not finished yet."""
        return len(self._handed) - len(self._out) - len(self._finished)

    @property
    def waiting(self) -> int:
        """Model cell tasks whose inputs are ready, waiting for credit."""
        return sum(len(heap) for heap in self._ready.values())

    def in_use(self, alias: str) -> dict[str, int]:
        """Units of a model's credit held on each worker now."""
        return dict(self._used.get(alias, {}))

    # -- inside ------------------------------------------------------------------------------

    def _is_model_cell(self, ref: TaskRef) -> bool:
        return ref.kind == "cell" and ref.column in self._model_of

    def _satisfied(self, ref: TaskRef, dep: Key) -> bool:
        """Whether ``dep`` no longer holds ``ref`` back: finished for a model cell (it must
        be able to start at once), handed over for any other task (Dask orders the rest)."""
        return dep in self._finished if self._is_model_cell(ref) else dep in self._handed

    def _unblocked(self, ref: TaskRef) -> None:
        if not self._is_model_cell(ref):
            self._hand(ref, None, 0)
            return
        alias = self._model_of[ref.column or ""]
        order = (ref.row_group, ref.first_row or 0, -self._position[ref.column or ""])
        heapq.heappush(self._ready.setdefault(alias, []), (order, ref.key))

    def _wake(self, key: Key) -> None:
        self._missing[key] -= 1
        if self._missing[key] == 0:
            self._unblocked(self._refs[key])

    def _hand(self, ref: TaskRef, worker: str | None, units: int) -> None:
        """Hand a task over, then every task that was waiting only for it to be."""
        stack = [(ref, worker, units)]
        while stack:
            ref, worker, units = stack.pop()
            if ref.after is not None and ref.after not in self._refs:
                ref = dataclasses.replace(ref, after=None)  # its row group is written
            self._handed.add(ref.key)
            self._out.append(Handover(ref, self._groups[ref.row_group], worker, units))
            for dependent in reversed(self._dependents.get(ref.key, ())):
                follower = self._refs[dependent]
                if self._is_model_cell(follower):
                    continue  # it waits for this task to finish, not to be handed over
                self._missing[dependent] -= 1
                if self._missing[dependent] == 0:
                    stack.append((follower, None, 0))

    def _running_low(self, alias: str) -> set[str]:
        """Workers holding fewer of the model's cells than their share (calls would idle)."""
        used = self._used.get(alias, {})
        return {
            w
            for w, credit in self._credit.get(alias, {}).items()
            if used[w] < credit // QUEUED_PER_SLOT
        }

    def _roomiest(self, alias: str, units: int, among: set[str] | None = None) -> str | None:
        """The worker (of ``among``, if given) with the most free credit for ``alias``, if it
        has ``units`` free."""
        credit = self._credit.get(alias, {})
        used = self._used.get(alias, {})
        workers = credit if among is None else [w for w in credit if w in among]
        best = max(workers, key=lambda w: credit[w] - used[w], default=None)
        if best is None or credit[best] - used[best] < units:
            return None
        return best
