"""The session that submits a run's row groups to its Dask cluster.

``RunSession`` wraps ``distributed.Client`` (never subclasses it): it installs the run's
generators on the workers, splits each model's cap over them, turns the tasks the
admission hands over (``dagen.lowering.admission``) into a Dask graph submitted in one
message, and releases a row group's futures once its checkpoint is written. Which
cluster a run uses is ``dagen.cluster.clients``. While the run
lasts it is watched (``dagen.cluster.signals``): a span, the workers' figures, the dagen
page on the scheduler's dashboard, the run's figures and row-group events published.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from distributed import Client, Future

from dagen.cluster import resources, signals, tasks
from dagen.cluster.drain import DrainPlugin, NannyDrainPlugin, RetireDrainPlugin
from dagen.errors import ClusterError
from dagen.lowering.admission import Handover, shares
from dagen.lowering.plan import Key

__all__ = ["RunSession"]

log = logging.getLogger("dagen")


@dataclass(frozen=True)
class _Placement:
    """How a group of tasks runs: their row group's priority, pinned workers, and units of
    a resource each needs."""

    priority: int
    pin: tuple[str, ...] = ()
    resource: str | None = None
    units: int = 1

    def annotations(self) -> dict[str, Any]:
        """The placement as Dask task annotations."""
        found: dict[str, Any] = {"priority": self.priority}
        if self.pin:
            found.update(workers=list(self.pin), allow_other_workers=True)
        if self.resource:
            found["resources"] = {self.resource: self.units}
        return found


class RunSession:
    """One run's use of a client: install the run, submit row groups, release them.

    Args:
        client: the Dask client.
        context: the run's generators and assembly spec, installed on every worker.
    """

    def __init__(self, client: Client, context: tasks.RunContext) -> None:
        self.client = client
        self.context = context
        self.run_id = context.run_id
        self._plugin = tasks.RunPlugin(context)
        self._pin: tuple[str, ...] = ()
        self._share_workers: tuple[str, ...] = ()  # the workers the split is over
        # model alias -> worker -> share: the split wanted, and the one installed now
        self._target: dict[str, dict[str, int]] = {}
        self._installed: dict[str, dict[str, int]] = {}
        self._shrunk: set[str] = set()  # workers whose calls must fit before shares grow
        self._watch = contextlib.ExitStack()
        self._figures: deque[dict[str, Any]] = deque()  # workers' messages, not yet read
        self.page: str | None = None  # the dagen page on the scheduler's dashboard
        # load task key -> the column's values read from the output an update replaces
        # (rows, values, failures), put here by the run loop until the task is submitted
        self.loads: dict[Any, Any] = {}

    def __enter__(self) -> RunSession:
        try:
            self.client.register_plugin(self._plugin)
            self.client.register_plugin(DrainPlugin())  # once per worker, kept for later runs
        except Exception as exc:  # distributed raises many kinds here
            raise ClusterError(f"cannot install the run on the cluster's workers: {exc}") from exc
        try:
            self.client.register_plugin(RetireDrainPlugin())
        except Exception as exc:  # a scheduler that cannot import dagen
            log.warning(
                "dagen cannot wrap the scheduler's retire_workers (%s): a worker retired "
                "mid-run may have its model calls paid twice",
                exc,
            )
        try:
            self.client.register_plugin(NannyDrainPlugin())
        except Exception as exc:  # a nanny that cannot import dagen
            log.warning(
                "dagen cannot wrap the nannies' close (%s): a worker stopped mid-run may "
                "have model calls longer than 8 s cut off and paid twice",
                exc,
            )
        self.page = self._watch.enter_context(
            signals.watch(self.client, self.run_id, self._figures.append)
        )
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._watch.close()
        with contextlib.suppress(Exception):
            self.client.unregister_worker_plugin(self._plugin.name)
        self._drop_resources()

    def _drop_resources(self) -> None:
        """Take the run's worker resources (``dagen-<run>-<model>``) off the cluster, so
        that runs leave nothing behind on a user's workers (best effort: a cluster going
        away keeps nothing anyway)."""
        names = [tasks.resource_name(self.run_id, alias) for alias in self._target]
        if not names:
            return
        with contextlib.suppress(Exception):
            self.client.run_on_scheduler(resources.drop_scheduler_resources, names)
        with contextlib.suppress(Exception):
            self.client.run(resources.drop_worker_resources, names)

    # -- watching ----------------------------------------------------------------------

    def worker_figures(self) -> list[dict[str, Any]]:
        """The workers' figures messages received since the last call."""
        found = []
        while self._figures:
            found.append(self._figures.popleft())
        return found

    def publish(self, message: dict[str, Any]) -> None:
        """The run's figures, for the dagen page and metrics (about once per second)."""
        signals.publish(self.client, message)

    def publish_row_group(self, event: dict[str, Any]) -> None:
        """A row group was written: an event on the public ``dagen`` topic."""
        signals.publish_row_group(self.client, event)

    @property
    def dashboard_link(self) -> str | None:
        return self.client.dashboard_link

    def submit(
        self, handovers: Sequence[Handover], held: Mapping[Key, Future] | None = None
    ) -> dict[Key, Future]:
        """Submit tasks handed over together in one graph; futures by key.

        The graph is a ``HighLevelGraph`` with one layer per placement (see
        ``_placement``), the placement given as the layer's annotations: older row groups
        first, stateful columns on one worker, a model's cells on the worker whose credit
        they took, holding one unit of the model's resource per row.

        Args:
            handovers: tasks in topological order (``Admission.take``).
            held: futures of tasks handed over earlier that these tasks read or wait on.
        """
        held = held or {}
        groups: dict[_Placement, dict[Key, Any]] = {}
        layer_of: dict[Key, str] = {}
        for handover in handovers:
            placement = self._placement(handover)
            groups.setdefault(placement, {})[handover.ref.key] = self._task(handover)
            layer_of[handover.ref.key] = f"p{list(groups).index(placement)}"
        layers: dict[str, MaterializedLayer] = {}
        for index, (placement, dsk) in enumerate(groups.items()):
            layers[f"p{index}"] = MaterializedLayer(dsk, annotations=placement.annotations())
        refs = [handover.ref for handover in handovers]
        outside = {
            dep: held[dep]
            for ref in refs
            for dep in (*ref.dependencies, ref.after)
            if dep is not None and dep not in layer_of
        }
        if outside:
            layers["held"] = MaterializedLayer(dict(outside))
        depends: dict[str, set[str]] = {name: set() for name in layers}
        for ref in refs:
            for dep in (*ref.dependencies, ref.after):
                if dep is not None:
                    depends[layer_of[ref.key]].add(layer_of.get(dep, "held"))
        for name in depends:
            depends[name].discard(name)
        keys = [ref.key for ref in refs]
        got = self.client.get(HighLevelGraph(layers, depends), keys, sync=False)
        return dict(zip(keys, got, strict=True))

    def _placement(self, handover: Handover) -> _Placement:
        ref = handover.ref
        # older row groups first: they checkpoint sooner and free their memory
        priority = -ref.row_group
        pin = self._pinned_worker() if ref.column in self.context.stateful else ()
        if handover.worker is None:
            return _Placement(priority, pin)
        alias = self.context.column_models[ref.column or ""]
        return _Placement(
            priority,
            pin or (handover.worker,),
            tasks.resource_name(self.run_id, alias),
            handover.units,
        )

    def _pinned_worker(self) -> tuple[str, ...]:
        if not self._pin:
            self._pin = tuple(sorted(self.client.scheduler_info(n_workers=-1)["workers"])[:1])
        return self._pin

    # -- model concurrency -------------------------------------------------------------

    def install_shares(self) -> bool:
        """Split each model's cap over the workers present (see ``shares``) and install it.

        Each worker gets its share as its limiter's ceiling (calls in flight) and
        ``QUEUED_PER_SLOT`` times it as a Dask resource that a model cell task holds one
        unit of per row, so no worker runs more of a model's calls than its share. Re-run
        when workers come or go, and while ``growing``: for the sum over workers never to
        exceed the cap, also while workers come and go, shares change in two steps.

            1. shrink   the shares that get smaller are installed at once (a worker
                        that joins has 0 until step 2)
            2. grow     the shares that get larger are installed once every shrunk
                        worker's calls in flight fit its new share (calls already sent
                        are never cut off: they finish first)

        Returns:
            whether the installed split changed (``worker_shares`` is new).
        """
        if not self.context.caps:
            return False
        workers = tuple(sorted(self.client.scheduler_info(n_workers=-1)["workers"]))
        changed = False
        if workers and workers != self._share_workers:
            self._share_workers = workers
            self._target = {
                alias: dict(zip(workers, shares(cap, len(workers)), strict=True))
                for alias, cap in self.context.caps.items()
            }
            lower = {
                alias: {w: min(n, self._share(alias, w)) for w, n in per_worker.items()}
                for alias, per_worker in self._target.items()
            }
            shrunk = self._install(lower)
            self._shrunk = {w for w in self._shrunk | shrunk if w in workers}
            changed = True
        if self.growing and self._shrunk_fit():
            self._install(self._target)
            changed = True
        return changed

    @property
    def growing(self) -> bool:
        """Whether some shares wait to grow until shrunk workers' calls fit (step 2)."""
        return self._installed != self._target

    def _share(self, alias: str, worker: str) -> int:
        return self._installed.get(alias, {}).get(worker, 0)

    def _install(self, split: dict[str, dict[str, int]]) -> set[str]:
        """Install ``split`` (alias -> worker -> share) where it differs from what is
        installed; the workers whose share of some model got smaller."""
        workers = {w for per_worker in split.values() for w in per_worker}
        shrunk = set()
        for worker in sorted(workers):
            share = {alias: per_worker[worker] for alias, per_worker in split.items()}
            before = {alias: self._share(alias, worker) for alias in split}
            if share == before:  # a worker joining gets nothing until its share grows
                continue
            # a worker that left meanwhile is answered by the next split (on_error)
            self.client.run(
                tasks.install_shares, self.run_id, share, workers=[worker], on_error="return"
            )
            if any(n < before[alias] for alias, n in share.items()):
                shrunk.add(worker)
        self._installed = {alias: dict(per_worker) for alias, per_worker in split.items()}
        return shrunk

    def _shrunk_fit(self) -> bool:
        """Whether every shrunk worker still present has no more calls in flight than its
        installed share (then step 2 may grow the others)."""
        present = [w for w in sorted(self._shrunk) if w in self._share_workers]
        if present:
            try:
                found = self.client.run(
                    tasks.calls_in_flight, self.run_id, workers=present, on_error="return"
                )
            except Exception:  # the cluster is changing: look again next time
                return False
            for worker, calls in found.items():
                if isinstance(calls, BaseException):  # it left meanwhile: nothing of it runs
                    continue
                if any(n > self._share(alias, worker) for alias, n in calls.items()):
                    return False
        self._shrunk = set()
        return True

    @property
    def worker_shares(self) -> dict[str, dict[str, int]]:
        """Each model's installed share of its cap on each worker (model alias -> worker ->
        share); below the split while ``growing``."""
        return {alias: dict(per_worker) for alias, per_worker in self._installed.items()}

    def worker_slots(self) -> dict[str, int]:
        """Tasks each worker runs at once (its ``nthreads``)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {address: w["nthreads"] for address, w in info.items()}

    def min_share(self, alias: str) -> int:
        """The smallest positive per-worker share of a model's cap (1 before any split)."""
        return min((s for s in self._target.get(alias, {}).values() if s > 0), default=1)

    def finish(self) -> dict[str, dict[str, int]]:
        """Close the run's model clients on every worker; usage summed per model alias."""
        total: dict[str, dict[str, int]] = {}
        try:
            per_worker = self.client.run(tasks.finish_run, self.run_id)
        except Exception:  # a cluster that is going away: usage is best effort
            return total
        for usage in per_worker.values():
            for alias, counts in usage.items():
                into = total.setdefault(alias, {})
                for name, n in counts.items():
                    into[name] = into.get(name, 0) + n
        return total

    def _task(self, handover: Handover) -> tuple[Any, ...]:
        ref, rg = handover.ref, handover.row_group
        deps = list(ref.dependencies)
        if ref.kind == "checkpoint":
            return (tasks.checkpoint, self.run_id, rg.index, rg.size, deps)
        column = ref.column
        assert column is not None  # every task but the checkpoint belongs to a column
        if ref.kind == "collect":
            return (tasks.collect, self.run_id, column, rg.index, rg.size, deps)
        if ref.kind == "load":
            values = self.loads.pop(ref.key)
            return (tasks.load, self.run_id, column, values.rows, values.values, values.failures)
        is_async = self.context.generators[column].is_async
        if ref.kind == "cell":
            cells = tasks.cells_async if is_async else tasks.cells
            return (
                cells,
                self.run_id,
                column,
                rg.index,
                rg.start,
                rg.size,
                ref.first_row,
                ref.rows,
                deps,
            )
        batch = tasks.batch_async if is_async else tasks.batch
        return (batch, self.run_id, column, rg.index, rg.start, rg.size, deps, ref.after)

    def fetch(self, future: Future) -> Any:
        """The result of a finished future."""
        return future.result()

    def failures(self, future: Future) -> list[Any]:
        """The ``CellFailure`` values a finished chunk or block holds, extracted where the
        result lives so that only the failures cross the network."""
        return self.client.submit(tasks.failures_of, future, pure=False).result()

    def release(self, futures: dict[Key, Future]) -> None:
        """Forget a row group's futures so the scheduler frees their results."""
        for future in futures.values():
            future.release()
        futures.clear()

    def cancel(self, futures: list[Future]) -> None:
        """Cancel unfinished work (a stopped run)."""
        with contextlib.suppress(Exception):
            self.client.cancel(futures, force=True)
