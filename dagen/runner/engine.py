"""The run loop: admit row groups through a window, watch their futures, checkpoint each.

Policy:

    1. Build the column graph and the generators once; install them on the workers.
    2. Admit row groups while fewer than ``max_concurrent_row_groups`` are in flight:
       each is lowered to its tasks, given to the admission (``dagen.lowering.admission``).
    3. Submit what the admission hands over, in one graph per turn of the loop: every task
       as soon as what it waits on was submitted, a model's cells once their inputs are
       finished and a worker has room in the model's share.
    4. As futures finish, the admission frees credit, the tracker counts cells; a result
       whose type says it holds failures is fetched and its dropped rows recorded (a
       fatal one, such as rejected credentials, stops the run at once).
    5. When a row group's checkpoint task finishes, its parquet bytes are written, the
       metadata is rewritten, its futures are released and the next row group is admitted.

State lives in four places, each with one owner: the graph (what depends on what), the
admission (what was handed to Dask, each model's credit), the tracker (what is done, what
was dropped), Dask (what runs where). The engine is the loop that joins them; it holds only
the futures of the row groups in flight.

Example:
    >>> result = generate(config, num_records=10_000, output_dir="out/people")  # doctest: +SKIP
    >>> result.to_pandas().shape  # doctest: +SKIP
    (10000, 6)
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import threading
import time
import warnings
from collections import ChainMap, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dagen.cluster.session import RunSession, open_client
from dagen.cluster.tasks import RunContext
from dagen.cluster.watcher import Finished, Watcher
from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunSettings
from dagen.errors import (
    CheckpointError,
    DagenError,
    EarlyShutdownError,
    GenerationError,
    ModelAuthError,
)
from dagen.generators import ModelRuntime, build_generators
from dagen.graph import ColumnGraph
from dagen.lowering.admission import QUEUED_PER_SLOT, Admission, fit_to_slots, slots_needed
from dagen.lowering.plan import RowGroup, RowGroupPlan, chunk_sizes, column_slugs, row_groups
from dagen.runner.arguments import check_generate_arguments
from dagen.runner.preflight import check_endpoints, read_api_keys, resolved_models
from dagen.runner.result import GenerationResult
from dagen.runner.resume import ResumePlan, plan_resume
from dagen.sinks.assemble import AssemblySpec, RowGroupResult
from dagen.sinks.metadata import RunMetadata
from dagen.sinks.parquet import MemorySink, ParquetSink
from dagen.sinks.processors import build_processors
from dagen.tracking.tracker import CompletionTracker
from dagen.warnings import DagenWarning

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["generate"]

log = logging.getLogger("dagen")

HANDOVER_INTERVAL = 0.05  # seconds: model cells are batched over this (see _hand_over)


def generate(
    config: DatasetConfig,
    num_records: int,
    output_dir: str | Path | None = None,
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    settings: RunSettings | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> GenerationResult:
    """Generate ``num_records`` rows of ``config`` on a Dask cluster.

    Args:
        config: the dataset config.
        num_records: rows to generate.
        output_dir: folder for parquet files and ``metadata.json``; None keeps the rows in
            memory.
        client: a Dask client to run on; see ``dagen.cluster.session`` for the default.
        scheduler: address of a Dask scheduler to connect to when no client is given.
        settings: row-group size, window, seed and local-cluster settings.
        overwrite: replace an existing non-empty output folder.
        resume: continue the run in ``output_dir`` from its written row groups (see
            ``dagen.runner.resume``); ``num_records`` may grow to extend the dataset.

    Raises:
        TypeError: an argument has the wrong type (a path instead of a ``DatasetConfig``:
            read it with ``dagen.load_config``).
        ValueError: ``num_records`` < 1, ``resume`` with ``overwrite`` or without
            ``output_dir``, or both ``client`` and ``scheduler``.
        ConfigError: the config is invalid (before anything runs), a model's key
            variable is unset.
        OutputDirError: the output folder cannot be used.
        ClusterError: the cluster cannot be reached or started.
        CheckpointError: a row group cannot be written (earlier ones are kept).
        ModelAuthError: a model rejected the credentials (the run stops at once).
        ResumeError: ``resume`` and the folder holds another config's data.
        EarlyShutdownError: too many cells failed for good (written row groups are kept).
    """
    check_generate_arguments(
        config,
        num_records,
        output_dir,
        scheduler=scheduler,
        settings=settings,
        overwrite=overwrite,
        resume=resume,
        has_client=client is not None,
    )
    settings = settings or RunSettings()
    sink = ParquetSink(output_dir) if output_dir is not None else MemorySink()
    with resolved_models(config) as resolved:
        resume_plan = None
        if resume and isinstance(sink, ParquetSink):
            resume_plan = plan_resume(
                sink, resolved, num_records, settings.row_group_size, settings.seed
            )
        # everything is checked (config, functions, seeds, keys, endpoints) before the
        # output folder is touched: a bad run never clears a good dataset
        run = _Run(resolved, num_records, settings, resume_plan)
        sink.open(overwrite=overwrite, resume=resume)
        if not run.row_groups:  # a resumed run with nothing left to do needs no cluster
            run.metadata.status = "complete"
            sink.write_metadata(run.metadata.to_dict())
            return GenerationResult(
                Path(output_dir) if output_dir else None, run.metadata.to_dict(), sink
            )
        with (
            open_client(client, scheduler, settings.cluster, slots=run.slots) as dask_client,
            RunSession(dask_client, run.context) as session,
            _ctrl_c_noted() as interrupted,
        ):
            run.execute(session, sink, interrupted)
    return GenerationResult(
        output_dir=Path(output_dir) if output_dir is not None else None,
        metadata=run.metadata.to_dict(),
        sink=sink,
    )


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


class _Run:
    """One run's static parts (graph, generators, plans) and its loop."""

    def __init__(
        self,
        config: DatasetConfig,
        num_records: int,
        settings: RunSettings,
        resumed: ResumePlan | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.graph = ColumnGraph.from_config(config)
        self.run_id = "r" + secrets.token_hex(4)
        runtime = ModelRuntime(
            scope=self.run_id,
            api_keys=read_api_keys(config),
            salvage_rounds=settings.salvage_rounds,
            salvage_pause=settings.salvage_pause,
        )
        check_endpoints(config, runtime.api_keys)
        generators = build_generators(config, self.graph, runtime)
        outputs = {c.name: c.output_columns for c in config.columns}
        all_outputs = [o for outs in outputs.values() for o in outs]
        assembly = AssemblySpec(
            columns=self.graph.columns,
            outputs=outputs,
            # a dropped column takes its side-effect columns with it
            dropped_columns=frozenset(o for c in config.columns if c.drop for o in outputs[c.name]),
            processors=build_processors(config, all_outputs),
        )
        seed = settings.seed if settings.seed is not None else config.seed
        self.seed = seed if seed is not None else secrets.randbelow(2**31)
        if resumed is not None:
            self.seed = resumed.seed
        column_models = {c.name: c.model_alias for c in config.columns if c.model_alias is not None}
        caps = {
            m.alias: m.max_parallel_requests
            for m in config.models
            if m.alias in column_models.values()
        }
        self.context = RunContext(
            self.run_id,
            self.seed,
            generators,
            assembly,
            self.graph.stateful,
            runtime,
            column_models,
            caps,
        )
        self.slugs = column_slugs(self.graph.columns)
        self.async_columns = {c for c, g in generators.items() if g.is_async}
        self.chunking: dict[str, int] = {}  # set once the cluster (and so the shares) is known
        self.row_groups = (
            resumed.pending
            if resumed is not None
            else row_groups(num_records, settings.row_group_size)
        )
        self.tracker = CompletionTracker(window_cells=settings.early_shutdown.window)
        # task slots per worker when dagen starts the cluster: async model calls hold a slot
        # while they wait, so give each worker room for its share of every model's cap
        workers = settings.cluster.n_workers or 2
        self.slots = 2 + sum(
            QUEUED_PER_SLOT * -(-cap // workers) for cap in self.context.caps.values()
        )
        self.metadata = RunMetadata(
            config=config.to_dict(),
            fingerprint=config.fingerprint(),
            seed=self.seed,
            num_records=num_records,
            row_group_size=settings.row_group_size,
            previous=resumed.previous if resumed is not None else None,
        )

    def plan(self, row_group: RowGroup, previous: int | None) -> RowGroupPlan:
        return RowGroupPlan.build(
            self.graph,
            row_group,
            run=self.run_id,
            cells_per_task=self.chunking,
            slugs=self.slugs,
            previous=previous,
        )

    def execute(
        self,
        session: RunSession,
        sink: ParquetSink | MemorySink,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> None:
        """The loop of the module docstring; always leaves the metadata describing the files.

        ``interrupted`` is checked once per turn: a Ctrl-C that Python dropped stops it too.
        """
        pending = deque(self.row_groups)
        in_flight: dict[int, dict[Any, Any]] = {}  # rg -> key -> future, as handed over
        starts = {rg.index: rg.start for rg in self.row_groups}
        watcher = Watcher(session.client)
        admission = self.admission = Admission(self.context.column_models, self.graph.order)
        previous: int | None = None
        started = time.perf_counter()
        self.max_live_tasks = 0
        self._last_handover = 0.0
        last_log = started
        self._install_shares(session)
        self.chunking = chunk_sizes(
            self.graph,
            self.settings.row_group_size,
            self.settings.cells_per_task,
            self.async_columns,
            {c: session.min_share(a) for c, a in self.context.column_models.items()},
        )
        self._fit_slots(session)
        try:
            while pending or in_flight:
                while pending and len(in_flight) < self.settings.max_concurrent_row_groups:
                    row_group = pending.popleft()
                    plan = self.plan(row_group, previous)
                    admission.add(plan)
                    previous = row_group.index
                    in_flight[row_group.index] = {}
                    self.tracker.admit(
                        row_group.index,
                        {c: row_group.size for c in self.graph.columns},
                        tasks=len(plan.tasks),
                    )
                self._hand_over(session, watcher, in_flight)
                self.max_live_tasks = max(self.max_live_tasks, sum(map(len, in_flight.values())))
                for finished in watcher.next_batch():
                    if finished.lost:  # a worker died holding it; Dask recomputes it
                        watcher.again(finished)
                        continue
                    admission.finished(finished.ref.key)
                    self._on_finished(finished, session, sink, in_flight, starts)
                if interrupted():
                    raise KeyboardInterrupt
                interval = self.settings.progress_interval
                if time.perf_counter() - last_log >= (interval or 5.0):
                    last_log = time.perf_counter()
                    self._install_shares(session)  # workers may have come or gone
                    if interval is not None:
                        self._log_progress(started)
            self.metadata.status = "complete"
        except BaseException as exc:
            self.metadata.status = "stopped"
            self.metadata.stop_reason = f"{type(exc).__name__}: {exc}"
            session.cancel([f for futures in in_flight.values() for f in futures.values()])
            raise
        finally:
            watcher.clear()
            self.metadata.add_usage(session.finish())
            self.metadata.timings["generation_seconds"] = round(time.perf_counter() - started, 3)
            self.metadata.timings["max_live_tasks"] = self.max_live_tasks
            try:
                sink.write_metadata(self.metadata.to_dict())
            except CheckpointError as exc:  # keep the error that stopped the run, if any
                if self.metadata.status == "complete":
                    raise
                log.error("%s", exc)
        if self.settings.progress_interval is not None:
            self._log_progress(started)

    def _hand_over(
        self, session: RunSession, watcher: Watcher, in_flight: dict[int, dict[Any, Any]]
    ) -> None:
        """Submit what the admission lets go now, and watch it."""
        now = time.perf_counter()
        # between hand-overs closer than HANDOVER_INTERVAL, model cells go only where a
        # worker's calls would otherwise idle: fewer, larger graphs for the scheduler
        handovers = self.admission.take(
            running_low_only=now - self._last_handover < HANDOVER_INTERVAL
        )
        if handovers:
            self._last_handover = now
            futures = session.submit(handovers, ChainMap(*in_flight.values()))
            for handover in handovers:
                ref = handover.ref
                in_flight[ref.row_group][ref.key] = futures[ref.key]
            watcher.add([h.ref for h in handovers], futures)
        elif not len(watcher):  # unfinished row groups with nothing running: never hang
            raise GenerationError(
                f"row groups {sorted(in_flight)} are unfinished, no task is running and "
                f"{self.admission.waiting} model cells wait for credit that no worker has"
            )

    def _on_finished(
        self,
        finished: Finished,
        session: RunSession,
        sink: ParquetSink | MemorySink,
        in_flight: dict[int, dict[Any, Any]],
        starts: dict[int, int],
    ) -> None:
        ref = finished.ref
        if finished.errored:
            raise self._task_error(finished)
        if ref.kind == "checkpoint":
            result: RowGroupResult = session.fetch(finished.future)
            # release before writing: once the file exists, no worker loss can make Dask
            # recompute (and a model be paid again for) anything of this row group
            session.release(in_flight.pop(ref.row_group))
            self.admission.forget(ref.row_group)
            self.tracker.record_failures(ref.row_group, result.dropped.values())
            file = sink.write(result)
            self.tracker.row_group_written(ref.row_group, result.rows)
            self.metadata.add_row_group(result, file, starts[ref.row_group])
            sink.write_metadata(self.metadata.to_dict())
            return
        cells = ref.rows if ref.kind in ("cell", "batch") else 0
        self.tracker.task_finished(ref.row_group, ref.column if cells else None, cells)
        if not cells:
            return
        failures = session.failures(finished.future) if finished.has_failures else []
        self.tracker.record_failures(ref.row_group, failures)
        assert ref.column is not None  # cells belong to a column
        self.tracker.observe(ref.column, cells, sum(1 for f in failures if not f.retryable))
        fatal = next((f for f in failures if f.fatal), None)
        if fatal is not None:
            raise ModelAuthError(
                f"column {fatal.column!r}: {fatal.message}",
                column=fatal.column,
                row_group=fatal.row_group,
                row=fatal.row,
            )
        self._check_failure_rate()

    def _install_shares(self, session: RunSession) -> None:
        """Split the models' caps over the workers present; the admission's credit follows."""
        if session.install_shares():
            self.admission.set_shares(session.worker_shares)

    def _fit_slots(self, session: RunSession) -> None:
        """Coarser model chunks where workers run too few tasks at once (``fit_to_slots``);
        warn when even that cannot make room: model cells waiting for a slot would queue
        behind each other."""
        if not self.context.column_models:
            return
        shares, slots = session.worker_shares, session.worker_slots()
        if self.settings.cells_per_task is None:  # a chunk size the user set is kept
            self.chunking = fit_to_slots(
                self.chunking,
                self.context.column_models,
                shares,
                slots,
                self.settings.row_group_size,
            )
        for worker, n in slots.items():
            needed = slots_needed(self.chunking, self.context.column_models, shares, worker)
            if n < needed:
                warnings.warn(
                    f"Dask worker {worker} runs {n} tasks at once; its share of the models' "
                    f"caps needs {needed}: model calls will wait for each other. Start "
                    f"workers with --nthreads {needed} (or lower max_parallel_requests).",
                    DagenWarning,
                    stacklevel=4,
                )

    def _check_failure_rate(self) -> None:
        """Stop when too many cells fail for good (``RunSettings.early_shutdown``)."""
        policy = self.settings.early_shutdown
        if policy.error_rate is None:
            return
        found = self.tracker.failure_rate(policy.min_cells)
        if found is not None and found[0] > policy.error_rate:
            rate, column = found
            common = self.tracker.most_common_failure()
            detail = (
                f"; most frequent: column {common.column!r}, {common.error_type}: {common.message}"
                if common
                else ""
            )
            raise EarlyShutdownError(
                f"{rate:.0%} of the last {self.tracker.window_cells} cells of column {column!r} failed "
                "with non-retryable "
                f"errors (threshold {policy.error_rate:.0%}){detail}. Row groups already written are kept."
            )

    def _task_error(self, finished: Finished) -> DagenError:
        ref = finished.ref
        where = f"row group {ref.row_group}" + (f", column {ref.column!r}" if ref.column else "")
        try:
            exc = finished.future.exception(timeout=5)
        except Exception as inner:  # cancelled futures raise here
            exc = inner
        if isinstance(exc, DagenError):
            return exc
        return GenerationError(
            f"{where}: task failed: {type(exc).__name__}: {exc}",
            column=ref.column,
            row_group=ref.row_group,
        )

    def _log_progress(self, started: float) -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        t = self.tracker
        cells = ", ".join(f"{c} {t.done[c]}/{t.total[c]}" for c in self.graph.columns)
        log.info(
            "%d/%d row groups, %d rows written (%d dropped), %.0f rows/s; cells: %s",
            len(t.written),
            len(self.row_groups),
            t.rows_written,
            t.rows_dropped,
            t.rows_written / elapsed,
            cells,
        )
