"""Which Dask cluster a run uses, and the session that submits a run's row groups to it.

Client resolution, first match wins:

    1. an explicit ``client=``                      used as is, left open
    2. a scheduler address (``--scheduler tcp://…``) connected, closed afterwards
    3. an active Dask client in this process        used as is, left open
    4. a LocalCluster dagen starts on 127.0.0.1     started, closed afterwards

``RunSession`` wraps ``distributed.Client`` (never subclasses it): it installs the run's
generators on the workers, turns a ``RowGroupPlan`` into a Dask graph submitted in one
message, and releases a row group's futures once its checkpoint is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import dask
from distributed import Client, Future, LocalCluster

from dagen.config.run import ClusterSettings
from dagen.errors import ClusterError
from dagen.lowering import tasks
from dagen.lowering.plan import Key, RowGroupPlan, TaskRef

__all__ = ["RunSession", "open_client"]

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
    n_workers = settings.n_workers or min(os.cpu_count() or 1, 4)
    try:
        with dask.config.set({"distributed.worker.daemon": False}):
            cluster = LocalCluster(**_local_cluster_kwargs(settings, n_workers, slots))
    except (OSError, RuntimeError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster: {exc}") from exc
    with cluster, Client(cluster, set_as_default=False) as local:
        if settings.dashboard_address is not None:
            log.info("Dask dashboard: %s", cluster.dashboard_link)
        yield local


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

    def __enter__(self) -> RunSession:
        try:
            self.client.register_plugin(self._plugin)
        except Exception as exc:  # distributed raises many kinds here
            raise ClusterError(f"cannot install the run on the cluster's workers: {exc}") from exc
        return self

    def __exit__(self, *exc_info: Any) -> None:
        with contextlib.suppress(Exception):
            self.client.unregister_worker_plugin(self._plugin.name)

    @property
    def dashboard_link(self) -> str | None:
        return self.client.dashboard_link

    def submit(self, plan: RowGroupPlan) -> dict[Key, Future]:
        """Submit every task of a row group in one graph; futures by key."""
        dsk = {ref.key: self._task(ref, plan) for ref in plan.tasks}
        keys = [ref.key for ref in plan.tasks]
        futures = self.client.get(dsk, keys, sync=False)
        return dict(zip(keys, futures, strict=True))

    def _task(self, ref: TaskRef, plan: RowGroupPlan) -> tuple[Any, ...]:
        rg = plan.row_group
        deps = list(ref.dependencies)
        if ref.kind == "checkpoint":
            return (tasks.checkpoint, self.run_id, rg.index, rg.size, deps)
        column = ref.column
        if ref.kind == "collect":
            return (tasks.collect, self.run_id, column, rg.index, rg.size, deps)
        is_async = self.context.generators[column].is_async
        if ref.kind == "cell":
            fn = tasks.cells_async if is_async else tasks.cells
            return (
                fn,
                self.run_id,
                column,
                rg.index,
                rg.start,
                rg.size,
                ref.first_row,
                ref.rows,
                deps,
            )
        fn = tasks.batch_async if is_async else tasks.batch
        return (fn, self.run_id, column, rg.index, rg.start, rg.size, deps)

    def fetch(self, future: Future) -> Any:
        """The result of a finished future."""
        return future.result()

    def release(self, futures: dict[Key, Future]) -> None:
        """Forget a row group's futures so the scheduler frees their results."""
        for future in futures.values():
            future.release()
        futures.clear()

    def cancel(self, futures: list[Future]) -> None:
        """Cancel unfinished work (a stopped run)."""
        with contextlib.suppress(Exception):
            self.client.cancel(futures, force=True)


def _local_cluster_kwargs(settings: ClusterSettings, n_workers: int, slots: int) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "n_workers": n_workers,
        "threads_per_worker": settings.threads_per_worker or slots,
        "processes": settings.processes,
        "silence_logs": logging.ERROR,
    }
    if settings.processes:
        kwargs["host"] = "127.0.0.1"  # in-process clusters talk over inproc:// instead
    if settings.dashboard_address is None:
        kwargs["scheduler_kwargs"] = {"dashboard": False}
    else:
        kwargs["dashboard_address"] = settings.dashboard_address
    return kwargs
