"""The session that submits a run's row groups to its Dask cluster.

``RunSession`` wraps ``distributed.Client`` (never subclasses it): it installs the run's
generators on the workers, installs each worker's share of the models' caps as the run
state's split says (``dagen.lowering.shares``), turns the tasks the admission hands over
(``dagen.lowering.admission``) into a Dask graph submitted in one message, and releases a
row group's futures once its checkpoint is written. Which cluster a run uses is
``dagen.cluster.clients``. While the run lasts it is watched (``dagen.cluster.signals``):
a span, the workers' figures, the dagen page on the scheduler's dashboard, the run's
figures and row-group events published. The models' API keys are read by the workers,
and sent only to a worker that lacks a key's variable (``dagen.cluster.keys``).
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

from dagen.cluster import imports, resources, signals, tasks
from dagen.cluster.drain import DrainPlugin, NannyDrainPlugin, RetireDrainPlugin
from dagen.cluster.keys import ModelKeys, install_keys
from dagen.errors import ClusterError
from dagen.lowering.admission import Handover
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
        keys: the models' key variables and the keys the client read (never in
            ``context``: they reach only the workers that lack the variables).
    """

    def __init__(
        self, client: Client, context: tasks.RunContext, keys: ModelKeys | None = None
    ) -> None:
        self.client = client
        self.context = context
        self.keys = keys or ModelKeys()
        self._warned: set[str] = set()  # variables whose keys were sent (said once)
        self.run_id = context.run_id
        self._plugin = tasks.RunPlugin(context)
        self._pin: tuple[str, ...] = ()
        self._watch = contextlib.ExitStack()
        self._figures: deque[dict[str, Any]] = deque()  # workers' messages, not yet read
        self.page: str | None = None  # the dagen page on the scheduler's dashboard
        self._modules = imports.user_modules(context.generators)  # module -> a column
        self._checked: set[str] = set()  # workers whose imports were checked
        self._publisher = signals.Publisher(client)  # events sent in order, not awaited

    def __enter__(self) -> RunSession:
        lacking = self._check(None)
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
        self._send_keys(lacking)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._publisher.flush()  # the run's last events reach the scheduler before it ends
        self._watch.close()
        with contextlib.suppress(Exception):
            self.client.unregister_worker_plugin(self._plugin.name)
        self._drop_resources()

    def _drop_resources(self) -> None:
        """Take the run's worker resources (``dagen-<run>-<model>``) off the cluster, so
        that runs leave nothing behind on a user's workers (best effort: a cluster going
        away keeps nothing anyway)."""
        names = [tasks.resource_name(self.run_id, alias) for alias in self.context.caps]
        if not names:
            return
        with contextlib.suppress(Exception):
            self.client.run_on_scheduler(resources.drop_scheduler_resources, names)
        with contextlib.suppress(Exception):
            self.client.run(resources.drop_worker_resources, names)

    # -- watching ----------------------------------------------------------------------

    def under_way(self) -> None:
        """The run's first tasks are submitted: the link of a dashboard deferred until it
        is opened is logged (``dagen.dashboard.later``)."""
        from dagen.dashboard import later

        address = getattr(self.client.scheduler, "address", None)
        if address is not None:
            later.offer(address, self.client.dashboard_link)

    def worker_figures(self) -> list[dict[str, Any]]:
        """The workers' figures messages received since the last call."""
        found = []
        while self._figures:
            found.append(self._figures.popleft())
        return found

    def publish(self, message: dict[str, Any]) -> None:
        """The run's figures, for the dagen page and metrics (about once per second)."""
        self._publisher.figures(message)

    def publish_row_group(self, event: dict[str, Any]) -> None:
        """A row group was written: an event on the public ``dagen`` topic."""
        self._publisher.row_group(event)

    @property
    def dashboard_link(self) -> str | None:
        return self.client.dashboard_link

    def submit(
        self,
        handovers: Sequence[Handover],
        held: Mapping[Key, Future] | None = None,
        loads: Mapping[Key, Any] | None = None,
    ) -> dict[Key, Future]:
        """Submit tasks handed over together in one graph; futures by key.

        The graph is a ``HighLevelGraph`` with one layer per placement (see
        ``_placement``), the placement given as the layer's annotations: older row groups
        first, stateful columns on one worker, a model's cells on the worker whose credit
        they took, holding one unit of the model's resource per row.

        Args:
            handovers: tasks in topological order (``Admission.take``).
            held: futures of tasks handed over earlier that these tasks read or wait on.
            loads: load task key -> the values it hands over (``LoadedColumn``).
        """
        held, loads = held or {}, loads or {}
        groups: dict[_Placement, dict[Key, Any]] = {}
        layer_of: dict[Key, str] = {}
        for handover in handovers:
            placement = self._placement(handover)
            groups.setdefault(placement, {})[handover.ref.key] = self._task(handover, loads)
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

    # -- the workers and the models' shares -------------------------------------------

    def workers(self) -> dict[str, int]:
        """The workers present and the tasks each runs at once (address -> ``nthreads``)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        joined = sorted(set(info) - self._checked)
        if joined:  # a worker that lacks the config's modules stops the run, naming them
            self._send_keys(self._check(joined))
        return {address: w["nthreads"] for address, w in info.items()}

    def _check(self, workers: list[str] | None) -> dict[str, frozenset[str]]:
        """Check ``workers`` (None: all present) can run the config; each worker with the
        key variables it lacks. A worker lacking one the client lacks too is an error."""
        variables = self.keys.variables.values()
        lacking = imports.check_workers(self.client, self._modules, workers, variables)
        for worker, names in lacking.items():
            self.keys.to_send(worker, names)  # raises for a key nobody has
        self._checked.update(lacking)
        return lacking

    def _send_keys(self, lacking: dict[str, frozenset[str]]) -> None:
        """Send each worker the keys whose variables it lacks; say so once per variable."""
        for worker, names in sorted(lacking.items()):
            keys = self.keys.to_send(worker, names)
            if not keys:
                continue
            news = sorted({self.keys.variables[a] for a in keys} - self._warned)
            if news:
                self._warned.update(news)
                senders = sorted(w for w, n in lacking.items() if n & set(news))
                log.warning(
                    "%s not set on Dask worker(s) %s: dagen sends %s the key this client "
                    "read (set it on the workers to keep it on them)",
                    ", ".join(news), ", ".join(senders), "them" if len(senders) > 1 else "it",
                )  # fmt: skip
            try:
                self.client.run(install_keys, self.run_id, keys, workers=[worker])
            except Exception as exc:  # a worker gone meanwhile is no more of the run
                log.debug("the keys did not reach worker %s: %s", worker, type(exc).__name__)

    def install(self, worker: str, shares: Mapping[str, int]) -> None:
        """Give ``worker`` its shares of the models' caps (``dagen.lowering.shares``): its
        limiter's ceiling and ``QUEUED_PER_SLOT`` times it as a Dask resource that a model
        cell task holds one unit of per row. A worker that left meanwhile is answered by
        the next split."""
        self.client.run(
            tasks.install_shares, self.run_id, dict(shares), workers=[worker], on_error="return"
        )

    def calls_in_flight(self, workers: Sequence[str]) -> dict[str, dict[str, int] | None]:
        """Each worker's model calls of the run in flight now (alias -> calls); None for a
        worker that left meanwhile."""
        found = self.client.run(
            tasks.calls_in_flight, self.run_id, workers=list(workers), on_error="return"
        )
        return {w: None if isinstance(c, BaseException) else c for w, c in found.items()}

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

    def _task(self, handover: Handover, loads: Mapping[Key, Any]) -> tuple[Any, ...]:
        ref, rg = handover.ref, handover.row_group
        deps = list(ref.dependencies)
        if ref.kind == "checkpoint":
            return (tasks.checkpoint, self.run_id, rg.index, rg.size, deps)
        if ref.kind == "batches":
            return (tasks.batches, self.run_id, ref.columns, rg.index, rg.start, rg.size)
        column = ref.column
        assert column is not None  # every task but the checkpoint belongs to a column
        if ref.kind == "collect":
            return (tasks.collect, self.run_id, column, rg.index, rg.size, deps)
        if ref.kind == "load":
            values = loads[ref.key]
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
