"""``generate``: one run, in named steps, each of which can fail before the next starts.

    1. preflight        models resolved (the bundled mock server for those without an
                        endpoint), API keys read, endpoints asked      ``runner.preflight``
    2. resume plan      the output claimed for this run (a lock file in a folder), its
                        metadata read once (``sinks.record``), then what an interrupted
                        run in it keeps, planned without touching it ``runner.resume``;
                        the row groups the plan drops (strays, damaged parts) removed
    3. run spec         graph, generators, seed, row groups: pure     ``runner.spec``
    4. sink opened      only now is the output touched; closed however the run ends
    5. cluster          a client (given, addressed, current, or a LocalCluster sized for
                        the run) and a session with the run installed ``cluster.session``
    6. the loop         row groups through the window into the sink   ``runner.loop``

A bad config, a missing key or an unreachable endpoint therefore never touches the output,
and a resumed run with nothing left to do needs no cluster. An overwriting run replaces
the old dataset only when it completes (``dagen.sinks.staging``): a run that fails at any
step leaves the old dataset as it was.

One implementation, two doors. ``generate`` runs the steps in the caller's thread with a
synchronous client. ``agenerate`` runs the very same steps in a worker thread while the
caller's event loop stays free: its client is asynchronous, made on the caller's loop
(``cluster.session.open_async_client``), and the run thread uses it through
``distributed``'s thread-safe synchronous calls; a callback runs on the caller's loop.
Cancelling ``agenerate`` stops the run as Ctrl-C does (written row groups are kept).
``generate`` inside a running event loop (an async service) warns that it blocks that
loop, except in a Jupyter kernel where every cell does; given an asynchronous client
there, it refuses: that client's loop is the one it would block.

Example:
    >>> result = generate(config, num_records=10_000, output_dir="out/people")  # doctest: +SKIP
    >>> result.to_pandas().shape  # doctest: +SKIP
    (10000, 6)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dagen.cluster.clients import check_address, open_async_client, open_client
from dagen.cluster.security import check_security
from dagen.cluster.session import RunSession
from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunMode, RunSettings
from dagen.runner.arguments import (
    check_config,
    check_generate_arguments,
    check_mode,
    check_records,
    check_type,
)
from dagen.runner.events import Callback, RowGroupEvent
from dagen.runner.loop import RunLoop
from dagen.runner.monitor import ProgressCallback
from dagen.runner.preflight import preflight
from dagen.runner.result import GenerationResult
from dagen.runner.resume import ResumePlan, plan_resume
from dagen.runner.spec import RunSpec, new_run_id
from dagen.runner.spending import SpendGate
from dagen.runner.update import UpdatePlan, holds_stale, plan_sink_update, read_updatable
from dagen.sinks.base import Sink, UpdatableSink, claimed, opened, parts_of
from dagen.sinks.choice import choose_sink
from dagen.sinks.record import read_record
from dagen.warnings import DagenWarning

if TYPE_CHECKING:
    from distributed import Client
    from distributed.security import Security

__all__ = ["agenerate", "generate", "plan_update"]

log = logging.getLogger("dagen")

Connect = Callable[[int], ContextManager["Client"]]  # slots wanted -> the run's client


def generate(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    mode: RunMode | str | None = None,
    sink: Sink | None = None,
    on_row_group: Callable[[RowGroupEvent], Any] | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    resume: bool = False,
    update: bool = False,
    security: Security | None = None,
) -> GenerationResult:
    """Generate ``num_records`` rows of ``config`` on a Dask cluster.

    Args:
        config: the dataset config.
        num_records: rows to generate.
        output_dir: folder for parquet files and ``metadata.json`` (a local path or an
            fsspec URL such as ``s3://bucket/run``); None keeps the rows in memory.
        client: a Dask client to run on; see ``dagen.cluster.session`` for the default.
        scheduler: address of a Dask scheduler to connect to when no client is given
            (``tcp://host:8786``, or ``tls://host:8786`` with ``security``).
        settings: row-group size, window, seed and local-cluster settings.
        mode: what to do with an output that holds data (``dagen.RunMode`` or its name):
            ``"new"`` (the default) refuses it; ``"overwrite"`` replaces it once the new
            dataset is complete; ``"resume"`` continues the run in ``output_dir`` (or
            ``sink``) from its written row groups (``dagen.runner.resume``;
            ``num_records`` may grow to extend it); ``"update"`` brings it up to
            ``config``: regenerates only the columns whose fingerprint changed and what
            reads them, loads the others from its parts, replaces each part atomically
            (``dagen.runner.update``; ``plan_update`` says what it will do).
        sink: where row groups go instead of ``output_dir`` (a ``dagen.Sink``; see
            ``dagen.sinks.base`` for the order of its calls).
        on_row_group: called (plain or ``async def``) on the client with a
            ``RowGroupEvent`` for each row group written, in row order; if it raises,
            the run stops with a ``CallbackError`` and can be resumed.
        progress: called with a ``dagen.RunProgress`` about once per second while the run
            lasts and once at its end (cells done per column, rows written, rates, ETA,
            model figures); it runs in the run loop, so it should be quick.
        overwrite: ``mode="overwrite"``, as earlier versions spelled it.
        resume: ``mode="resume"``, as earlier versions spelled it.
        update: ``mode="update"``, as earlier versions spelled it.
        security: the ``distributed.security.Security`` (CA, client certificate and key)
            to reach a ``tls://`` scheduler with; None: Dask's config
            (``distributed.comm.tls.*``; see ``dagen.cluster.security``).

    Raises:
        TypeError: an argument has the wrong type (a path instead of a ``DatasetConfig``:
            read it with ``dagen.load_config``).
        ValueError: ``num_records`` < 1, two of ``overwrite``, ``resume``, ``update``
            (or one that ``mode`` contradicts), a resume or update without
            ``output_dir`` or ``sink``, both ``client`` and ``scheduler``, both
            ``output_dir`` and ``sink``, or an asynchronous ``client`` on the running
            event loop (use ``agenerate``).
        ConfigError: the config is invalid (before anything runs), a model's key
            variable is unset.
        OutputDirError: the output folder cannot be used.
        ClusterError: the cluster cannot be reached or started, ``scheduler`` is not an
            address, or a ``tls://`` one without certificates (checked before anything
            else); a TLS mismatch (wrong CA, a refused certificate, ``tcp://`` for a TLS
            scheduler) is named.
        CheckpointError: a row group cannot be written (earlier ones are kept), or the
            sink failed otherwise.
        CallbackError: ``on_row_group`` raised (the row groups it saw are kept).
        ModelAuthError: a model rejected the credentials (the run stops at once).
        ResumeError: ``resume`` and the folder holds another config's data.
        UpdateError: ``update`` and the output cannot be updated (the message says why).
        EarlyShutdownError: too many cells failed for good (written row groups are kept).
        BudgetExceededError: the next row group would have passed ``settings.max_cost``
            (written row groups are kept; resume with a higher cap to carry on).
    """
    chosen = check_mode("generate", mode, overwrite=overwrite, resume=resume, update=update)
    run = _Run.checked(config, num_records, output_dir, client, scheduler, settings,
                       chosen, sink, progress, security)  # fmt: skip
    _check_no_loop_blocked(client)
    callback = Callback(on_row_group) if on_row_group is not None else None

    def connect(slots: int) -> ContextManager[Client]:
        return open_client(client, scheduler, run.settings.cluster, slots=slots, security=security)

    with _ctrl_c_noted() as interrupted:
        return run.execute(connect, interrupted, callback)


async def agenerate(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    mode: RunMode | str | None = None,
    sink: Sink | None = None,
    on_row_group: Callable[[RowGroupEvent], Any] | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    resume: bool = False,
    update: bool = False,
    security: Security | None = None,
) -> GenerationResult:
    """``generate`` for ``await``: the run leaves the caller's event loop free.

    Takes the arguments of ``generate`` and raises what it raises. Without ``client``,
    the client it makes (to ``scheduler``, or a LocalCluster it starts) is asynchronous,
    on the caller's loop; an asynchronous client the caller made on this loop is used as
    is. ``on_row_group`` runs on the caller's loop. Cancelling the awaiting task stops
    the run (the row groups written are kept, ``resume=True`` continues them) and
    re-raises ``CancelledError`` once the run has stopped.

    Example:
        >>> result = await dagen.agenerate(cfg, 1_000, "out/people")  # doctest: +SKIP
    """
    chosen = check_mode("generate", mode, overwrite=overwrite, resume=resume, update=update)
    run = _Run.checked(config, num_records, output_dir, client, scheduler, settings,
                       chosen, sink, progress, security)  # fmt: skip
    loop = asyncio.get_running_loop()
    callback = Callback(on_row_group, loop) if on_row_group is not None else None
    stop = threading.Event()

    def connect(slots: int) -> ContextManager[Client]:
        return _entered_on(
            loop,
            open_async_client(
                client, scheduler, run.settings.cluster, slots=slots, security=security
            ),
        )

    context = contextvars.copy_context()
    done = loop.run_in_executor(None, context.run, run.execute, connect, stop.is_set, callback)
    try:
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        stop.set()  # the run loop stops at its next turn, as on Ctrl-C
        with contextlib.suppress(BaseException):
            await done
        raise


@dataclass(frozen=True)
class _Run:
    """One run's arguments, checked; ``execute`` is the one implementation of a run."""

    config: DatasetConfig
    num_records: int
    output_dir: str | Path | None
    settings: RunSettings
    mode: RunMode
    sink: Sink
    progress: ProgressCallback | None
    remote: bool = False  # on workers dagen does not start: they may hold the keys

    @classmethod
    def checked(
        cls,
        config: Any,
        num_records: Any,
        output_dir: Any,
        client: Any,
        scheduler: Any,
        settings: Any,
        mode: RunMode,
        sink: Any,
        progress: Any = None,
        security: Any = None,
    ) -> _Run:
        check_generate_arguments(
            config,
            num_records,
            output_dir,
            scheduler=scheduler,
            settings=settings,
            mode=mode,
            has_client=client is not None,
            has_sink=sink is not None,
        )
        if progress is not None and not callable(progress):
            raise TypeError(f"generate(): progress must be a callable or None, got {progress!r}")
        if scheduler is not None:
            check_address(scheduler)  # before anything is touched (an output being overwritten)
        check_security(scheduler, security)  # a tls:// address has its certificates
        chosen = choose_sink(output_dir, sink)
        settings = settings or RunSettings()
        remote = client is not None or scheduler is not None or settings.cluster.chosen
        return cls(config, num_records, output_dir, settings, mode, chosen, progress, remote)

    def execute(
        self, connect: Connect, interrupted: Callable[[], bool], callback: Callback | None
    ) -> GenerationResult:
        """The steps of the module docstring, on the client ``connect`` gives."""
        settings, sink = self.settings, self.sink
        run_id = new_run_id()
        with preflight(self.config, keys_on_workers=self.remote) as ready, claimed(sink, run_id):
            resumed, update = self._plan(ready.config)
            planned = update.resume if update is not None else resumed
            for index in planned.remove if planned is not None else ():
                sink.remove(index)  # strays and damaged parts, before the sink is opened
            spec = RunSpec.build(
                ready.config,
                settings,
                self.num_records,
                api_keys=ready.api_keys,
                resumed=resumed,
                run_id=run_id,
                update=update,
                part_format=parts_of(sink),
            )
            if update is not None:
                log.info("%s", update)
            cap = settings.max_cost if spec.context.caps else None
            gate = SpendGate.of(spec.previous, cap, update=update is not None)
            if gate is not None and not spec.finished:
                gate.check_start()  # a cap reached already: say so before anything starts
            overwrite, keep = self.mode is RunMode.OVERWRITE, self.mode.keeps_data
            with opened(sink, overwrite=overwrite, resume=keep):
                if update is not None and isinstance(sink, UpdatableSink):  # guarded: it is
                    sink.replacing(update.updates)  # old parts are kept until replaced
                if spec.finished:  # a resumed run with nothing left to do needs no cluster
                    metadata = spec.metadata()
                    metadata.status = "complete"
                    sink.write_metadata(metadata.to_dict())
                    return _result(self.output_dir, metadata.to_dict(), sink)
                with (
                    connect(spec.local_slots) as dask,
                    RunSession(dask, spec.context, spec.keys) as session,
                ):
                    name = (
                        str(self.output_dir) if self.output_dir is not None else type(sink).__name__
                    )
                    loop = RunLoop(spec, session, sink, interrupted, callback, self.progress, name)
                    loop.run()
        return _result(self.output_dir, loop.metadata.to_dict(), sink)

    def _plan(self, config: DatasetConfig) -> tuple[ResumePlan | None, UpdatePlan | None]:
        """What a resumed run keeps, or what an update does (``--resume`` on an
        interrupted update continues the update: it never keeps stale parts). Pure: the
        sink is only read."""
        settings, sink = self.settings, self.sink
        size = settings.row_group_size
        if self.mode is RunMode.UPDATE:  # the output's metadata is read once, here
            previous = read_updatable(sink)
            return None, plan_sink_update(
                sink, previous, config, self.num_records, size, settings.seed
            )
        if self.mode is not RunMode.RESUME:
            return None, None
        previous = read_record(sink)
        resumed = plan_resume(
            sink, previous, config, self.num_records, size, settings.seed, settings.exact
        )
        if resumed is not None and holds_stale(resumed.previous, config):
            return None, plan_sink_update(
                sink, previous, config, self.num_records, size, resumed.seed
            )
        return resumed, None


def plan_update(
    config: DatasetConfig,
    output_dir: str | Path,
    num_records: int | None = None,
    *,
    settings: RunSettings | None = None,
) -> UpdatePlan:
    """What ``generate(..., update=True)`` would do to ``output_dir``; touches nothing.

    No cluster, no model server, no lock: the parts are trusted as the metadata records
    them (the run itself checks their checksums).

    Args:
        config: the new config.
        output_dir: the output to update.
        num_records: rows it ends with (None: the output's).
        settings: the run settings (their row-group size and seed must be the output's).

    Raises:
        TypeError: an argument has the wrong type.
        UpdateError: the output cannot be updated.

    Example:
        >>> print(dagen.plan_update(cfg, "out/reviews"))  # doctest: +SKIP
        update out/reviews: regenerate judge in 2 row groups (2,000 rows); ...
    """
    check_config("plan_update", config)
    check_type("plan_update", "output_dir", output_dir, (str, os.PathLike))
    check_type("plan_update", "settings", settings, (RunSettings,))
    if num_records is not None:
        check_records("plan_update", "num_records", num_records)
    sink = choose_sink(output_dir, None)
    size = settings.row_group_size if settings is not None else None
    seed = settings.seed if settings is not None else None
    previous = read_updatable(sink)
    return plan_sink_update(sink, previous, config, num_records, size, seed, inspect_parts=False)


def _check_no_loop_blocked(client: Client | None) -> None:
    """``generate`` in a running event loop: refuse the loop's own client, else warn."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if client is not None and client.asynchronous:
        raise ValueError(
            "generate(): the client is asynchronous, on the event loop generate() would "
            "block; use `await dagen.agenerate(...)` with the same arguments"
        )
    if not _in_jupyter_kernel():
        warnings.warn(
            "generate() blocks the running event loop until the run ends; use "
            "`await dagen.agenerate(...)` with the same arguments to keep it running",
            DagenWarning,
            stacklevel=3,
        )


def _in_jupyter_kernel() -> bool:
    """Whether this is a Jupyter kernel, where every cell blocks the kernel's loop anyway."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return type(shell).__name__ == "ZMQInteractiveShell"


@contextlib.contextmanager
def _entered_on(loop: asyncio.AbstractEventLoop, manager: Any) -> Iterator[Any]:
    """Enter and exit an async context manager on ``loop`` from another thread."""

    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    value = on_loop(manager.__aenter__())
    try:
        yield value
    except BaseException as exc:
        if not on_loop(manager.__aexit__(type(exc), exc, exc.__traceback__)):
            raise
    else:
        on_loop(manager.__aexit__(None, None, None))


def _result(output_dir: str | Path | None, metadata: dict, sink: Sink) -> GenerationResult:
    if output_dir is None:
        return GenerationResult(None, metadata, sink)
    text = str(output_dir)
    return GenerationResult(text if "://" in text else Path(text), metadata, sink)


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[Callable[[], bool]]:
    """While a run lasts, Ctrl-C also sets a flag (yields the check) besides raising.

    Python drops an exception a signal handler raises while a finalizer runs (a released
    Dask future's ``__del__``, say), which would let a run go on after Ctrl-C; the run loop
    checks the flag each turn. Only in the main thread, and only over Python's default
    handler: an application's own SIGINT handling is left alone.
    """
    noted = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield noted.is_set
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        noted.set()
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield noted.is_set
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
