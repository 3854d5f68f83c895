"""A cluster dagen starts from a class path: build it, adapt it, wait for workers, close it.

``ClusterChoice`` is the ecosystem's convention (prefect-dask's ``cluster_class`` +
``cluster_kwargs`` + ``adapt_kwargs``): the class (a short name of
``dagen.config.cluster.SHORT_NAMES`` or any importable dotted path), the keyword arguments
it is made with, and the ``adapt(minimum, maximum)`` bounds. ``start()`` is one context
manager for the whole life of the cluster:

    1. import the class      a short name whose package is missing says which dagen extra
                             installs it (``pip install 'dagen[slurm]'``)
    2. make the cluster      the class's own error (an unknown option, say) wrapped in a
                             ``ClusterError`` naming the class and the option; a
                             dask-gateway's password and CA are given by name
                             (``dagen.cluster.gateway``: ``password_env``, ``tls_ca_file``);
                             a KubeCluster's spec is built by dagen
                             (``dagen.cluster.kubernetes``: image, cpu, env, ...)
    3. scale or adapt        ``adapt(min, max)``; with a minimum of 0 one worker is asked
                             for first, so that a run has a worker to plan on (the
                             adaptive loop then lets it go once it is idle)
    4. wait for workers      at most ``timeout`` seconds, then a ``ClusterError`` naming the
                             class, the wait, the scheduler address and what to check
    5. close                 however the block ends: normally, on an error, on Ctrl-C

A ``distributed.LocalCluster`` (``local``) gets dagen's own defaults for it (loopback,
task slots sized for the run, quiet logs) under the options given.

Example:
    >>> choice = ClusterChoice("distributed.LocalCluster", {"n_workers": 0}, adapt=(1, 3))
    >>> with choice.start() as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, LocalCluster

from dagen.cluster.gateway import gateway_kwargs, gateway_refusal, is_gateway
from dagen.cluster.kubernetes import is_kube, kube_kwargs
from dagen.cluster.quiet import aquiet, quiet, restore_levels
from dagen.config.cluster import SHORT_NAMES
from dagen.config.run import ClusterSettings
from dagen.errors import ClusterError

__all__ = ["ClusterChoice"]

log = logging.getLogger("dagen")


@dataclass(frozen=True)
class ClusterChoice:
    """A cluster class to start, its keyword arguments and its adaptive bounds.

    Attributes:
        cluster_class: a short name (``slurm``, ``local``, ...) or a dotted class path.
        kwargs: the keyword arguments the class is made with.
        adapt: (minimum, maximum) for ``cluster.adapt``; None scales nothing (the class's
            own options, ``n_workers`` say, decide).
        timeout: seconds to wait for the first workers.
        local_defaults: keyword arguments under ``kwargs`` when the class is a LocalCluster.
    """

    cluster_class: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    adapt: tuple[int, int] | None = None
    timeout: float = 120.0
    local_defaults: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls, settings: ClusterSettings, local_defaults: Mapping[str, Any] | None = None
    ) -> ClusterChoice | None:
        """The choice the settings make, or None for dagen's plain LocalCluster."""
        if not settings.chosen:
            return None
        return cls(
            settings.cluster_class or "local",
            dict(settings.cluster_kwargs),
            settings.adapt,
            settings.start_timeout,
            dict(local_defaults or {}),
        )

    @property
    def path(self) -> str:
        """The class's dotted path (a short name resolved)."""
        return SHORT_NAMES.get(self.cluster_class.lower(), (self.cluster_class, None))[0]

    def resolve(self) -> type:
        """The cluster class, imported.

        Raises:
            ClusterError: its package is missing (naming the extra that installs it), or
                the path names no class.
        """
        path = self.path
        module_name, sep, attr = path.partition(":")
        if not sep:
            module_name, _, attr = path.rpartition(".")
        if not module_name or not attr:
            raise ClusterError(
                f"cluster {self.cluster_class!r} is neither a short name "
                f"({', '.join(SHORT_NAMES)}) nor a dotted class path like mypkg.MyCluster"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            extra = SHORT_NAMES.get(self.cluster_class.lower(), ("", None))[1]
            hint = f": install it with pip install 'dagen[{extra}]'" if extra else ""
            raise ClusterError(
                f"cluster {self.cluster_class!r} needs the module {module_name!r}, which "
                f"cannot be imported ({exc}){hint}"
            ) from exc
        found = getattr(module, attr, None)
        if not isinstance(found, type):
            raise ClusterError(f"cluster {self.cluster_class!r}: {path} is not a class")
        return found

    def build(self) -> Any:
        """The cluster, made (not yet scaled).

        Raises:
            ClusterError: the class cannot be imported or refuses its options.
        """
        kind = self.resolve()
        kwargs = dict(self.kwargs)
        if issubclass(kind, LocalCluster):
            kwargs = {**self.local_defaults, **kwargs}
            if self.adapt is not None and "n_workers" not in self.kwargs:
                kwargs["n_workers"] = 0  # the adaptive loop decides
        elif is_kube(kind):
            kwargs = kube_kwargs(kwargs, self.adapt)  # the spec (dagen.cluster.kubernetes)
        gateway = is_gateway(kind)
        try:
            # a gateway's password and CA are given by name (dagen.cluster.gateway)
            with gateway_kwargs(kwargs) if gateway else contextlib.nullcontext(kwargs) as made:
                return kind(**made)
        except ClusterError:
            raise
        except Exception as exc:  # each cluster class has its own errors
            refused = gateway_refusal(exc, kwargs) if gateway else None
            if refused is not None:
                raise refused from exc
            causes = _chain(exc)
            named = [key for key in kwargs if f"argument {key!r}" in causes]
            if named or isinstance(exc, TypeError):
                which = f"option {named[0]!r}" if named else "the options given"
                raise ClusterError(
                    f"{kind.__name__} ({self.path}) refuses {which}: {causes}"
                ) from exc
            raise ClusterError(f"cannot start {kind.__name__} ({self.path}): {causes}") from exc

    @property
    def wanted(self) -> int:
        """Workers waited for before the run starts."""
        return max(1, self.adapt[0]) if self.adapt is not None else 1

    def scale(self, cluster: Any) -> None:
        """Ask for the first workers: ``adapt`` (after one worker when its minimum is 0)."""
        if self.adapt is None:
            return
        low, high = self.adapt
        try:
            if low == 0:
                cluster.scale(1)
            else:
                cluster.adapt(minimum=low, maximum=high)
        except Exception as exc:
            raise ClusterError(f"{type(cluster).__name__} cannot scale: {exc}") from exc

    def adapt_after_start(self, cluster: Any) -> None:
        """With a minimum of 0, adaptive scaling starts once the first worker is there."""
        if self.adapt is not None and self.adapt[0] == 0:
            cluster.adapt(minimum=0, maximum=self.adapt[1])

    def timed_out(self, cluster: Any, waited: float, have: int) -> ClusterError:
        """The error for workers that did not come, saying what to check."""
        name = type(cluster).__name__
        address = getattr(cluster, "scheduler_address", "?")
        options = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items()) or "none"
        return ClusterError(
            f"{name} ({self.path}) started its scheduler at {address}, but {have} of "
            f"{self.wanted} worker(s) connected in {waited:.0f} s: check that its workers "
            "start (on a batch system: the queue, e.g. squeue or qstat, and the jobs' "
            "logs), that they can reach that address, and the cluster options "
            f"({options}); wait longer with --cluster-timeout"
        )

    @contextlib.contextmanager
    def start(self, building: Callable[[], ContextManager[Any]] | None = None) -> Iterator[Client]:
        """The cluster started, its client connected once workers came; both closed after.

        Args:
            building: a context the cluster is made and first scaled in (a LocalCluster's
                worker processes then inherit an ignored SIGINT, say).

        Raises:
            ClusterError: as ``build``, or no worker connected within ``timeout``.
        """
        began = time.monotonic()
        levels: dict[str, int] = {}
        with building() if building is not None else contextlib.nullcontext():
            cluster = self.build()
        try:
            with building() if building is not None else contextlib.nullcontext():
                self.scale(cluster)
            with Client(cluster, set_as_default=False) as client:
                try:
                    client.wait_for_workers(self.wanted, timeout=self.timeout)
                except TimeoutError:
                    have = len(client.scheduler_info(n_workers=-1)["workers"])
                    raise self.timed_out(cluster, time.monotonic() - began, have) from None
                self.adapt_after_start(cluster)
                log.info("%s", self.describe(cluster, time.monotonic() - began))
                try:
                    yield client
                finally:
                    levels = quiet(client)
        finally:
            _close(cluster)
            restore_levels(levels)

    @contextlib.asynccontextmanager
    async def astart(self) -> AsyncIterator[Client]:
        """``start`` for the running event loop: the cluster is made and closed in a thread,
        its client is asynchronous."""
        began = time.monotonic()
        levels: dict[str, int] = {}
        cluster = await asyncio.to_thread(self.build)
        try:
            await asyncio.to_thread(self.scale, cluster)
            security = getattr(cluster, "security", None)
            async with Client(
                cluster.scheduler_address, asynchronous=True, security=security,
                set_as_default=False,
            ) as client:  # fmt: skip
                try:
                    await client.wait_for_workers(self.wanted, timeout=self.timeout)
                except TimeoutError:
                    info = await client.scheduler.identity()
                    have = len(info.get("workers", {}))
                    raise self.timed_out(cluster, time.monotonic() - began, have) from None
                await asyncio.to_thread(self.adapt_after_start, cluster)
                log.info("%s", self.describe(cluster, time.monotonic() - began))
                try:
                    yield client
                finally:
                    levels = await aquiet(client)
        finally:
            await asyncio.to_thread(_close, cluster)
            restore_levels(levels)

    def describe(self, cluster: Any, took: float) -> str:
        """The log line of a started cluster."""
        scaling = f", adapting {self.adapt[0]} to {self.adapt[1]} workers" if self.adapt else ""
        return f"started {type(cluster).__name__} ({self.path}) in {took:.1f} s{scaling}"


def _chain(exc: BaseException) -> str:
    """An error and its causes, in one line (a worker's own error is often a cause)."""
    found: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(found) < 5:
        text = f"{type(seen).__name__}: {seen}" if found else str(seen) or type(seen).__name__
        if text not in found:
            found.append(text)
        seen = seen.__cause__ or seen.__context__
    return "; caused by ".join(found)


def _close(cluster: Any) -> None:
    """Close a cluster dagen started (its adaptive loop first), whatever state it is in."""
    with contextlib.suppress(Exception):
        adaptive = getattr(cluster, "_adaptive", None)
        if adaptive is not None:
            adaptive.stop()
    try:
        cluster.close()
    except Exception as exc:  # closing must not hide the run's own outcome
        log.warning("closing %s failed: %s", type(cluster).__name__, exc)
