"""The run state: every decision of a run, as a pure state machine.

On the pattern of distributed's ``worker_state_machine``: ``handle(stimulus)`` takes one
thing that happened (``dagen.runner.messages``: a turn of the loop, the workers seen, a
task finished, a row group assembled or written...) and returns the actions that follow,
in order; the run loop (``dagen.runner.loop``) carries them out against Dask and the sink
and feeds back the answers. No Dask, no I/O, no clock of its own: a test drives it with
literal sequences.

Policy, one turn:

    1. no worker seen yet, in a run calling models: ask for workers, wait (a run without
       models hands its tasks over at once: Dask queues them, an adaptive cluster grows)
    2. timers: the workers are looked at every ``SHARES_INTERVAL``, and every
       ``GROW_INTERVAL`` while a split of the models' caps waits to grow (``ShareSplit``)
    3. admit row groups while the window has room and the budget allows (``SpendGate``):
       each is lowered (``RowGroupPlan``; an update's loaded columns read back first) and
       given to the ``Admission``
    4. hand over what the admission lets go, in one ``Submit``
    5. nothing handed over, nothing running, row groups unfinished: the run is idle. It
       looks at the workers again at once (a split may be out of date: the race of a
       worker whose share had not grown yet when the non-model tasks finished), and
       waits; only an idle run whose split is installed, with workers present, for
       ``IDLE_LIMIT``, is hung (a ``GenerationError``), and one with no worker for
       ``WORKERS_TIMEOUT`` a ``ClusterError``.

A row group's checkpoint releases its futures, then its flow (``dagen.runner.flows``: the
planned row groups, or an exact run's) says what to write; each written row group is
delivered to the callback if there is one, in row order, then recorded in the metadata
(``Recorded``, ``WriteMetadata``). Whatever stops the run (a task error, a fatal model
error, too many failed cells, the budget, an exact run that cannot reach its target) is a
``Stop`` action after those already due.

State, each piece with one owner:

    admission   what was handed to Dask, what finished, each model's credit
    split       each model's cap split over the workers
    tracker     cells done, dropped rows of the row groups in flight
    flow        which row groups come next; those held back for their turn
    gate        what the output was paid, what may still be spent
    metadata    what was written (the record ``metadata.json`` stores)
    in_flight   row group -> RowGroup, admitted and not assembled
    unrecorded  row group -> RowGroup, admitted and not recorded
    replacing   row group an update replaces -> its old part's non-null counts
    loads       load task key -> the values it hands over, until submitted

Example:
    >>> state = RunState(spec, delivers=False, now=0.0)  # doctest: +SKIP
    >>> state.start()  # doctest: +SKIP
    [WriteMetadata(), AskWorkers()]
    >>> state.handle(WorkersSeen({"tcp://127.0.0.1:1": 4}, now=0.0))  # doctest: +SKIP
    [Install(worker='tcp://127.0.0.1:1', shares={'m': 16})]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagen.errors import (
    ClusterError,
    DagenError,
    EarlyShutdownError,
    GenerationError,
    ModelAuthError,
)
from dagen.lowering.admission import Admission
from dagen.lowering.exact import ExactPlanner
from dagen.lowering.plan import Key, RowGroup, RowGroupPlan
from dagen.lowering.shares import Install, ShareSplit
from dagen.runner.chunking import choose_chunking
from dagen.runner.flows import Exact, Flow, Planned
from dagen.runner.messages import (
    Action,
    AskCalls,
    AskWorkers,
    CallsSeen,
    Cancel,
    CheckpointFinished,
    Deliver,
    Delivered,
    PartRead,
    ReadPart,
    Recorded,
    Release,
    RemovePart,
    Stimulus,
    Stop,
    Submit,
    TaskErred,
    TaskFinished,
    Turn,
    Wait,
    Warn,
    WorkersSeen,
    Write,
    WriteMetadata,
    Written,
)
from dagen.runner.spec import RunSpec
from dagen.runner.spending import SpendGate, Uncapped
from dagen.runner.stops import failure_rate_error
from dagen.runner.update import LoadedColumn
from dagen.sinks.assemble import RowGroupResult
from dagen.tracking.tracker import CompletionTracker

__all__ = [
    "GROW_INTERVAL",
    "HANDOVER_INTERVAL",
    "IDLE_LIMIT",
    "SHARES_INTERVAL",
    "WORKERS_TIMEOUT",
    "RunState",
]

HANDOVER_INTERVAL = 0.05  # seconds: model cells are batched over this (see _hand_over)
SHARES_INTERVAL = 5.0  # seconds between looks at the workers (they may come or go)
GROW_INTERVAL = 0.2  # seconds between looks while shares wait to grow, or while idle
IDLE_LIMIT = 1.0  # seconds idle, with the split installed and workers present: hung
WORKERS_TIMEOUT = 120.0  # seconds with no worker at all before the run gives up


class RunState:
    """One run's decisions (see the module docstring).

    Args:
        spec: the run.
        delivers: an ``on_row_group`` callback takes each written row group (in row
            order; it is recorded once the callback returned).
        now: the clock at the start (the loop's ``time.perf_counter()``).
    """

    def __init__(self, spec: RunSpec, *, delivers: bool, now: float) -> None:
        self.spec = spec
        self.delivers = delivers
        self.metadata = spec.metadata()
        self.tracker = CompletionTracker(window_cells=spec.settings.early_shutdown.window)
        self.admission = Admission(spec.column_models, spec.graph.order)
        self.split = ShareSplit(spec.context.caps)
        self.flow: Flow = _flow(spec, delivers)
        cap = spec.settings.max_cost if spec.context.caps else None  # no model: no cost
        gate = SpendGate.of(spec.previous, cap, update=spec.update is not None)
        self.gate: SpendGate | Uncapped = gate if gate is not None else Uncapped()
        self.updates = spec.update.updates if spec.update is not None else {}
        self.chunking: dict[str, int] | None = None  # rows per task, once workers are seen
        self.slots: dict[str, int] = {}  # worker -> tasks it runs at once, as last seen
        self.in_flight: dict[int, RowGroup] = {}  # admitted, not assembled
        self.unrecorded: dict[int, RowGroup] = {}  # admitted, not in the metadata yet
        self.reading: RowGroup | None = None  # an update's row group whose part is read
        self.replacing: dict[int, dict[str, int]] = {}  # row group -> old part's counts
        self.loads: dict[Key, LoadedColumn] = {}  # load task -> its values, until submitted
        self.live: dict[int, int] = {}  # row group in flight -> tasks handed over
        self.max_live_tasks = 0
        self.previous: int | None = None  # the row group admitted last (stateful columns)
        self.shares_given: dict[str, dict[str, int]] = {}  # the split the admission has
        # one clock per job: hand-overs, looks at the workers, idleness
        self.last_handover = -math.inf
        self.last_look = now
        self.idle_since: float | None = now  # idle until something is handed over
        self._out: list[Action] = []

    # -- what the loop asks -----------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether nothing is left to admit and nothing is in flight."""
        return not self.flow.more() and not self.in_flight

    @property
    def running(self) -> int:
        """Tasks handed over and not finished (the loop waits on futures only then)."""
        return self.admission.running

    def wants(self, row_group: int) -> bool:
        """Whether a task of ``row_group`` still matters (not cancelled, not written)."""
        return row_group in self.in_flight

    def start(self) -> list[Action]:
        """The run's first actions: the metadata from the start (a run killed before its
        first record still leaves a resumable output), and a look at the workers."""
        return [WriteMetadata(), AskWorkers()]

    def completed(self) -> None:
        """The run ended with nothing left to do: the metadata says so."""
        assert self.done  # the loop ends a run only once it is
        self.metadata.status = "complete"

    def stopped(self, exc: BaseException) -> None:
        """The run stopped with ``exc``: the metadata says so."""
        self.metadata.status = "stopped"
        self.metadata.stop_reason = f"{type(exc).__name__}: {exc}"

    def handle(self, stimulus: Stimulus) -> list[Action]:
        """The actions that follow ``stimulus``, in order (a ``Stop`` last, if any)."""
        try:
            self._dispatch(stimulus)
        except DagenError as exc:
            self._out.append(Stop(exc))
        out, self._out = self._out, []
        return out

    def _dispatch(self, stimulus: Stimulus) -> None:
        match stimulus:
            case Turn(now=now):
                self._turn(now)
            case WorkersSeen():
                self._workers_seen(stimulus.slots, stimulus.now)
            case CallsSeen(calls=calls):
                self._installing(self.split.calls_reported(calls))
            case TaskFinished():
                self._task_finished(stimulus)
            case TaskErred(error=error):
                raise error
            case CheckpointFinished(ref=ref, result=result):
                self._assembled(ref.key, result)
            case PartRead():
                self._part_read(stimulus)
            case Written(result=result, file=file):
                self._written(result, file)
            case Delivered(result=result, file=file):
                self._record(result, file)

    # -- a turn -------------------------------------------------------------------------

    def _turn(self, now: float) -> None:
        if self.chunking is None:  # a run calling models waits for its first worker
            self._idle(now)
            return
        since = now - self.last_look
        if since >= SHARES_INTERVAL or (self.split.growing and since >= GROW_INTERVAL):
            self._look(now)
        self._admit()
        handed = self._hand_over(now)
        if handed or self.running or self.reading is not None or not self.in_flight:
            self.idle_since = None
            return
        self._idle(now)

    def _look(self, now: float) -> None:
        self.last_look = now
        self._out.append(AskWorkers())

    def _idle(self, now: float) -> None:
        """Nothing runs and row groups wait: look at the workers again, wait; give up
        only after the limits of the module docstring.

        Raises:
            ClusterError: no worker for ``WORKERS_TIMEOUT``.
            GenerationError: hung, with workers and the split installed.
        """
        if self.idle_since is None:
            self.idle_since = now
        idle = now - self.idle_since
        if not self.slots and idle >= WORKERS_TIMEOUT:
            raise ClusterError(
                f"no Dask worker has been connected to the scheduler for {idle:.0f} s, so "
                "the run cannot go on: start workers (`dask worker <scheduler address>`) "
                "or check the cluster; the row groups written are kept"
            )
        if self.slots and not self.split.growing and idle >= IDLE_LIMIT:
            raise GenerationError(
                f"row groups {sorted(self.in_flight)} are unfinished, no task is running "
                f"and {self.admission.waiting} model cells wait for credit that none of "
                f"the {len(self.slots)} workers has (shares {self.split.installed})"
            )
        if now - self.last_look >= GROW_INTERVAL:
            self._look(now)
        self._out.append(Wait(GROW_INTERVAL))

    def _admit(self) -> None:
        """Admit row groups while the window has room and the budget allows.

        Raises:
            BudgetExceededError: the budget refuses and nothing is in flight.
            EarlyShutdownError: nothing is in flight and the flow cannot go on.
        """
        if self.chunking is None or self.reading is not None:
            return
        window = self.spec.settings.max_concurrent_row_groups
        while len(self.in_flight) + self.flow.held < window and self._affordable():
            group = self.flow.take()
            if group is None:
                break
            self.in_flight[group.index] = self.unrecorded[group.index] = group
            self.flow.expect(group.index)
            self.gate.admitted(group.size)
            update = self.updates.get(group.index)
            if update is not None:  # its loaded columns are read first
                self.reading = group
                self._out.append(ReadPart(update))
                return
            self._plan(group, {})
        if not self.in_flight and (reason := self.flow.stuck()) is not None:
            self._give_up(reason)

    def _affordable(self) -> bool:
        size = self.flow.next_size()
        if size is None:
            return True
        return self.gate.allows(size, in_flight=bool(self.in_flight or self.flow.held))

    def _plan(self, group: RowGroup, loaded: Mapping[str, LoadedColumn]) -> None:
        spec = self.spec
        assert self.chunking is not None  # admitted only once workers were seen
        plan = RowGroupPlan.build(
            spec.graph,
            group,
            run=spec.run_id,
            cells_per_task=self.chunking,
            slugs=spec.slugs,
            previous=self.previous,
            loaded=loaded.keys(),
            fusable=spec.fusable,
        )
        for column, values in loaded.items():
            self.loads[plan.block_keys[column]] = values
        self.admission.add(plan)
        self.previous = group.index
        self.live[group.index] = 0
        sizes = {c: group.size for c in spec.graph.columns if c not in loaded}
        self.tracker.admit(group.index, sizes, tasks=len(plan.tasks))

    def _part_read(self, read: PartRead) -> None:
        group = self.reading
        assert group is not None and group.index == read.row_group  # one read at a time
        self.reading = None
        self.replacing[group.index] = dict(read.counts)
        self._plan(group, read.loaded)
        self._admit()

    def _hand_over(self, now: float) -> bool:
        """Submit what the admission lets go now; whether anything went."""
        # between hand-overs closer than HANDOVER_INTERVAL, model cells go only where a
        # worker's calls would otherwise idle: fewer, larger graphs for the scheduler
        handovers = self.admission.take(
            running_low_only=now - self.last_handover < HANDOVER_INTERVAL
        )
        if not handovers:
            return False
        self.last_handover = now
        loads = {h.ref.key: self.loads.pop(h.ref.key) for h in handovers if h.ref.kind == "load"}
        self._out.append(Submit(tuple(handovers), loads))
        for handover in handovers:
            self.live[handover.ref.row_group] += 1
        self.max_live_tasks = max(self.max_live_tasks, sum(self.live.values()))
        return True

    # -- the workers and the models' shares ---------------------------------------------

    def _workers_seen(self, slots: Mapping[str, int], now: float) -> None:
        self.last_look = now
        self.slots = dict(slots)
        self._installing(self.split.workers_changed(tuple(slots)))
        if self.chunking is None and (slots or not self.spec.column_models):
            self.chunking, warnings = choose_chunking(self.spec, self.split, self.slots)
            self._out.extend(Warn(w) for w in warnings)
        if self.split.asks:
            self._out.append(AskCalls(self.split.asks))

    def _installing(self, installs: list[Install]) -> None:
        """Carry the split's installs out; the admission's credit follows the split."""
        self._out.extend(installs)
        if self.split.installed != self.shares_given:
            self.shares_given = {a: dict(per) for a, per in self.split.installed.items()}
            self.admission.set_shares(self.shares_given)

    # -- tasks finishing ------------------------------------------------------------------

    def _task_finished(self, finished: TaskFinished) -> None:
        """Raises ``ModelAuthError`` or ``EarlyShutdownError`` when the run must stop."""
        ref = finished.ref
        if ref.row_group not in self.in_flight:
            return  # cancelled: an exact run reached its target without it
        self.admission.finished(ref.key)
        cells = ref.rows if ref.kind in ("cell", "batch", "batches") else 0
        self.tracker.task_finished(ref.row_group, ref.columns if cells else (), cells)
        if not cells:
            return
        failures = list(finished.failures)
        self.tracker.record_failures(ref.row_group, failures)
        for column in ref.columns:  # fused columns: each its own failures
            lost = [f for f in failures if len(ref.columns) == 1 or f.column == column]
            self.tracker.observe(column, cells, sum(1 for f in lost if not f.retryable))
        fatal = next((f for f in failures if f.fatal), None)
        if fatal is not None:
            raise ModelAuthError(
                f"column {fatal.column!r}: {fatal.message}",
                column=fatal.column,
                row_group=fatal.row_group,
                row=fatal.row,
            )
        error = failure_rate_error(self.spec.settings.early_shutdown, self.tracker)
        if error is not None:
            raise error

    def _assembled(self, key: Key, result: RowGroupResult) -> None:
        """A row group's checkpoint finished: release it, write what its flow says."""
        index = result.row_group
        if index not in self.in_flight:
            return  # cancelled
        self.admission.finished(key)
        # release before writing: once the file exists, no worker loss can make Dask
        # recompute (and a model be paid again for) anything of this row group
        del self.in_flight[index]
        self.live.pop(index, None)
        self._out.append(Release(index))
        self.admission.forget(index)
        self.tracker.record_failures(index, result.dropped.values())
        for due in self.flow.assembled(result):
            self._out.append(Write(self._conformed(due)))
        if self.flow.complete:
            self._cancel_surplus()
        elif (reason := self.flow.give_up()) is not None:
            self._give_up(reason)

    def _written(self, result: RowGroupResult, file: Any) -> None:
        if result.row_group in self.replacing and result.rows == 0:
            self._out.append(RemovePart(result.row_group))  # no part now: the old one goes
        for due, due_file in self.flow.written(result, file):
            if self.delivers:
                start = self.unrecorded[due.row_group].start
                self._out.append(Deliver(due, due_file, start))
            else:
                self._record(due, due_file)

    def _record(self, result: RowGroupResult, file: Any) -> None:
        """A written (and delivered) row group enters the metadata: ``--resume`` keeps it."""
        index = result.row_group
        group = self.unrecorded.pop(index)
        self.tracker.row_group_written(index, result.rows)
        if index in self.replacing:  # an update replaced it: its old record goes
            loaded = self.updates[index].load  # their cost is carried over
            self.metadata.forget_row_group(index, self.replacing.pop(index), loaded)
        paid = self.metadata.add_row_group(result, file, group.start)
        self.gate.recorded(result.size, paid)
        name = file.get("file") if isinstance(file, Mapping) else file  # a name or a record
        self._out.append(Recorded(index, result.rows, len(result.dropped), name))
        self._out.append(WriteMetadata())

    def _cancel_surplus(self) -> None:
        """The target is written: the row groups still in flight are not needed."""
        cancelled = tuple(self.in_flight)
        for index in cancelled:
            self.admission.forget(index)
            self.unrecorded.pop(index, None)
            self.live.pop(index, None)
        self.in_flight.clear()
        self.flow.cancelled()
        if cancelled:
            self._out.append(Cancel(cancelled))

    def _give_up(self, reason: str) -> None:
        """Raises ``EarlyShutdownError``, naming why rows were dropped."""
        reasons = self.tracker.drop_reasons().most_common(3)
        why = ", ".join(f"{c!r} {e}: {n} rows" for (c, e), n in reasons) or "none recorded"
        raise EarlyShutdownError(
            f"{reason}; dropped by {why}. Loosen the filter (or whatever drops the rows); "
            "the rows written are kept."
        )

    def _conformed(self, result: RowGroupResult) -> RowGroupResult:
        """``result`` with every column of its column's type (``dagen.sinks.schema``)."""
        rows = [r for r in range(result.size) if r not in result.dropped]
        table = self.metadata.types.conform(
            result.table,
            row_group=result.row_group,
            rows=rows if len(rows) == result.rows else None,
        )
        return result.with_table(table)


def _flow(spec: RunSpec, delivers: bool) -> Flow:
    """The flow of the run ``spec`` describes: exact, or its planned row groups."""
    if not spec.exact:
        return Planned(spec.row_groups, in_order=delivers)
    planner = ExactPlanner.resuming(
        spec.num_records,
        spec.settings.row_group_size,
        spec.previous.row_groups if spec.previous is not None else (),
    )
    return Exact(planner, spec.settings.row_group_size)
