"""The admission: when each task of the row groups in flight is handed to Dask.

Pure: no cluster. A model's cells go only once what they read has finished and a worker
has credit left in the model's share (``QUEUED_PER_SLOT`` x share); everything else goes
as soon as what it waits on went. The point of it: a model at its cap never holds back
another model's cells.
"""

from __future__ import annotations

import dataclasses

import pytest

from dagen.config.columns import GenerationStrategy
from dagen.graph import ColumnGraph
from dagen.lowering.admission import (
    QUEUED_PER_SLOT,
    Admission,
    Handover,
    fit_to_slots,
    slots_needed,
)
from dagen.lowering.plan import RowGroup, RowGroupPlan

CELL = GenerationStrategy.CELL_BY_CELL
FULL = GenerationStrategy.FULL_COLUMN


@pytest.fixture
def reviews() -> ColumnGraph:
    """product -> review (model writer) -> {facts (writer), quality (model judge)}."""
    return ColumnGraph.from_edges(
        {"product": [], "review": ["product"], "facts": ["review"], "quality": ["review"]},
        {"product": FULL, "review": CELL, "facts": CELL, "quality": CELL},
    )


MODELS = {"review": "writer", "facts": "writer", "quality": "judge"}


def admit(graph, *groups, per_task=1, models=MODELS, shares=None, stateful_previous=False):
    gate = Admission(models, graph.order)
    gate.set_shares(shares or {"writer": {"w1": 2, "w2": 2}, "judge": {"w1": 1, "w2": 1}})
    previous = None
    for group in groups:
        gate.add(
            RowGroupPlan.build(
                graph, group, run="r", cells_per_task=per_task,
                previous=previous if stateful_previous else None,
            )
        )  # fmt: skip
        previous = group.index
    return gate


def keys(handovers: list[Handover]) -> list[tuple]:
    return [h.ref.key for h in handovers]


def finish(gate: Admission, handovers: list[Handover]) -> None:
    for h in handovers:
        gate.finished(h.ref.key)


def test_without_models_a_row_group_goes_to_dask_whole_and_in_order(chain):
    gate = Admission({}, chain.order)
    plan = RowGroupPlan.build(chain, RowGroup(0, 0, 5), run="r", cells_per_task=2)
    gate.add(plan)

    assert keys(gate.take()) == [t.key for t in plan.tasks]
    assert gate.take() == []


def test_a_model_cell_waits_until_what_it_reads_has_finished(reviews):
    gate = admit(reviews, RowGroup(0, 0, 2))

    first = gate.take()
    assert keys(first) == [("product", "r", 0)]  # the rest waits on model cells
    gate.finished(("product", "r", 0))
    second = gate.take()
    assert keys(second) == [("review", "r", 0, 0), ("review", "r", 0, 1), ("review.rows", "r", 0)]
    assert [h.worker is not None for h in second] == [True, True, False]


def test_a_model_never_holds_more_cells_on_a_worker_than_its_credit(reviews):
    gate = admit(reviews, RowGroup(0, 0, 40))
    finish(gate, gate.take())

    handed = gate.take()
    cells = [h for h in handed if h.ref.column == "review"]
    assert len(cells) == QUEUED_PER_SLOT * 4  # writer's shares: 2 + 2
    assert sorted(h.worker for h in cells) == ["w1"] * 4 + ["w2"] * 4
    assert gate.in_use("writer") == {"w1": 4, "w2": 4}
    assert gate.take() == []

    gate.finished(cells[0].ref.key)  # a call came back: one cell's worth of credit frees
    refill = {h.ref.column: h.worker for h in gate.take()}
    assert refill == {"facts": cells[0].worker, "quality": "w1"}  # and the judge's first cell


def test_a_model_at_its_cap_does_not_hold_back_another_models_cells(reviews):
    # a slow writer keeps its credit full; every review that comes back gives the judge work
    gate = admit(reviews, RowGroup(0, 0, 40))
    finish(gate, gate.take())
    writer_cells = [h for h in gate.take() if h.worker is not None]

    gate.finished(writer_cells[0].ref.key)
    gate.finished(writer_cells[1].ref.key)
    handed = gate.take()

    judged = [h for h in handed if h.ref.column == "quality"]
    assert keys(judged) == [("quality", "r", 0, 0), ("quality", "r", 0, 1)]
    assert gate.in_use("judge") == {"w1": 1, "w2": 1}
    # the writer's credit went to its own waiting cells, not to the judge's
    assert sum(gate.in_use("writer").values()) == QUEUED_PER_SLOT * 4


def test_cells_waiting_for_credit_go_oldest_row_group_then_row_then_deeper_column(reviews):
    gate = admit(reviews, RowGroup(0, 0, 3), RowGroup(1, 3, 3),
                 shares={"writer": {"w1": 1}, "judge": {"w1": 1}})  # fmt: skip

    def writer_cells() -> list[tuple]:
        return [h.ref.key for h in gate.take() if h.ref.column in ("review", "facts") and h.worker]

    finish(gate, gate.take())  # both products
    assert writer_cells() == [("review", "r", 0, 0), ("review", "r", 0, 1)]  # credit 2
    gate.finished(("review", "r", 0, 1))  # row 1's facts now come before row 2's review
    assert writer_cells() == [("facts", "r", 0, 1)]
    gate.finished(("review", "r", 0, 0))
    assert writer_cells() == [("facts", "r", 0, 0)]
    gate.finished(("facts", "r", 0, 0))
    gate.finished(("facts", "r", 0, 1))
    assert writer_cells() == [("review", "r", 0, 2), ("review", "r", 1, 0)]


def test_a_collector_and_the_checkpoint_go_once_everything_they_read_went(reviews):
    gate = admit(reviews, RowGroup(0, 0, 2), shares={"writer": {"w1": 8}, "judge": {"w1": 8}})
    order: list[tuple] = []
    while True:
        handed = gate.take()
        if not handed:
            break
        order += keys(handed)
        finish(gate, handed)

    assert order.index(("review.rows", "r", 0)) > order.index(("review", "r", 0, 1))
    assert order[-1] == ("row_group", "r", 0)
    assert len(order) == len(set(order)) == 1 + 3 * 3 + 1


def test_a_result_seen_twice_frees_its_credit_once(reviews):
    gate = admit(reviews, RowGroup(0, 0, 40), shares={"writer": {"w1": 1}, "judge": {"w1": 1}})
    finish(gate, gate.take())
    cell = gate.take()[0]

    gate.finished(cell.ref.key)
    gate.finished(cell.ref.key)  # recomputed after a worker loss

    assert gate.in_use("writer") == {"w1": QUEUED_PER_SLOT - 1}
    gate.take()  # refilled by one cell, not two
    assert gate.in_use("writer") == {"w1": QUEUED_PER_SLOT}


def test_credit_follows_the_workers_present(reviews):
    gate = admit(reviews, RowGroup(0, 0, 40), shares={"writer": {"w1": 2}, "judge": {"w1": 1}})
    finish(gate, gate.take())
    gate.take()
    assert gate.in_use("writer") == {"w1": 4}

    gate.set_shares({"writer": {"w1": 1, "w2": 1}, "judge": {"w1": 1}})  # w2 joined

    assert [h.worker for h in gate.take() if h.ref.column == "review"] == ["w2", "w2"]
    gate.set_shares({"writer": {"w2": 2}, "judge": {"w2": 1}})  # w1 left with its cells
    assert gate.in_use("writer") == {"w2": 2}


def test_a_chunk_larger_than_any_credit_still_goes(reviews):
    gate = admit(reviews, RowGroup(0, 0, 10), per_task=10,
                 shares={"writer": {"w1": 1, "w2": 1}, "judge": {"w1": 1}})  # fmt: skip
    finish(gate, gate.take())
    handed = gate.take()
    assert [(h.ref.key, h.units) for h in handed if h.worker] == [(("review", "r", 0, 0), 2)]


def tallied(share: int) -> Admission:
    """topic -> text (model m, a share of ``share`` on one worker) -> tally (stateful), two
    row groups of 2 rows."""
    graph = dataclasses.replace(
        ColumnGraph.from_edges(
            {"topic": [], "text": ["topic"], "tally": ["text"]},
            {"topic": FULL, "text": CELL, "tally": FULL},
        ),
        stateful=frozenset({"tally"}),
    )
    return admit(graph, RowGroup(0, 0, 2), RowGroup(1, 2, 2), models={"text": "m"},
                 shares={"m": {"w1": share}}, stateful_previous=True)  # fmt: skip


def test_a_stateful_task_waits_for_the_previous_row_groups_and_forgets_a_written_one():
    gate = tallied(share=1)
    finish(gate, gate.take())  # the topics
    rg0 = gate.take()  # row group 0's texts (credit 2), then what waited only on them
    assert keys(rg0) == [("text", "r", 0, 0), ("text", "r", 0, 1), ("text.rows", "r", 0),
                         ("tally", "r", 0), ("row_group", "r", 0)]  # fmt: skip
    assert rg0[3].ref.after is None  # the first row group's tally waits on no other
    finish(gate, rg0)
    gate.forget(0)  # row group 0 is written

    rg1 = gate.take()
    assert keys(rg1)[-2:] == [("tally", "r", 1), ("row_group", "r", 1)]
    assert rg1[-2].ref.after is None  # what it waited for is written: nothing to wait on


def test_a_stateful_task_goes_after_the_previous_row_groups_even_when_its_inputs_are_ready():
    gate = tallied(share=2)
    finish(gate, gate.take())  # the topics
    texts = gate.take()  # credit 4: both row groups' texts, oldest first
    assert [h.ref.row_group for h in texts if h.worker] == [0, 0, 1, 1]
    handed = {h.ref.key: h.ref for h in texts}
    assert handed[("tally", "r", 1)].after == ("tally", "r", 0)
    assert list(handed).index(("tally", "r", 0)) < list(handed).index(("tally", "r", 1))


def test_between_close_hand_overs_cells_go_only_where_calls_would_idle(reviews):
    gate = admit(reviews, RowGroup(0, 0, 40), models={"review": "writer"},
                 shares={"writer": {"w1": 2, "w2": 2}})  # fmt: skip
    finish(gate, gate.take())
    on_w1 = [h.ref.key for h in gate.take() if h.worker == "w1"]
    assert gate.in_use("writer") == {"w1": 4, "w2": 4}

    gate.finished(on_w1[0])  # w1 still holds 3 cells, more than its 2 calls: it can wait
    assert [h for h in gate.take(running_low_only=True) if h.worker] == []
    gate.finished(on_w1[1])
    gate.finished(on_w1[2])  # 1 cell left for 2 calls: topped up to its credit at once
    topped = [h.worker for h in gate.take(running_low_only=True) if h.worker]
    assert topped == ["w1"] * 3
    assert gate.in_use("writer") == {"w1": 4, "w2": 4}


# -- task slots ----------------------------------------------------------------------------


def test_a_worker_needs_a_slot_per_task_its_credit_holds_plus_one():
    chunking = {"review": 4, "facts": 4, "quality": 2}
    shares = {"writer": {"w1": 8, "w2": 8}, "judge": {"w1": 4, "w2": 4}}
    # writer: 16 cells in tasks of 4; judge: 8 cells in tasks of 2; one for the rest
    assert slots_needed(chunking, MODELS, shares, "w1") == 1 + 4 + 4


def test_chunks_stay_as_they_are_on_workers_with_slots_enough():
    chunking = {"product": 100, "review": 4, "facts": 4, "quality": 2}
    shares = {"writer": {"w1": 8}, "judge": {"w1": 4}}
    assert fit_to_slots(chunking, MODELS, shares, {"w1": 9}, 100) == chunking


def test_chunks_grow_on_a_worker_short_of_slots_until_its_credit_fits():
    chunking = {"t": 8}
    fitted = fit_to_slots(chunking, {"t": "m"}, {"m": {"w1": 16}}, {"w1": 2}, 100)
    assert fitted == {"t": 32}  # one task holding the worker's 32 cells, one slot left
    assert slots_needed(fitted, {"t": "m"}, {"m": {"w1": 16}}, "w1") == 2


def test_the_model_needing_most_tasks_grows_first_and_no_chunk_outgrows_the_row_group():
    chunking = {"product": 100, "review": 4, "facts": 4, "quality": 2}
    shares = {"writer": {"w1": 8}, "judge": {"w1": 4}}
    fitted = fit_to_slots(chunking, MODELS, shares, {"w1": 5}, 100)
    assert fitted == {"product": 100, "review": 8, "facts": 8, "quality": 4}  # 1 + 2 + 2
    assert fit_to_slots(chunking, MODELS, shares, {"w1": 1}, 10) == {
        "product": 100, "review": 10, "facts": 10, "quality": 8,
    }  # fmt: skip  # cannot fit: as coarse as allowed, the caller warns


def test_a_cancelled_row_group_gives_its_credit_back_and_its_waiting_cells_go_nowhere(reviews):
    # an exact run cancels the row groups it no longer needs: their cells never finish
    gate = admit(reviews, RowGroup(0, 0, 4), RowGroup(1, 4, 4))
    finish(gate, gate.take())  # the products
    gate.take()
    assert gate.in_use("writer") == {"w1": 4, "w2": 4}  # the reviews, calling

    gate.forget(1)
    gate.forget(0)

    assert gate.in_use("writer") == {"w1": 0, "w2": 0}
    assert gate.waiting == 0 and gate.running == 0 and gate.take() == []
