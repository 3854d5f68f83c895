"""Which Dask cluster a run uses, and the session that submits a run's row groups to it.

Client resolution, first match wins:

    1. an explicit ``client=``                      used as is, left open
    2. a scheduler address (``--scheduler tcp://…``) connected, closed afterwards
    3. an active Dask client in this process        used as is, left open
    4. a LocalCluster dagen starts on 127.0.0.1     started, closed afterwards

``open_async_client`` resolves the same way for ``dagen.agenerate``, on the caller's event
loop: an address is connected, and the LocalCluster started, with ``asynchronous=True``.

``RunSession`` wraps ``distributed.Client`` (never subclasses it): it installs the run's
generators on the workers, splits each model's cap over them, turns the tasks the
admission hands over (``dagen.lowering.admission``) into a Dask graph submitted in one
message, and releases a row group's futures once its checkpoint is written.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from distributed import Client, Future, LocalCluster

from dagen.cluster import tasks
from dagen.config.run import ClusterSettings
from dagen.errors import ClusterError
from dagen.lowering.admission import Handover, shares
from dagen.lowering.plan import Key

__all__ = ["RunSession", "open_async_client", "open_client"]

log = logging.getLogger("dagen")


@contextlib.contextmanager
def open_client(
    client: Client | None = None,
    address: str | None = None,
    settings: ClusterSettings | None = None,
    *,
    slots: int = 2,
) -> Iterator[Client]:
    """The client a run uses (see the module docstring for the order).

    Args:
        client: an explicit client.
        address: a scheduler address to connect to.
        settings: how to start a local cluster.
        slots: task slots per worker wanted when dagen starts the cluster itself.

    Raises:
        ClusterError: the scheduler cannot be reached or the cluster cannot start.
    """
    if client is not None:
        yield client
        return
    if address is not None:
        try:
            remote = Client(address, timeout="15s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        with remote:
            yield remote
        return
    with contextlib.suppress(ValueError):
        yield Client.current(allow_global=True)
        return
    settings = settings or ClusterSettings()
    try:
        # the statistical profiler costs an idle worker ~0.03 CPU-s/s: a third of an idle
        # cluster's CPU, and ~0.4 ms per model call at a cap of 16 (bench/RESULTS.md)
        with dask.config.set(
            {"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False}
        ):
            cluster = LocalCluster(**_local_cluster_kwargs(settings, slots))
    except (OSError, RuntimeError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster: {exc}") from exc
    with cluster, Client(cluster, set_as_default=False) as local:
        if settings.dashboard_address is not None:
            log.info("Dask dashboard: %s", cluster.dashboard_link)
        yield local


@contextlib.asynccontextmanager
async def open_async_client(
    client: Client | None = None,
    address: str | None = None,
    settings: ClusterSettings | None = None,
    *,
    slots: int = 2,
) -> AsyncIterator[Client]:
    """``open_client`` on the running event loop: the clients it makes are asynchronous.

    Raises:
        ClusterError: the scheduler cannot be reached or the cluster cannot start.
    """
    if client is not None:
        yield client
        return
    if address is not None:
        try:
            remote = await Client(address, timeout="15s", set_as_default=False, asynchronous=True)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        async with remote:
            yield remote
        return
    try:
        current: Client | None = Client.current(allow_global=True)
    except ValueError:
        current = None
    if current is not None:
        yield current
        return
    settings = settings or ClusterSettings()
    try:
        with dask.config.set(
            {"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False}
        ):
            cluster = await LocalCluster(
                asynchronous=True, **_local_cluster_kwargs(settings, slots)
            )
    except (OSError, RuntimeError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster: {exc}") from exc
    async with cluster, Client(cluster, asynchronous=True, set_as_default=False) as local:
        if settings.dashboard_address is not None:
            log.info("Dask dashboard: %s", cluster.dashboard_link)
        yield local


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
        self._share_workers: tuple[str, ...] = ()
        self._shares: dict[str, list[int]] = {}  # model alias -> share of each worker

    def __enter__(self) -> RunSession:
        try:
            self.client.register_plugin(self._plugin)
        except Exception as exc:  # distributed raises many kinds here
            raise ClusterError(f"cannot install the run on the cluster's workers: {exc}") from exc
        return self

    def __exit__(self, *exc_info: Any) -> None:
        with contextlib.suppress(Exception):
            self.client.unregister_worker_plugin(self._plugin.name)
        self._drop_resources()

    def _drop_resources(self) -> None:
        """Take the run's worker resources (``dagen-<run>-<model>``) off the cluster, so
        that runs leave nothing behind on a user's workers (best effort: a cluster going
        away keeps nothing anyway)."""
        names = [tasks.resource_name(self.run_id, alias) for alias in self._shares]
        if not names:
            return
        with contextlib.suppress(Exception):
            self.client.run_on_scheduler(tasks.drop_scheduler_resources, names)
        with contextlib.suppress(Exception):
            self.client.run(tasks.drop_worker_resources, names)

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
        unit of per row, so no worker runs more of a model's calls than its share and the
        sum over workers never exceeds the cap. Re-run when workers come or go.

        Returns:
            whether the split changed (``worker_shares`` is new).
        """
        if not self.context.caps:
            return False
        workers = tuple(sorted(self.client.scheduler_info(n_workers=-1)["workers"]))
        if workers == self._share_workers or not workers:
            return False
        split = {alias: shares(cap, len(workers)) for alias, cap in self.context.caps.items()}
        for index, worker in enumerate(workers):
            share = {alias: per_worker[index] for alias, per_worker in split.items()}
            self.client.run(tasks.install_shares, self.run_id, share, workers=[worker])
        self._share_workers = workers
        self._shares = split
        return True

    @property
    def worker_shares(self) -> dict[str, dict[str, int]]:
        """Each model's share of its cap on each worker (model alias -> worker -> share)."""
        return {
            alias: dict(zip(self._share_workers, per_worker, strict=True))
            for alias, per_worker in self._shares.items()
        }

    def worker_slots(self) -> dict[str, int]:
        """Tasks each worker runs at once (its ``nthreads``)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {address: w["nthreads"] for address, w in info.items()}

    def min_share(self, alias: str) -> int:
        """The smallest positive per-worker share of a model's cap (1 before any split)."""
        return min((s for s in self._shares.get(alias, ()) if s > 0), default=1)

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


def _local_cluster_kwargs(settings: ClusterSettings, slots: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "n_workers": settings.workers,
        "threads_per_worker": settings.threads_per_worker or slots,
        "processes": settings.processes,
        "silence_logs": logging.ERROR,
    }
    if settings.processes:
        kwargs["host"] = "127.0.0.1"  # in-process clusters talk over inproc:// instead
    if settings.dashboard_address is None:
        # no dashboard, and the scheduler's own web server (health, metrics) on loopback
        kwargs["scheduler_kwargs"] = {"dashboard": False}
        kwargs["dashboard_address"] = "127.0.0.1:0"
    else:
        kwargs["dashboard_address"] = settings.dashboard_address
    return kwargs
