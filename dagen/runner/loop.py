"""The run loop: carries out what the run state decides, against Dask and the sink.

Every decision is the run state's (``dagen.runner.state``: pure, events in, actions out);
this loop is its executor, and the only part of a run that holds futures, talks to the
cluster or touches the sink. One turn:

    1. ``Turn``: the state admits and hands over; its actions are carried out
    2. only while tasks run, wait for the next finished futures; each becomes a stimulus
       (a lost result is watched again: Dask recomputes it, the state never hears of it)
    3. Ctrl-C (or a cancelled ``agenerate``) stops the run; the monitor ticks

Actions that ask something (``AskWorkers``, ``AskCalls``, ``ReadPart``, ``Write``,
``Deliver``) are answered at once: the answer's actions are carried out before the rest.
A ``Stop`` raises its error; the run's futures are cancelled, and the metadata written
last says how the run ended. Watching the run (``RunMonitor``: progress, figures for the
dashboard, the timeline, the progress log) has its own timer, about once per second.

Example:
    >>> RunLoop(spec, session, sink).run()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import ChainMap, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dagen.cluster.session import RunSession
from dagen.cluster.watcher import Finished, Watcher
from dagen.errors import CallbackError, CheckpointError
from dagen.lowering.plan import Key
from dagen.runner.events import Callback, RowGroupEvent
from dagen.runner.messages import (
    Action,
    AskCalls,
    AskWorkers,
    CallsSeen,
    Cancel,
    CheckpointFinished,
    Deliver,
    Delivered,
    Install,
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
from dagen.runner.monitor import ProgressCallback, RunMonitor
from dagen.runner.spec import RunSpec
from dagen.runner.state import RunState
from dagen.runner.stops import task_error
from dagen.runner.update import load_columns
from dagen.sinks.base import LocatingSink, Sink
from dagen.sinks.metadata import RunMetadata
from dagen.warnings import DagenWarning

__all__ = ["RunLoop"]

log = logging.getLogger("dagen")


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
        self.on_row_group = on_row_group
        self.started = time.perf_counter()
        self.state = RunState(spec, delivers=on_row_group is not None, now=self.started)
        self.watcher = Watcher(session.client)
        self.futures: dict[int, dict[Key, Any]] = {}  # row group -> key -> future
        self.monitor = RunMonitor(spec, self.state.tracker, session, progress, name)

    @property
    def metadata(self) -> RunMetadata:
        """The run's metadata (the state's)."""
        return self.state.metadata

    def run(self) -> None:
        """The loop of the module docstring; leaves the metadata describing the sink's row
        groups from its start to its end.

        Raises:
            DagenError: what stopped the run (``GenerationError``, ``ModelAuthError``,
                ``EarlyShutdownError``, ``CheckpointError``...); written row groups are kept.
            KeyboardInterrupt: Ctrl-C; written row groups are kept.
        """
        state = self.state
        try:
            self._carry_out(state.start())
            self.session.under_way()
            while not state.done:
                self._carry_out(state.handle(Turn(time.perf_counter())))
                if state.running:
                    for finished in self.watcher.next_batch():
                        self._on_finished(finished)
                if self.interrupted():
                    raise KeyboardInterrupt
                self.monitor.tick(len(state.in_flight), time.perf_counter())
            state.completed()
        except BaseException as exc:
            state.stopped(exc)
            self.session.cancel([f for fs in self.futures.values() for f in fs.values()])
            raise
        finally:
            self._close()

    def _on_finished(self, finished: Finished) -> None:
        ref = finished.ref
        if not self.state.wants(ref.row_group):
            return  # cancelled: an exact run reached its target without it
        if finished.lost:  # a worker died holding it; Dask recomputes it
            self.watcher.again(finished)
            return
        stimulus: Stimulus
        if finished.errored:
            stimulus = TaskErred(ref, task_error(finished))
        elif ref.kind == "checkpoint":
            stimulus = CheckpointFinished(ref, self.session.fetch(finished.future))
        elif finished.has_failures:
            stimulus = TaskFinished(ref, self.session.failures(finished.future))
        else:
            stimulus = TaskFinished(ref)
        self._carry_out(self.state.handle(stimulus))

    def _carry_out(self, actions: Iterable[Action]) -> None:
        """Carry out ``actions`` in order; an answer's actions go before the rest."""
        queue = deque(actions)
        while queue:
            answer = self._do(queue.popleft())
            if answer is not None:
                queue.extendleft(reversed(self.state.handle(answer)))

    def _do(self, action: Action) -> Stimulus | None:  # noqa: C901  (one case per action)
        """Carry out one action; the stimulus that answers it, if it asks something."""
        match action:
            case Submit(handovers=handovers, loads=loads):
                held = ChainMap(*self.futures.values())
                futures = self.session.submit(handovers, held, loads)
                for handover in handovers:
                    ref = handover.ref
                    self.futures.setdefault(ref.row_group, {})[ref.key] = futures[ref.key]
                self.watcher.add([h.ref for h in handovers], futures)
            case Release(row_group=index):
                self.session.release(self.futures.pop(index, {}))
            case Cancel(row_groups=indices):
                gone = [self.futures.pop(i, {}) for i in indices]
                self.session.cancel([f for fs in gone for f in fs.values()])
            case AskWorkers():
                return self._workers_seen()
            case AskCalls(workers=workers):
                return self._calls_seen(workers)
            case Install(worker=worker, shares=shares):
                self.session.install(worker, shares)
            case ReadPart(update=update):
                outputs = self.spec.context.assembly.outputs
                previous = self.spec.previous
                dropped = previous.dropped_rows if previous is not None else ()
                loaded, counts = load_columns(self.sink, update, outputs, dropped)
                return PartRead(update.row_group.index, loaded, counts)
            case Write(result=result):
                return Written(result, self.sink.write(result))
            case RemovePart(row_group=index):
                self.sink.remove(index)
            case Deliver():
                self._deliver(action)
                return Delivered(action.result, action.file)
            case Recorded(row_group=index, rows=rows, dropped=dropped, file=file):
                self.monitor.row_group_written(index, rows, dropped, file)
            case WriteMetadata():
                self._write_metadata()
            case Warn(message=message):
                warnings.warn(message, DagenWarning, stacklevel=2)
            case Wait(seconds=seconds):
                time.sleep(seconds)
            case Stop(error=error):
                raise error
        return None

    def _workers_seen(self) -> Stimulus | None:
        try:
            slots = self.session.workers()
        except Exception:  # the scheduler is busy or going away: look again next time
            log.debug("cannot list the workers", exc_info=True)
            return None
        return WorkersSeen(slots, time.perf_counter())

    def _calls_seen(self, workers: tuple[str, ...]) -> Stimulus | None:
        try:
            return CallsSeen(self.session.calls_in_flight(workers))
        except Exception:  # the cluster is changing: look again next time
            log.debug("cannot ask the workers for their calls", exc_info=True)
            return None

    def _deliver(self, action: Deliver) -> None:
        """Hand a written row group to the caller's callback.

        Raises:
            CallbackError: the callback raised (its exception is the cause).
        """
        assert self.on_row_group is not None  # the state delivers only with a callback
        result, index = action.result, action.result.row_group
        name = action.file.get("file") if isinstance(action.file, Mapping) else action.file
        event = RowGroupEvent(
            index=index,
            start=action.start,
            rows=result.rows,
            dropped=len(result.dropped),
            path=None if name is None else self._path_of(name),
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

    def _path_of(self, name: str) -> str:
        """The full location of a file the sink wrote (the name, when it does not say)."""
        if not isinstance(self.sink, LocatingSink):  # optional (``dagen.sinks.base``)
            return name
        return str(self.sink.path_of(name))

    def _write_metadata(self) -> None:
        self.metadata.timeline = self.monitor.timeline_dict()
        self.sink.write_metadata(self.metadata.to_dict())

    def _close(self) -> None:
        """Collect usage and timings and write the final metadata, whatever happened."""
        self.watcher.clear()
        usage = self.session.finish()
        self.metadata.add_usage(usage)
        elapsed = time.perf_counter() - self.started
        self.metadata.timings["generation_seconds"] = round(elapsed, 3)
        self.metadata.timings["max_live_tasks"] = self.state.max_live_tasks
        try:
            final = self.monitor.finish(self.metadata.status, usage)
            if self.spec.settings.progress_interval is not None:
                self.monitor.log_line(final)
        except Exception:  # a failing progress callback must not hide how the run ended
            log.exception("reporting the run's progress failed")
        try:
            self._write_metadata()
        except CheckpointError as exc:  # keep the error that stopped the run, if any
            if self.metadata.status == "complete":
                raise
            log.error("%s", exc)
