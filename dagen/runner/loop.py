"""The run loop: admit row groups through a window, watch their futures, checkpoint each.

Policy, one turn of the loop:

    1. Admit row groups while fewer than ``max_concurrent_row_groups`` are in flight: each
       is lowered to its tasks (``RowGroupPlan``) and given to the admission.
    2. Submit what the admission hands over in one graph: every task as soon as what it
       waits on was submitted, a model's cells once their inputs are finished and a worker
       has room in the model's share (``dagen.lowering.admission``).
    3. As futures finish, the admission frees credit and the tracker counts cells; a result
       whose type says it holds failures has its failures fetched (a fatal one, such as
       rejected credentials, stops the run at once).
    4. When a row group's checkpoint task finishes, its futures are released, the sink
       writes it, the metadata is rewritten and the next row group is admitted. With an
       ``on_row_group`` callback, written row groups are handed to it in row order
       (``dagen.runner.events``), each recorded in the metadata once its callback
       returned; row groups held back for their turn count against the window.

An exact run (``RunSettings.exact``) asks its ``ExactPlanner`` for each row group instead
(sized from the keep rate so far; ``dagen.lowering.exact``), holds every finished row
group until those before it are written, writes them in index order, cuts the one that
reaches the target to the rows still needed and cancels the row groups after it.

State lives in four places, each with one owner: the graph (what depends on what), the
admission (what was handed to Dask, each model's credit), the tracker (what is done, what
was dropped), Dask (what runs where). The loop joins them and holds only the futures of the
row groups in flight. Two timers, each for one job: watching the run (``RunMonitor``:
progress, figures for the dashboard, the timeline, the progress log, about once per
second), and re-splitting the models' caps when workers come or go (more often while a
split waits for shrunk workers' calls to finish before other shares grow:
``RunSession.install_shares``).

Example:
    >>> RunLoop(spec, session, sink).run()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagen.cluster.session import RunSession
from dagen.cluster.watcher import Finished, Watcher
from dagen.errors import (
    CallbackError,
    CheckpointError,
    DagenError,
    EarlyShutdownError,
    GenerationError,
    ModelAuthError,
)
from dagen.lowering.admission import Admission
from dagen.lowering.exact import ExactPlanner
from dagen.lowering.plan import Key, RowGroup, RowGroupPlan
from dagen.runner.chunking import choose_chunking
from dagen.runner.events import Callback, InOrder, RowGroupEvent
from dagen.runner.monitor import ProgressCallback, RunMonitor
from dagen.runner.spec import RunSpec
from dagen.runner.spending import SpendGate
from dagen.runner.stops import failure_rate_error, task_error
from dagen.runner.update import LoadedColumn, load_columns
from dagen.sinks.assemble import RowGroupResult, head
from dagen.sinks.base import LocatingSink, Sink
from dagen.tracking.tracker import CompletionTracker

__all__ = ["GROW_INTERVAL", "HANDOVER_INTERVAL", "SHARES_INTERVAL", "RunLoop"]

log = logging.getLogger("dagen")

HANDOVER_INTERVAL = 0.05  # seconds: model cells are batched over this (see _hand_over)
SHARES_INTERVAL = 5.0  # seconds between checks that the workers are still the same
GROW_INTERVAL = 0.2  # seconds between looks at shrunk workers' calls, while shares wait to grow


class RunLoop:
    """One run on one session into one sink (see the module docstring).

    Args:
        spec: the run.
        session: the run's use of the Dask client, its context installed.
        sink: where finished row groups go.
        interrupted: checked once per turn: a Ctrl-C that Python dropped stops it too.
        on_row_group: called with each written row group, in row order.
        progress: called with the run's ``RunProgress`` about once per second and at the end.
        name: the run's label on the dashboard (the output folder).
    """

    def __init__(
        self,
        spec: RunSpec,
        session: RunSession,
        sink: Sink,
        interrupted: Callable[[], bool] = lambda: False,
        on_row_group: Callback | None = None,
        progress: ProgressCallback | None = None,
        name: str = "",
    ) -> None:
        self.spec = spec
        self.session = session
        self.sink = sink
        self.interrupted = interrupted
        self.metadata = spec.metadata()
        self.tracker = CompletionTracker(window_cells=spec.settings.early_shutdown.window)
        self.admission = Admission(spec.column_models, spec.graph.order)
        self.watcher = Watcher(session.client)
        self.pending: Iterator[RowGroup] = iter(spec.row_groups)  # lazy: any -n plans at once
        self.admitted = 0  # row groups taken from ``pending``
        self.in_flight: dict[int, dict[Key, Any]] = {}  # row group -> key -> future
        self.starts: dict[int, int] = {}  # row group in flight -> its first row
        self.previous: int | None = None  # the row group admitted last (stateful columns)
        self.chunking: dict[str, int] = {}  # rows per task of each cell-by-cell column
        self.on_row_group = on_row_group
        # written row groups waiting for their turn to be delivered: (result, file)
        self.in_order: InOrder[tuple[RowGroupResult, Any]] = InOrder()  # keys as admitted
        self.max_live_tasks = 0
        # row group an update replaces -> its old part's non-null count per column
        self.replacing: dict[int, dict[str, int]] = {}
        self.started = time.perf_counter()
        self.last_handover = 0.0
        self.last_shares = self.started
        self.monitor = RunMonitor(spec, self.tracker, session, progress, name)
        # the cap's gate, for a run that calls models (one that calls none costs nothing)
        cap = spec.settings.max_cost if spec.context.caps else None
        self.spending = SpendGate.of(self.metadata, cap, update=spec.update is not None)
        # sizes an exact run's row groups (after those a resumed one wrote), else None
        self.exact = (
            ExactPlanner.resuming(
                spec.num_records,
                spec.settings.row_group_size,
                (spec.previous or {}).get("row_groups", []),
            )
            if spec.exact
            else None
        )

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        """The loop of the module docstring; leaves the metadata describing the sink's row
        groups from its start to its end.

        Raises:
            DagenError: what stopped the run (``GenerationError``, ``ModelAuthError``,
                ``EarlyShutdownError``, ``CheckpointError``...); written row groups are kept.
            KeyboardInterrupt: Ctrl-C; written row groups are kept.
        """
        self._split_shares()
        self._choose_chunking()
        try:
            # from the start: a run killed before its first checkpoint's record (after
            # its part was written) leaves metadata, so --resume takes that part as a stray
            self.sink.write_metadata(self.metadata.to_dict())
            while self._more_to_admit() or self.in_flight:
                self._admit()
                self._hand_over()
                for finished in self.watcher.next_batch():
                    if finished.ref.row_group not in self.in_flight:
                        continue  # cancelled: an exact run reached its target without it
                    if finished.lost:  # a worker died holding it; Dask recomputes it
                        self.watcher.again(finished)
                        continue
                    self.admission.finished(finished.ref.key)
                    self._on_finished(finished)
                if self.interrupted():
                    raise KeyboardInterrupt
                self._on_timers()
            self.metadata.status = "complete"
        except BaseException as exc:
            self.metadata.status = "stopped"
            self.metadata.stop_reason = f"{type(exc).__name__}: {exc}"
            self.session.cancel([f for fs in self.in_flight.values() for f in fs.values()])
            raise
        finally:
            self._close()

    def _more_to_admit(self) -> bool:
        if self.exact is not None:
            return not self.exact.done
        return self.admitted < len(self.spec.row_groups)

    def _next_row_group(self) -> RowGroup | None:
        """The next row group to admit, or None for now (none left, or an exact run's rows
        in flight are expected to reach its target)."""
        if self.exact is not None:
            return self.exact.next_row_group()
        return next(self.pending) if self.admitted < len(self.spec.row_groups) else None

    def _admit(self) -> None:
        """Plan row groups into the admission while the window has room."""
        window = self.spec.settings.max_concurrent_row_groups
        while len(self.in_flight) + len(self.in_order) < window and self._affordable():
            row_group = self._next_row_group()
            if row_group is None:
                break
            self.admitted += 1
            self.starts[row_group.index] = row_group.start
            self.in_order.expect(row_group.index)
            loaded = self._load(row_group.index)
            plan = RowGroupPlan.build(
                self.spec.graph,
                row_group,
                run=self.spec.run_id,
                cells_per_task=self.chunking,
                slugs=self.spec.slugs,
                previous=self.previous,
                loaded=loaded.keys(),
            )
            for column, values in loaded.items():
                self.session.loads[plan.block_keys[column]] = values
            self.admission.add(plan)
            self.previous = row_group.index
            self.in_flight[row_group.index] = {}
            sizes = {c: row_group.size for c in self.spec.graph.columns if c not in loaded}
            self.tracker.admit(row_group.index, sizes, tasks=len(plan.tasks))
            if self.spending is not None:
                self.spending.admitted(row_group.size)
        if self.exact is not None and not self.in_flight and not self.exact.done:
            self._give_up(self.exact.give_up() or "no more rows may be generated")

    def _affordable(self) -> bool:
        """The next row group keeps the projected spend within ``max_cost`` (always, with
        no cap or none left); raises ``BudgetExceededError`` when it does not and nothing
        is in flight. An exact run's next row group is taken at its largest size."""
        if self.spending is None:
            return True
        if self.exact is not None:
            size = self.spec.settings.row_group_size
        elif self.admitted < len(self.spec.row_groups):
            size = self.spec.row_groups[self.admitted].size
        else:
            return True
        return self.spending.allows(size, in_flight=bool(self.in_flight or len(self.in_order)))

    def _load(self, index: int) -> dict[str, LoadedColumn]:
        """The columns an update reads from row group ``index``'s old part (on the client:
        the cluster may not see the output's disk)."""
        update = self.spec.update.updates.get(index) if self.spec.update else None
        if update is None:
            return {}
        loaded, self.replacing[index] = load_columns(
            self.sink,
            update,
            self.spec.context.assembly.outputs,
            (self.spec.previous or {}).get("dropped_rows") or [],
        )
        return loaded

    def _hand_over(self) -> None:
        """Submit what the admission lets go now, and watch it."""
        now = time.perf_counter()
        # between hand-overs closer than HANDOVER_INTERVAL, model cells go only where a
        # worker's calls would otherwise idle: fewer, larger graphs for the scheduler
        handovers = self.admission.take(
            running_low_only=now - self.last_handover < HANDOVER_INTERVAL
        )
        if handovers:
            self.last_handover = now
            futures = self.session.submit(handovers, ChainMap(*self.in_flight.values()))
            for handover in handovers:
                ref = handover.ref
                self.in_flight[ref.row_group][ref.key] = futures[ref.key]
            self.watcher.add([h.ref for h in handovers], futures)
            live = sum(map(len, self.in_flight.values()))
            self.max_live_tasks = max(self.max_live_tasks, live)
        elif not len(self.watcher):  # unfinished row groups with nothing running: never hang
            raise GenerationError(
                f"row groups {sorted(self.in_flight)} are unfinished, no task is running and "
                f"{self.admission.waiting} model cells wait for credit that no worker has"
            )

    def _on_finished(self, finished: Finished) -> None:
        ref = finished.ref
        if finished.errored:
            raise self._task_error(finished)
        if ref.kind == "checkpoint":
            self._on_checkpoint(finished)
            return
        cells = ref.rows if ref.kind in ("cell", "batch") else 0
        self.tracker.task_finished(ref.row_group, ref.column if cells else None, cells)
        if not cells:
            return
        assert ref.column is not None  # cells belong to a column
        failures = self.session.failures(finished.future) if finished.has_failures else []
        self.tracker.record_failures(ref.row_group, failures)
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

    def _on_checkpoint(self, finished: Finished) -> None:
        """A row group is assembled: release it, write it, record it."""
        index = finished.ref.row_group
        result: RowGroupResult = self.session.fetch(finished.future)
        # release before writing: once the file exists, no worker loss can make Dask
        # recompute (and a model be paid again for) anything of this row group
        self.session.release(self.in_flight.pop(index))
        self.admission.forget(index)
        self.tracker.record_failures(index, result.dropped.values())
        if self.exact is not None:
            self._on_exact_checkpoint(result, self.exact)
            return
        result = self._conformed(result)
        file = self.sink.write(result)
        if index in self.replacing and result.rows == 0:  # no part now: the old one goes
            self.sink.remove(index)
        if self.on_row_group is None:
            self._record(result, file)
            return
        for due, due_file in self.in_order.put(index, (result, file)):
            self._deliver(due, due_file)
            self._record(due, due_file)

    def _on_exact_checkpoint(self, result: RowGroupResult, planner: ExactPlanner) -> None:
        """An exact run's row group is assembled: written once those before it are, cut
        to the rows still needed; the run's surplus is cancelled once the target is met.

        Raises:
            EarlyShutdownError: the keep rate leaves no hope of reaching the target.
        """
        planner.finished(result.row_group, result.rows)
        for due, _ in self.in_order.put(result.row_group, (result, None)):  # not yet written
            take = planner.wrote(due.rows)
            due = self._conformed(due if take == due.rows else head(due, take))
            file = self.sink.write(due)
            if self.on_row_group is not None:
                self._deliver(due, file)
            self._record(due, file)
            if planner.done:
                self._cancel_surplus()
                return
        reason = planner.give_up()
        if reason is not None:
            self._give_up(reason)

    def _cancel_surplus(self) -> None:
        """An exact run reached its target: the row groups still in flight or held are
        not needed (nothing of theirs was written)."""
        self.session.cancel([f for fs in self.in_flight.values() for f in fs.values()])
        for index in self.in_flight:
            self.admission.forget(index)
            self.starts.pop(index, None)
        self.in_flight.clear()
        self.in_order = InOrder()

    def _give_up(self, reason: str) -> None:
        """Stop an exact run that cannot reach its target, naming why rows were dropped.

        Raises:
            EarlyShutdownError: always.
        """
        assert self.exact is not None
        reasons = self.tracker.drop_reasons().most_common(3)
        why = ", ".join(f"{c!r} {e}: {n} rows" for (c, e), n in reasons) or "none recorded"
        raise EarlyShutdownError(
            f"--exact: {reason}, so {self.exact.target} rows cannot be written "
            f"({self.exact.written} were); dropped by {why}. Loosen the filter (or whatever "
            "drops the rows); the rows written are kept."
        )

    def _record(self, result: RowGroupResult, file: Any) -> None:
        """A written row group enters the metadata (``--resume`` keeps it from now on)."""
        index = result.row_group
        self.tracker.row_group_written(index, result.rows)
        if index in self.replacing:  # an update replaced it: its old record goes
            assert self.spec.update is not None  # only an update replaces row groups
            loaded = self.spec.update.updates[index].load  # their cost is carried over
            self.metadata.forget_row_group(index, self.replacing.pop(index), loaded)
        paid = self.metadata.add_row_group(result, file, self.starts.pop(index))
        if self.spending is not None:
            self.spending.recorded(result.size, paid)
        name = file.get("file") if isinstance(file, Mapping) else file  # a name or a record
        self.monitor.row_group_written(index, result.rows, len(result.dropped), name)
        self.metadata.timeline = self.monitor.timeline_dict()
        self.sink.write_metadata(self.metadata.to_dict())

    def _deliver(self, result: RowGroupResult, file: Any) -> None:
        """Hand a written row group to the caller's callback.

        Raises:
            CallbackError: the callback raised (its exception is the cause).
        """
        assert self.on_row_group is not None
        index = result.row_group
        event = RowGroupEvent(
            index=index,
            start=self.starts[index],
            rows=result.rows,
            dropped=len(result.dropped),
            path=self._path_of(file),
            table=result.table,
        )
        try:
            self.on_row_group(event)
        except Exception as exc:
            raise CallbackError(
                f"on_row_group callback {self.on_row_group.name!r} raised on row group "
                f"{index}: {type(exc).__name__}: {exc}. Row groups before it were delivered "
                "and recorded; resume=True (--resume) hands the rest to the callback again.",
                row_group=index,
                callback=self.on_row_group.name,
            ) from exc

    def _path_of(self, file: str | Mapping[str, Any] | None) -> str | None:
        """The full location of what ``sink.write`` returned (a name or a record)."""
        name = file.get("file") if isinstance(file, Mapping) else file
        if name is None or not isinstance(self.sink, LocatingSink):  # ``dagen.sinks.base``
            return name
        return str(self.sink.path_of(name))

    def _conformed(self, result: RowGroupResult) -> RowGroupResult:
        """``result`` with every column of its column's type (``dagen.sinks.schema``)."""
        rows = [r for r in range(result.size) if r not in result.dropped]
        table = self.metadata.types.conform(
            result.table,
            row_group=result.row_group,
            rows=rows if len(rows) == result.rows else None,
        )
        return dataclasses.replace(result, table=table)

    def _on_timers(self) -> None:
        now = time.perf_counter()
        since = now - self.last_shares
        if since >= SHARES_INTERVAL or (self.session.growing and since >= GROW_INTERVAL):
            self.last_shares = now
            self._split_shares()  # workers may have come or gone
        self.monitor.tick(len(self.in_flight), now)

    def _close(self) -> None:
        """Collect usage and timings and write the final metadata, whatever happened."""
        self.watcher.clear()
        usage = self.session.finish()
        self.metadata.add_usage(usage)
        elapsed = time.perf_counter() - self.started
        self.metadata.timings["generation_seconds"] = round(elapsed, 3)
        self.metadata.timings["max_live_tasks"] = self.max_live_tasks
        try:
            final = self.monitor.finish(self.metadata.status, usage)
            if self.spec.settings.progress_interval is not None:
                self.monitor.log_line(final)
        except Exception:  # a failing progress callback must not hide how the run ended
            log.exception("reporting the run's progress failed")
        self.metadata.timeline = self.monitor.timeline_dict()
        try:
            self.sink.write_metadata(self.metadata.to_dict())
        except CheckpointError as exc:  # keep the error that stopped the run, if any
            if self.metadata.status == "complete":
                raise
            log.error("%s", exc)

    # -- model concurrency -------------------------------------------------------------

    def _split_shares(self) -> None:
        """Split the models' caps over the workers present; the admission's credit follows."""
        if self.session.install_shares():
            self.admission.set_shares(self.session.worker_shares)

    def _choose_chunking(self) -> None:
        """Rows per task of each cell-by-cell column (``dagen.runner.chunking``)."""
        self.chunking = choose_chunking(self.spec, self.session)

    # -- failures ----------------------------------------------------------------------

    def _check_failure_rate(self) -> None:
        """Stop when too many cells fail for good (``RunSettings.early_shutdown``)."""
        error = failure_rate_error(self.spec.settings.early_shutdown, self.tracker)
        if error is not None:
            raise error

    def _task_error(self, finished: Finished) -> DagenError:
        return task_error(finished)
