"""Lowering one row group of the column graph to Dask tasks: keys, kinds, dependencies.

Pure: no cluster. The graph shapes are the shared fixtures of ``tests/graph_shapes.py`` (cell-by-cell
columns: question, answer, bio, hobby, profile, review; the rest full-column).
"""

from __future__ import annotations

import pytest
from dask.utils import key_split

from dagen.config.columns import GenerationStrategy
from dagen.graph import ColumnGraph
from dagen.lowering.plan import (
    CHECKPOINT,
    RowGroup,
    RowGroupPlan,
    TaskRef,
    column_slugs,
    row_groups,
)

CELL = GenerationStrategy.CELL_BY_CELL
FULL = GenerationStrategy.FULL_COLUMN


def by_key(plan: RowGroupPlan) -> dict[tuple, TaskRef]:
    return {t.key: t for t in plan.tasks}


# -- row groups ----------------------------------------------------------------------------


def test_row_groups_partition_the_rows_with_a_short_last_group():
    groups = list(row_groups(10, 4))
    assert groups == [RowGroup(0, 0, 4), RowGroup(1, 4, 4), RowGroup(2, 8, 2)]
    covered = [row for g in groups for row in range(g.start, g.start + g.size)]
    assert covered == list(range(10))


def test_row_groups_that_divide_evenly_and_from_a_later_group():
    assert list(row_groups(8, 4)) == [RowGroup(0, 0, 4), RowGroup(1, 4, 4)]
    assert list(row_groups(10, 4, first=1)) == [RowGroup(1, 4, 4), RowGroup(2, 8, 2)]
    assert list(row_groups(3, 1000)) == [RowGroup(0, 0, 3)]
    assert list(row_groups(0, 4)) == []


# -- a chain, cell by cell in the middle ------------------------------------------------------


def test_a_chain_lowers_to_chunks_collectors_and_a_checkpoint(chain):
    # 5 rows, 2 cells per task: chunks start at rows 0, 2, 4 (the last one holds 1 row)
    plan = RowGroupPlan.build(chain, RowGroup(2, 10, 5), run="r7", cells_per_task=2)
    topic, q_rows, a_rows, words = (
        ("topic", "r7", 2),
        ("question.rows", "r7", 2),
        ("answer.rows", "r7", 2),
        ("word_count", "r7", 2),
    )
    q = [("question", "r7", 2, first) for first in (0, 2, 4)]
    a = [("answer", "r7", 2, first) for first in (0, 2, 4)]
    assert [(t.kind, t.column, t.key, t.dependencies, t.first_row, t.rows) for t in plan.tasks] == [
        ("batch", "topic", topic, (), None, 5),
        ("cell", "question", q[0], (topic,), 0, 2),
        ("cell", "question", q[1], (topic,), 2, 2),
        ("cell", "question", q[2], (topic,), 4, 1),
        ("collect", "question", q_rows, tuple(q), None, 5),
        ("cell", "answer", a[0], (q[0],), 0, 2),
        ("cell", "answer", a[1], (q[1],), 2, 2),
        ("cell", "answer", a[2], (q[2],), 4, 1),
        ("collect", "answer", a_rows, tuple(a), None, 5),
        ("batch", "word_count", words, (a_rows,), None, 5),
        ("checkpoint", None, (CHECKPOINT, "r7", 2), (topic, q_rows, a_rows, words), None, 5),
    ]
    assert plan.block_keys == {
        "topic": topic,
        "question": q_rows,
        "answer": a_rows,
        "word_count": words,
    }
    assert plan.checkpoint is plan.tasks[-1]
    assert {t.row_group for t in plan.tasks} == {2}


def test_one_cell_per_task_is_one_task_per_row(chain):
    plan = RowGroupPlan.build(chain, RowGroup(0, 0, 3), run="r1", cells_per_task=1)
    cells = [t for t in plan.tasks if t.kind == "cell" and t.column == "answer"]
    assert [t.key for t in cells] == [("answer", "r1", 0, row) for row in range(3)]
    assert [t.dependencies for t in cells] == [(("question", "r1", 0, row),) for row in range(3)]
    assert all(t.rows == 1 for t in cells)


def test_a_chunk_larger_than_the_row_group_is_one_task(chain):
    plan = RowGroupPlan.build(chain, RowGroup(0, 0, 3), run="r1", cells_per_task=50)
    cells = [t for t in plan.tasks if t.kind == "cell"]
    assert [(t.key, t.rows) for t in cells] == [
        (("question", "r1", 0, 0), 3),
        (("answer", "r1", 0, 0), 3),
    ]


def test_a_cell_column_chunked_differently_reads_the_upstream_chunks_covering_its_rows(chain):
    # question in chunks of 4 rows, answer in chunks of 3: answer's rows 3-5 read question's
    # chunks at rows 0 and 4, and start once those are done, not the whole row group
    plan = RowGroupPlan.build(
        chain, RowGroup(0, 0, 10), run="r1", cells_per_task={"question": 4, "answer": 3,
                                                             "topic": 10, "word_count": 10},
    )  # fmt: skip
    tasks = by_key(plan)
    reads = {
        t.first_row: t.dependencies for t in plan.tasks if t.column == "answer" and t.kind == "cell"
    }
    q = [("question", "r1", 0, f) for f in (0, 4, 8)]
    assert reads == {0: (q[0],), 3: (q[0], q[1]), 6: (q[1], q[2]), 9: (q[2],)}
    assert tasks[("question", "r1", 0, 4)].dependencies == (("topic", "r1", 0),)


def test_a_cell_task_of_the_whole_row_group_reads_the_upstream_collector(chain):
    plan = RowGroupPlan.build(
        chain, RowGroup(0, 0, 6), run="r1",
        cells_per_task={"topic": 6, "question": 2, "answer": 6, "word_count": 6},
    )  # fmt: skip
    assert by_key(plan)[("answer", "r1", 0, 0)].dependencies == (("question.rows", "r1", 0),)


# -- fan out / fan in and diamond ------------------------------------------------------------


def test_a_cell_column_reading_cells_and_a_batch_waits_on_the_same_chunk_and_the_batch(
    fan_out_fan_in,
):
    plan = RowGroupPlan.build(fan_out_fan_in, RowGroup(1, 3, 3), run="r2", cells_per_task=1)
    tasks = by_key(plan)
    for row in range(3):
        profile = tasks[("profile", "r2", 1, row)]
        assert profile.kind == "cell"
        # in the graph's order: bio, hobby, then age
        assert profile.dependencies == (
            ("bio", "r2", 1, row),
            ("hobby", "r2", 1, row),
            ("age", "r2", 1),
        )
        assert tasks[("bio", "r2", 1, row)].dependencies == (("persona", "r2", 1),)
    assert tasks[("age", "r2", 1)].dependencies == (("persona", "r2", 1),)
    assert plan.checkpoint.dependencies == (
        ("persona", "r2", 1),
        ("bio.rows", "r2", 1),
        ("hobby.rows", "r2", 1),
        ("age", "r2", 1),
        ("profile.rows", "r2", 1),
    )


def test_a_batch_column_waits_on_the_collector_of_a_cell_column_and_on_a_batch(diamond):
    plan = RowGroupPlan.build(diamond, RowGroup(0, 0, 4), run="r3", cells_per_task=3)
    tasks = by_key(plan)
    assert tasks[("verdict", "r3", 0)].kind == "batch"
    assert tasks[("verdict", "r3", 0)].dependencies == (
        ("review.rows", "r3", 0),
        ("price", "r3", 0),
    )
    assert tasks[("review.rows", "r3", 0)].dependencies == (
        ("review", "r3", 0, 0),
        ("review", "r3", 0, 3),
    )
    assert [tasks[("review", "r3", 0, f)].rows for f in (0, 3)] == [3, 1]


@pytest.mark.parametrize("shape", ["chain", "fan_out_fan_in", "diamond"])
@pytest.mark.parametrize(("size", "cells_per_task"), [(1, 1), (5, 1), (5, 2), (7, 3), (4, 4)])
def test_every_plan_is_a_well_formed_task_graph(shape, size, cells_per_task, request):
    graph: ColumnGraph = request.getfixturevalue(shape)
    plan = RowGroupPlan.build(graph, RowGroup(3, 30, size), run="rX", cells_per_task=cells_per_task)
    keys = [t.key for t in plan.tasks]
    assert len(keys) == len(set(keys))
    # as many tasks as the graph says, plus the checkpoint
    assert len(plan.tasks) == sum(graph.task_counts(size, size, cells_per_task).values()) + 1
    seen = set()
    for task in plan.tasks:
        assert set(task.dependencies) <= seen, f"{task.key} runs before what it reads"
        assert task.key[1:3] == ("rX", 3)
        seen.add(task.key)
    # the checkpoint reads every column's block, in declaration order
    assert plan.checkpoint.dependencies == tuple(plan.block_keys[c] for c in graph.columns)
    # the chunks of a cell column cover the row group once
    for col in graph.columns:
        if graph.is_cell(col):
            chunks = [t for t in plan.tasks if t.kind == "cell" and t.column == col]
            rows = [r for t in chunks for r in range(t.first_row, t.first_row + t.rows)]
            assert rows == list(range(size))


# -- keys and slugs -----------------------------------------------------------------------------


def test_keys_start_with_the_column_slug_and_carry_the_run_token(diamond):
    plans = [
        RowGroupPlan.build(diamond, RowGroup(0, 0, 2), run=run, cells_per_task=1)
        for run in ("r1", "r2")
    ]
    slugs = column_slugs(diamond.columns)
    for plan, run in zip(plans, ("r1", "r2"), strict=True):
        for task in plan.tasks:
            assert task.key[1] == run
            if task.kind == "checkpoint":
                assert key_split(task.key) == CHECKPOINT
            elif task.kind == "collect":
                assert key_split(task.key) == slugs[task.column] + ".rows"
            else:
                assert key_split(task.key) == slugs[task.column]
    # the same row group of two runs never shares a key
    assert not {t.key for t in plans[0].tasks} & {t.key for t in plans[1].tasks}


def test_slugs_are_unique_dash_free_and_avoid_reserved_names():
    columns = ("row_group", "a b", "a_b", "a-b", "x.rows", "x", "café", "")
    slugs = column_slugs(columns)
    assert slugs == {
        "row_group": "row_group_",  # the checkpoint's name is taken
        "a b": "a_b",
        "a_b": "a_b_",
        "a-b": "a_b__",
        "x.rows": "x.rows_",  # would look like a collector
        "x": "x",
        "café": "caf_",
        "": "column",
    }


@pytest.mark.parametrize(
    "columns",
    [
        ("_id", "id"),
        ("__private__", "2nd_pass_", "_"),
        ("-", "?", "名前"),
        ("d41d8cd98f00b204e9800998ecf8427e",),  # 32 hex digits: dask calls such keys "data"
        ("row_group", "_row_group", "x", "x.rows", "x.rows_"),
        ("1", "1.rows", "2024", "2024 "),
    ],
)
def test_dask_groups_each_columns_keys_under_its_own_slug(columns):
    # cell-by-cell columns, so that every column also has a collector
    graph = ColumnGraph.from_edges({c: [] for c in columns})
    slugs = column_slugs(columns)
    plan = RowGroupPlan.build(graph, RowGroup(0, 0, 1), run="r1", cells_per_task=1, slugs=slugs)
    groups = [key_split(t.key) for t in plan.tasks]
    expected = [name for c in graph.order for name in (slugs[c], slugs[c] + ".rows")]
    assert groups == [*expected, CHECKPOINT]
    assert len(set(groups)) == len(groups)
    assert all("-" not in g for g in groups)


def test_a_validators_batch_size_is_its_rows_per_task_whatever_cells_per_task_says():
    from dagen.config.dataset import DatasetConfig
    from dagen.lowering.plan import chunk_sizes

    config = DatasetConfig.from_dict({"columns": [
        {"name": "code", "column_type": "expression", "expr": "x = 1"},
        {"name": "ok", "column_type": "validation", "target_columns": ["code"],
         "validator_type": "code", "validator_params": {"code_lang": "python"}, "batch_size": 4},
    ]})  # fmt: skip
    graph = ColumnGraph.from_config(config)
    assert graph.rows_per_task == {"ok": 4} and graph.is_cell("ok")
    for cells_per_task in (None, 1, 50):
        assert chunk_sizes(graph, 10, cells_per_task, set())["ok"] == 4
    assert chunk_sizes(graph, 3, None, set())["ok"] == 3  # never more than the row group
    chunks = chunk_sizes(graph, 10, None, set())
    plan = RowGroupPlan.build(graph, RowGroup(0, 0, 10), run="r", cells_per_task=chunks)
    validator = [(t.first_row, t.rows) for t in plan.tasks if t.column == "ok" and t.kind == "cell"]
    assert validator == [(0, 4), (4, 4), (8, 2)]
    assert graph.task_counts(25, 10, chunks)["ok"] == (3 + 1) + (3 + 1) + (2 + 1)


def test_row_groups_are_made_as_they_are_asked_for_whatever_the_number_of_rows():
    groups = row_groups(10**12, 1000)

    assert len(groups) == 10**9
    assert groups[0] == RowGroup(0, 0, 1000)
    assert groups[-1] == RowGroup(10**9 - 1, 10**12 - 1000, 1000)
    assert next(iter(groups)) == RowGroup(0, 0, 1000)
    assert list(row_groups(10, 4)[1:]) == [RowGroup(1, 4, 4), RowGroup(2, 8, 2)]


def test_row_groups_after_a_head_of_listed_ones_continue_from_it():
    from dagen.lowering.plan import RowGroups

    groups = RowGroups(25, 10, first=2, start=12, head=(RowGroup(0, 0, 10), RowGroup(1, 10, 2)))

    assert list(groups) == [
        RowGroup(0, 0, 10),
        RowGroup(1, 10, 2),
        RowGroup(2, 12, 10),
        RowGroup(3, 22, 3),
    ]
    assert [groups[i] for i in range(len(groups))] == list(groups)


# -- fused full-column columns ------------------------------------------------------------------


def test_full_column_columns_reading_only_each_other_share_one_task(fan_out_fan_in):
    plan = RowGroupPlan.build(fan_out_fan_in, RowGroup(2, 20, 4), run="r1", cells_per_task=2,
                              fusable={"persona", "age"})  # fmt: skip
    fused = plan.tasks[0]
    assert (fused.kind, fused.key, fused.columns) == (
        "batches",
        ("persona+age", "r1", 2),
        ("persona", "age"),
    )
    assert fused.dependencies == () and fused.rows == 4
    assert plan.block_keys["persona"] == plan.block_keys["age"] == fused.key
    tasks = by_key(plan)
    assert ("persona", "r1", 2) not in tasks and ("age", "r1", 2) not in tasks
    # a reader of two fused columns waits on their task once
    assert tasks[("profile", "r1", 2, 0)].dependencies == (
        ("bio", "r1", 2, 0), ("hobby", "r1", 2, 0), fused.key,
    )  # fmt: skip
    assert plan.checkpoint.dependencies == (
        fused.key, ("bio.rows", "r1", 2), ("hobby.rows", "r1", 2), ("profile.rows", "r1", 2),
    )  # fmt: skip


def test_a_full_column_column_reading_a_cell_column_keeps_its_own_task(diamond):
    plan = RowGroupPlan.build(diamond, RowGroup(0, 0, 4), run="r1", cells_per_task=4,
                              fusable={"product", "price", "verdict"})  # fmt: skip
    tasks = by_key(plan)
    assert tasks[("product+price", "r1", 0)].columns == ("product", "price")
    assert tasks[("verdict", "r1", 0)].kind == "batch"
    assert tasks[("verdict", "r1", 0)].dependencies == (
        ("review.rows", "r1", 0), ("product+price", "r1", 0),
    )  # fmt: skip


def test_a_lone_fusable_column_and_a_loaded_one_are_not_fused(chain, diamond):
    alone = RowGroupPlan.build(chain, RowGroup(0, 0, 3), run="r1", cells_per_task=3,
                               fusable={"topic", "word_count"})  # fmt: skip
    plain = RowGroupPlan.build(chain, RowGroup(0, 0, 3), run="r1", cells_per_task=3)
    assert alone == plain  # word_count reads a cell column: topic would be fused alone
    loaded = RowGroupPlan.build(diamond, RowGroup(0, 0, 4), run="r1", cells_per_task=4,
                                fusable={"product", "price"}, loaded={"product"})  # fmt: skip
    assert [t.kind for t in loaded.tasks if t.column in ("product", "price")] == ["load", "batch"]


def test_a_fused_key_names_its_columns_within_bounds_and_dask_groups_it_whole():
    columns = [f"feature_{i:02d}" for i in range(30)]
    graph = ColumnGraph.from_edges({c: [] for c in columns}, dict.fromkeys(columns, FULL))
    plan = RowGroupPlan.build(graph, RowGroup(0, 0, 2), run="r1", cells_per_task=1,
                              fusable=set(columns))  # fmt: skip
    [fused, checkpoint] = plan.tasks
    slug = fused.key[0]
    assert slug.startswith("feature_00+feature_01+") and slug.endswith("more")
    assert len(slug) <= 60 and key_split(fused.key) == slug
    assert fused.columns == tuple(columns) and checkpoint.dependencies == (fused.key,)
