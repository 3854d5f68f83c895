"""The run state, driven with literal event sequences: no cluster, no sink, no clock.

Each test is a scenario: what the cluster and the sink tell the state, in order, and what
the state asks for in return. ``Cluster`` below plays Dask only as far as a test needs:
it remembers what was submitted and answers "finished" for the tasks a test names.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from dagen.config.dataset import DatasetConfig
from dagen.config.run import RunSettings
from dagen.errors import (
    BudgetExceededError,
    ClusterError,
    EarlyShutdownError,
    GenerationError,
)
from dagen.generators.base import CellFailure
from dagen.lowering.plan import RowGroup, RowGroups
from dagen.lowering.shares import Install
from dagen.runner.messages import (
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
    Stop,
    Submit,
    TaskErred,
    TaskFinished,
    Turn,
    Wait,
    WorkersSeen,
    Write,
    WriteMetadata,
    Written,
)
from dagen.runner.resume import ResumePlan
from dagen.runner.spec import RunSpec
from dagen.runner.state import IDLE_LIMIT, WORKERS_TIMEOUT, RunState
from dagen.runner.update import LoadedColumn, RowGroupUpdate, UpdatePlan
from dagen.sinks.assemble import RowGroupResult
from dagen.sinks.record import OutputRecord

W1, W2, W3 = "tcp://127.0.0.1:1001", "tcp://127.0.0.1:1002", "tcp://127.0.0.1:1003"


def topic_and_text(cap: int = 4, pricing: dict | None = None) -> DatasetConfig:
    """topic (a sampler) -> text (one call per row to model m, cap ``cap``)."""
    model = {"alias": "m", "model": "mock", "max_parallel_requests": cap}
    if pricing:
        model["pricing"] = pricing
    return DatasetConfig.model_validate(
        {
            "seed": 3,
            "models": [model],
            "columns": [
                {"name": "topic", "column_type": "sampler", "sampler_type": "category",
                 "params": {"values": ["a", "b"]}},
                {"name": "text", "column_type": "llm-text", "model_alias": "m",
                 "prompt": "About {{ topic }}"},
            ],
        }
    )  # fmt: skip


def sampler_only() -> DatasetConfig:
    return DatasetConfig.model_validate(
        {
            "seed": 3,
            "columns": [
                {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
                 "params": {"low": 0, "high": 1}},
            ],
        }
    )  # fmt: skip


def spec_of(config: DatasetConfig, n: int, **settings) -> RunSpec:
    settings.setdefault("row_group_size", 4)
    return RunSpec.build(config, RunSettings(**settings), n, run_id="rtest")


def result(index: int, size: int, kept: int | None = None, usage=None) -> RowGroupResult:
    """Row group ``index`` assembled: ``kept`` of its ``size`` rows survived."""
    kept = size if kept is None else kept
    dropped = {r: CellFailure("text", index, r, "ValueError", "bad") for r in range(kept, size)}
    table = pa.table({"topic": ["a"] * kept, "text": ["t"] * kept})
    return RowGroupResult(index, size, kept, table, dropped, usage=usage or {})


def of(kind, actions):
    return [a for a in actions if isinstance(a, kind)]


class Cluster:
    """Dask as the state sees it: what was submitted, and what has not finished."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.running: dict[tuple, object] = {}  # key -> its TaskRef, submitted, unfinished
        self.placed: dict[tuple, str | None] = {}  # model cell key -> the worker it went to

    def feed(self, stimulus) -> list:
        """Handle ``stimulus``; remember what the actions submit."""
        actions = self.state.handle(stimulus)
        for submit in of(Submit, actions):
            for h in submit.handovers:
                self.running[h.ref.key] = h.ref
                self.placed[h.ref.key] = h.worker
        return actions

    def finish(self, kind: str | None = None, column: str | None = None, limit=None) -> list:
        """Finish the running tasks of this kind and column (not checkpoints)."""
        out = []
        chosen = [
            ref
            for ref in self.running.values()
            if ref.kind != "checkpoint"
            and (kind is None or ref.kind == kind)
            and (column is None or ref.column == column)
        ][:limit]
        for ref in chosen:
            del self.running[ref.key]
            out += self.feed(TaskFinished(ref))
        return out

    def checkpoint(self, index: int, res: RowGroupResult) -> list:
        ref = next(
            r for r in self.running.values() if r.kind == "checkpoint" and r.row_group == index
        )
        del self.running[ref.key]
        return self.feed(CheckpointFinished(ref, res))

    def write(self, actions: list, file="part.parquet") -> list:
        """The sink writes every row group the actions ask for (and delivers them)."""
        out = []
        for action in actions:
            if isinstance(action, Write):
                answer = self.feed(Written(action.result, file))
                out += answer + self.write(answer, file)
            elif isinstance(action, Deliver):
                answer = self.feed(Delivered(action.result, action.file))
                out += answer
        return out

    def run_row_group(self, index: int, size: int, now: float) -> list:
        """Everything of one row group finishes, checkpoint last, and it is written."""
        self.feed(Turn(now))
        for _ in range(size + 2):  # cells go as credit frees
            self.finish()
            self.feed(Turn(now))
        actions = self.checkpoint(index, result(index, size))
        return actions + self.write(actions)


def start(state: RunState, workers: dict[str, int], now: float = 0.0) -> Cluster:
    cluster = Cluster(state)
    assert state.start() == [WriteMetadata(), AskWorkers()]
    cluster.feed(WorkersSeen(workers, now))
    return cluster


# -- the start-of-run race and the workers ------------------------------------------------


def test_shares_growing_after_the_non_model_work_finished_is_not_a_hang():
    # cap 1 over two workers is [1, 0]; w1 joins a run that started on w2 alone, so w2's
    # share shrinks to 0 at once and w1's grows only once w2's calls fit: for a moment no
    # worker has credit. The sampler's tasks finish in that moment; nothing runs.
    state = RunState(spec_of(topic_and_text(cap=1), 4), delivers=False, now=0.0)
    cluster = start(state, {W2: 4})
    assert state.split.installed == {"m": {W2: 1}}
    shrink = cluster.feed(WorkersSeen({W1: 4, W2: 4}, now=0.0))
    assert shrink == [Install(W2, {"m": 0}), AskCalls((W2,))]

    cluster.feed(Turn(0.01))  # the sampler's task and collector go
    cluster.finish(column="topic")
    idle = cluster.feed(Turn(0.02))

    assert not of(Stop, idle) and of(Wait, idle)  # idle, not hung: the split is growing
    assert state.running == 0 and state.admission.waiting == 4
    grow = cluster.feed(CallsSeen({W2: {"m": 0}}))  # w2's calls fit its new share
    assert grow == [Install(W1, {"m": 1})]
    cells = of(Submit, cluster.feed(Turn(0.3)))
    assert [h.worker for h in cells[0].handovers if h.worker] == [W1, W1]  # 2 x share 1


def test_a_model_run_waits_for_its_first_worker_then_hands_over():
    # the scheduler knows no worker yet (a cluster still starting, workers restarting)
    state = RunState(spec_of(topic_and_text(), 4), delivers=False, now=0.0)
    cluster = start(state, {})
    assert cluster.feed(Turn(0.1)) == [Wait(0.2)]  # nothing planned without workers
    assert cluster.feed(Turn(0.25)) == [AskWorkers(), Wait(0.2)]
    installs = cluster.feed(WorkersSeen({W1: 4, W2: 4}, now=0.3))
    assert installs == [Install(W1, {"m": 2}), Install(W2, {"m": 2})]

    first = of(Submit, cluster.feed(Turn(0.35)))
    assert {h.ref.column for h in first[0].handovers} == {"topic"}  # the rest waits on cells
    cluster.finish(column="topic")
    cells = of(Submit, cluster.feed(Turn(0.5)))
    # 4 slots a worker hold two tasks of a chunk of 2 (fit_to_slots), one per worker
    assert [(h.worker, h.units) for h in cells[0].handovers if h.worker] == [(W1, 2), (W2, 2)]


def test_no_worker_for_the_timeout_stops_the_run_with_a_cluster_error():
    state = RunState(spec_of(topic_and_text(), 4), delivers=False, now=0.0)
    cluster = start(state, {})
    assert not of(Stop, cluster.feed(Turn(WORKERS_TIMEOUT - 1)))
    stop = of(Stop, cluster.feed(Turn(WORKERS_TIMEOUT + 1)))
    assert isinstance(stop[0].error, ClusterError)
    assert "no Dask worker" in str(stop[0].error)


def test_a_run_without_models_hands_its_tasks_over_before_any_worker_is_seen():
    # an adaptive cluster at zero workers grows only when tasks are queued
    state = RunState(spec_of(sampler_only(), 8), delivers=False, now=0.0)
    cluster = start(state, {})
    submits = of(Submit, cluster.feed(Turn(0.1)))
    assert {h.ref.row_group for h in submits[0].handovers} == {0, 1}


def test_a_worker_leaving_and_another_joining_moves_the_credit_and_never_passes_the_cap():
    state = RunState(spec_of(topic_and_text(cap=4), 16, row_group_size=16), delivers=False, now=0.0)
    cluster = start(state, {W1: 8, W2: 8})
    cluster.feed(Turn(0.0))
    cluster.finish(column="topic")
    cluster.feed(Turn(0.1))
    assert state.admission.in_use("m") == {W1: 4, W2: 4}  # 2 x share 2 on each

    left = cluster.feed(WorkersSeen({W1: 8}, now=1.0))  # w2 died; Dask reruns its cells
    assert left == [Install(W1, {"m": 4})]  # nothing shrank: w1 takes the whole cap
    assert state.admission.in_use("m") == {W1: 4}

    joined = cluster.feed(WorkersSeen({W1: 8, W3: 8}, now=2.0))
    assert joined == [Install(W1, {"m": 2}), AskCalls((W1,))]  # w3 waits for w1's calls
    assert not cluster.feed(CallsSeen({W1: {"m": 3}}))  # 3 calls > w1's new share of 2
    assert cluster.feed(CallsSeen({W1: {"m": 2}})) == [Install(W3, {"m": 2})]
    assert state.split.installed == {"m": {W1: 2, W3: 2}}

    cluster.finish(column="text")  # every cell held finishes, those of w2 rerun elsewhere
    cluster.feed(Turn(2.5))
    placed = {cluster.placed[k] for k in cluster.running if k[0] == "text"}
    assert placed <= {W1, W3} and W3 in placed


def test_an_idle_run_whose_split_is_installed_is_hung_only_after_the_idle_limit():
    state = RunState(spec_of(topic_and_text(), 4), delivers=False, now=0.0)
    cluster = start(state, {W1: 4})
    cluster.feed(Turn(0.0))
    cluster.finish(column="topic")
    state.admission.set_shares({})  # a bug that loses every worker's credit
    state.shares_given = {}
    state.split.installed = {}
    state.split.target = {}
    first = cluster.feed(Turn(10.0))
    assert not of(Stop, first) and AskWorkers() in first  # it looks again first
    cluster.feed(Turn(10.0 + IDLE_LIMIT / 2))
    stop = of(Stop, cluster.feed(Turn(10.0 + IDLE_LIMIT)))
    assert isinstance(stop[0].error, GenerationError)
    assert "wait for credit" in str(stop[0].error)


# -- row groups: written, delivered, recorded --------------------------------------------


def test_a_row_group_is_released_before_it_is_written_and_recorded_after():
    state = RunState(spec_of(sampler_only(), 4), delivers=False, now=0.0)
    cluster = start(state, {W1: 2})
    cluster.feed(Turn(0.0))
    cluster.finish()
    assembled = cluster.checkpoint(0, result(0, 4))
    assert [type(a) for a in assembled] == [Release, Write]
    written = cluster.feed(Written(assembled[1].result, {"file": "part-000000.parquet"}))
    assert written == [Recorded(0, 4, 0, "part-000000.parquet"), WriteMetadata()]
    assert state.done and state.metadata.rows_written == 4


def test_every_row_dropped_is_a_row_group_of_no_rows_recorded_with_its_reasons():
    state = RunState(spec_of(sampler_only(), 4), delivers=False, now=0.0)
    cluster = start(state, {W1: 2})
    cluster.feed(Turn(0.0))
    cluster.finish()
    assembled = cluster.checkpoint(0, result(0, 4, kept=0))
    recorded = cluster.write(assembled, file=None)
    assert recorded == [Recorded(0, 0, 4, None), WriteMetadata()]
    document = state.metadata.to_dict()
    assert document["rows_written"] == 0 and document["rows_dropped"] == 4
    assert state.done


def test_a_callback_sees_row_groups_in_row_order_and_each_is_recorded_after_it():
    state = RunState(spec_of(sampler_only(), 8), delivers=True, now=0.0)
    cluster = start(state, {W1: 2})
    cluster.feed(Turn(0.0))
    cluster.finish()
    late = cluster.checkpoint(1, result(1, 4))
    assert cluster.write(late) == []  # written, held back: row group 0 comes first
    assert state.flow.held == 1
    early = cluster.checkpoint(0, result(0, 4))
    answer = cluster.feed(Written(early[1].result, "part-000000.parquet"))
    assert [(type(a), a.result.row_group) for a in answer] == [(Deliver, 0), (Deliver, 1)]
    assert [a.start for a in answer] == [0, 4]
    recorded = cluster.feed(Delivered(answer[0].result, answer[0].file))
    assert recorded == [Recorded(0, 4, 0, "part-000000.parquet"), WriteMetadata()]


def test_a_task_error_stops_the_run_after_what_was_already_due():
    state = RunState(spec_of(sampler_only(), 4), delivers=False, now=0.0)
    cluster = start(state, {W1: 2})
    cluster.feed(Turn(0.0))
    ref = next(iter(cluster.running.values()))
    error = GenerationError("row group 0, column 'n': task failed", row_group=0)
    assert cluster.feed(TaskErred(ref, error)) == [Stop(error)]


def test_a_rejected_key_stops_the_run_at_once_naming_the_column():
    state = RunState(spec_of(topic_and_text(), 4), delivers=False, now=0.0)
    cluster = start(state, {W1: 4})
    cluster.feed(Turn(0.0))
    cluster.finish(column="topic")
    cluster.feed(Turn(0.1))
    cell = next(r for r in cluster.running.values() if r.column == "text")
    fatal = CellFailure("text", 0, 0, "ModelAuthError", "401 invalid key", fatal=True)
    stop = of(Stop, cluster.feed(TaskFinished(cell, [fatal])))
    assert "column 'text': 401 invalid key" in str(stop[0].error)


# -- the budget ------------------------------------------------------------------------


def test_a_budget_stop_comes_once_the_projected_spend_passes_the_cap():
    # each row group's calls cost $0.004 ($1 per million tokens, 4,000 tokens): the first
    # runs alone (no cost per row yet), the second fits a $0.009 cap, a third would not
    price = {"input_per_million": 1.0, "output_per_million": 1.0}
    spec = spec_of(topic_and_text(pricing=price), 12, max_cost=0.009)
    state = RunState(spec, delivers=False, now=0.0)
    cluster = start(state, {W1: 8})
    usage = {"text": {"m": {"calls": 4, "prompt_tokens": 2000, "completion_tokens": 2000}}}

    cluster.feed(Turn(0.0))
    assert set(state.in_flight) == {0}  # one at a time until a cost per row is known
    for _ in range(6):
        cluster.finish()
        cluster.feed(Turn(0.1))
    cluster.write(cluster.checkpoint(0, result(0, 4, usage=usage)))
    cluster.feed(Turn(0.2))
    assert set(state.in_flight) == {1}  # 0.004 + 0.004 <= cap; with a third, 0.012 > cap
    for _ in range(6):
        cluster.finish()
        cluster.feed(Turn(0.3))
    stop = of(Stop, cluster.write(cluster.checkpoint(1, result(1, 4, usage=usage))))
    stop = stop or of(Stop, cluster.feed(Turn(0.4)))
    assert isinstance(stop[0].error, BudgetExceededError)
    assert state.metadata.rows_written == 8


# -- exact runs --------------------------------------------------------------------------


def test_an_exact_run_that_never_fills_gives_up_naming_why_rows_were_dropped():
    state = RunState(
        spec_of(sampler_only(), 10, row_group_size=100, exact=True), delivers=False, now=0.0
    )
    cluster = start(state, {W1: 2})
    stop: list = []
    for turn in range(40):
        cluster.feed(Turn(float(turn)))
        cluster.finish()
        for index in list(state.in_flight):
            size = state.in_flight[index].size
            assembled = cluster.checkpoint(index, result(index, size, kept=0))
            stop += of(Stop, assembled + cluster.write(assembled))
        if stop:
            break
    assert isinstance(stop[0].error, EarlyShutdownError)
    message = str(stop[0].error)
    assert "--exact: none of the" in message and "'text' ValueError" in message


def test_an_exact_run_cuts_the_row_group_that_reaches_the_target_and_cancels_the_rest():
    state = RunState(
        spec_of(sampler_only(), 6, row_group_size=4, exact=True, max_concurrent_row_groups=2),
        delivers=False,
        now=0.0,
    )
    cluster = start(state, {W1: 2})
    cluster.feed(Turn(0.0))
    assert [g.size for g in state.in_flight.values()] == [4, 2]
    cluster.finish()
    first = cluster.checkpoint(0, result(0, 4, kept=3))
    cluster.write(first)
    cluster.feed(Turn(0.1))  # 3 kept of 4: one more row group is admitted for the rest
    assert set(state.in_flight) == {1, 2}
    cluster.finish()
    last = cluster.checkpoint(2, result(2, state.in_flight[2].size))  # 2 comes back first
    assert not of(Write, last)  # held: row group 1 comes first
    done = cluster.checkpoint(1, result(1, 2))
    writes = of(Write, done)
    assert [(w.result.row_group, w.result.rows) for w in writes] == [(1, 2), (2, 1)]
    assert not of(Cancel, done) and state.done  # nothing left in flight to cancel


# -- updates -----------------------------------------------------------------------------


def test_an_update_reads_the_part_first_loads_its_columns_and_replaces_its_record():
    config = topic_and_text()
    previous = {
        "seed": 3,
        "row_group_size": 4,
        "num_records": 4,
        "row_groups": [{"index": 0, "start": 0, "size": 4, "rows": 4, "dropped": 0,
                        "file": "part-000000.parquet"}],
        "columns": {"topic": 4, "text": 4},
    }  # fmt: skip
    group = RowGroup(0, 0, 4)
    update = RowGroupUpdate(group, frozenset({"topic"}), frozenset({"text"}), rows=4)
    plan = UpdatePlan(
        output="out",
        fingerprints=None,  # type: ignore[arg-type]  (not read by the state)
        updates={0: update},
        up_to_date=0,
        fresh_rows=0,
        removed=(),
        calls={"m": 4},
        custom_calls=(),
        resume=ResumePlan(
            OutputRecord.from_dict(previous, "out"), {}, RowGroups(4, 4, 1, 4, (group,)), seed=3
        ),
    )
    spec = RunSpec.build(config, RunSettings(row_group_size=4), 4, run_id="rtest", update=plan)
    state = RunState(spec, delivers=False, now=0.0)
    cluster = start(state, {W1: 4})

    assert cluster.feed(Turn(0.0)) == [ReadPart(update)]  # nothing planned before it
    loaded = LoadedColumn([0, 1, 2, 3], {"topic": ["a", "b", "a", "b"]})
    cluster.feed(PartRead(0, {"topic": loaded}, {"topic": 4, "text": 4}))
    submit = of(Submit, cluster.feed(Turn(0.1)))[0]
    assert [h.ref.kind for h in submit.handovers][:1] == ["load"]
    assert list(submit.loads.values()) == [loaded]
    for _ in range(4):
        cluster.finish()
        cluster.feed(Turn(0.2))
    assembled = cluster.checkpoint(0, result(0, 4, kept=0))
    answer = cluster.feed(Written(of(Write, assembled)[0].result, None))
    assert RemovePart(0) in answer  # it kept no row: the old part goes
    assert state.metadata.to_dict()["columns"] == {}  # the old counts went with it


@pytest.mark.parametrize("delivers", [False, True])
def test_a_run_ends_done_with_every_row_group_recorded(delivers):
    state = RunState(spec_of(topic_and_text(), 10), delivers=delivers, now=0.0)
    cluster = start(state, {W1: 4, W2: 4})
    for index, size in [(0, 4), (1, 4), (2, 2)]:
        cluster.run_row_group(index, size, now=float(index))
    assert state.done and state.metadata.rows_written == 10
    state.completed()
    assert state.metadata.to_dict()["status"] == "complete"
