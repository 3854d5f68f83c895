"""Which Dask cluster a run uses: the client a run gets, and how it is resolved.

Client resolution, first match wins:

    1. an explicit ``client=``                      used as is, left open
    2. a scheduler address (``--scheduler tcp://…``, or ``tls://…`` with certificates,
       ``dagen.cluster.security``)                  connected, closed afterwards
    3. a cluster class (``--cluster slurm``, ``ClusterSettings.cluster_class``, or
       adaptive bounds)                             started, closed afterwards
       (``dagen.cluster.choice``)
    4. an active Dask client in this process        used as is, left open
    5. a LocalCluster dagen starts on 127.0.0.1     started, closed afterwards

``open_async_client`` resolves the same way for ``dagen.agenerate``, on the caller's event
loop: an address is connected, and the LocalCluster started, with ``asynchronous=True``.

The worker processes of a LocalCluster dagen starts ignore Ctrl-C (SIGINT): a terminal
sends it to the whole process group, and the client, which stops the run and closes the
cluster, is the one process that should act on it (each worker would otherwise print a
traceback of its own). ``dagen run`` has them forked from a warm server it started first
thing, rather than spawned (``dagen.cluster.warm``). The LocalCluster ``open_client``
starts gets Bokeh's dashboard once the run is under way (``dagen.dashboard.later``).
However the run ended, a cluster dagen started closes quietly (``dagen.cluster.quiet``).
A scheduler address without a scheme or port is a ``ClusterError`` naming it, before
anything connects.

Example:
    >>> check_address("tcp://127.0.0.1:8786")
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dask
from distributed import Client, LocalCluster
from distributed.comm import get_address_host_port

from dagen.cluster.choice import ClusterChoice
from dagen.cluster.quiet import aquiet, quiet, restore_levels
from dagen.cluster.security import check_security, connection_error
from dagen.cluster.warm import forking
from dagen.config.run import ClusterSettings
from dagen.dashboard import later as dashboard_later
from dagen.errors import ClusterError

__all__ = ["check_address", "local_settings", "open_async_client", "open_client"]

log = logging.getLogger("dagen")


@contextlib.contextmanager
def open_client(
    client: Client | None = None,
    address: str | None = None,
    settings: ClusterSettings | None = None,
    *,
    slots: int = 2,
    security: Any = None,
) -> Iterator[Client]:
    """The client a run uses (see the module docstring for the order).

    Args:
        client: an explicit client.
        address: a scheduler address to connect to.
        settings: how to start a local cluster.
        slots: task slots per worker wanted when dagen starts the cluster itself.
        security: the ``distributed.security.Security`` to reach ``address`` with (a
            ``tls://`` address without one uses Dask's config).

    Raises:
        ClusterError: the scheduler cannot be reached (a TLS mismatch, named), or the
            cluster cannot start.
    """
    if client is not None:
        yield client
        return
    if address is not None:
        check_address(address)
        secured = check_security(address, security)
        try:
            remote = Client(address, timeout="15s", set_as_default=False, security=secured)
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            raise connection_error(address, secured, exc) from exc
        with remote:
            yield remote
        return
    settings = settings or ClusterSettings()
    choice = ClusterChoice.of(settings, _local_cluster_kwargs(settings, slots))
    if choice is not None:
        with choice.start(_building_local) as chosen:
            yield chosen
        return
    with contextlib.suppress(ValueError):
        yield Client.current(allow_global=True)
        return
    kwargs = _local_cluster_kwargs(settings, slots)
    # Bokeh's dashboard connected once the run is under way, not while the scheduler is made
    later = "scheduler_kwargs" not in kwargs and importlib.util.find_spec("bokeh") is not None
    if later:
        kwargs["scheduler_kwargs"] = {"dashboard": False}  # its HTTP server listens all along
    with forking():  # workers forked from a warm server, if the command line started one
        try:
            with _building_local():
                cluster = LocalCluster(**kwargs)
        except (OSError, RuntimeError) as exc:
            raise ClusterError(f"cannot start a local Dask cluster: {exc}") from exc
        if later:
            dashboard_later.defer(cluster)
        stopping = contextlib.ExitStack()  # closed last: after the cluster
        # its workers are on this machine: results come straight from them, not through
        # the scheduler (which shares this process, and would read and resend each one)
        with (
            stopping,
            cluster,
            Client(cluster, set_as_default=False, direct_to_workers=True) as local,
        ):
            try:
                yield local  # the dashboard's link is logged once the run is under way
            finally:
                dashboard_later.forget(cluster)
                stopping.callback(restore_levels, quiet(local))


@contextlib.asynccontextmanager
async def open_async_client(
    client: Client | None = None,
    address: str | None = None,
    settings: ClusterSettings | None = None,
    *,
    slots: int = 2,
    security: Any = None,
) -> AsyncIterator[Client]:
    """``open_client`` on the running event loop: the clients it makes are asynchronous.

    Raises:
        ClusterError: the scheduler cannot be reached or the cluster cannot start.
    """
    if client is not None:
        yield client
        return
    if address is not None:
        secured = check_security(address, security)
        try:
            remote = await Client(
                address, timeout="15s", set_as_default=False, asynchronous=True, security=secured
            )
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            raise connection_error(address, secured, exc) from exc
        async with remote:
            yield remote
        return
    settings = settings or ClusterSettings()
    choice = ClusterChoice.of(settings, _local_cluster_kwargs(settings, slots))
    if choice is not None:
        async with choice.astart() as chosen:
            yield chosen
        return
    try:
        current: Client | None = Client.current(allow_global=True)
    except ValueError:
        current = None
    if current is not None:
        yield current
        return
    try:
        with dask.config.set(local_settings()):
            cluster = await LocalCluster(
                asynchronous=True, **_local_cluster_kwargs(settings, slots)
            )
    except (OSError, RuntimeError) as exc:
        raise ClusterError(f"cannot start a local Dask cluster: {exc}") from exc
    stopping = contextlib.ExitStack()  # closed last: after the cluster
    with stopping:
        async with (
            cluster,
            Client(
                cluster, asynchronous=True, set_as_default=False, direct_to_workers=True
            ) as local,
        ):
            try:
                yield local  # the dashboard's link is logged when the run starts (signals.watch)
            finally:
                stopping.callback(restore_levels, await aquiet(local))


def check_address(address: str) -> None:
    """Raise ``ClusterError`` unless ``address`` reads as ``scheme://host:port``."""
    try:
        host, port = get_address_host_port(address if "://" in address else "tcp://" + address)
        if not host or not 0 < int(port) < 65536:
            raise ValueError("no host" if not host else f"port {port} out of range")
    except (ValueError, TypeError) as exc:
        raise ClusterError(
            f"scheduler address {address!r} is not usable ({exc}); "
            "write it as tcp://host:port, e.g. tcp://127.0.0.1:8786"
        ) from exc


# Dask's default -> what the clusters dagen starts use. An idle cluster's CPU is a floor
# under the CPU of every model call (a run at a cap of 16 is mostly waiting): the profiler
# (~0.03 CPU-s/s per worker), the event loop's health check every 20 ms in each process,
# and the memory monitor every 100 ms took an idle local cluster to ~0.08 CPU-s/s, 0.02
# without them (RESULTS.md). A blocked loop is still reported after 3 s, and memory still
# watched twice a second. Worker processes are not daemons, so they may start their own.
_LOCAL_SETTINGS: dict[str, tuple[Any, Any]] = {
    "distributed.worker.daemon": (True, False),
    "distributed.worker.profile.enabled": (True, False),
    "distributed.admin.tick.interval": ("20ms", "500ms"),
    "distributed.worker.memory.monitor-interval": ("100ms", "500ms"),
}


def local_settings() -> dict[str, Any]:
    """The Dask settings a cluster dagen starts gets: dagen's value for each of
    ``_LOCAL_SETTINGS`` that still holds Dask's default (a value the user set is kept)."""
    return {
        key: ours
        for key, (default, ours) in _LOCAL_SETTINGS.items()
        if dask.config.get(key, default=default) == default
    }


@contextlib.contextmanager
def _building_local() -> Iterator[None]:
    """How dagen's local worker processes are started: ``local_settings()``, SIGINT
    ignored (see ``open_client``)."""
    with dask.config.set(local_settings()), _sigint_ignored():
        yield


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile (main thread only: elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
