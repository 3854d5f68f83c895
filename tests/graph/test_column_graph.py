"""The column graph: shapes, order, side effects, critical path, task counts, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dagen.config.dataset import DatasetConfig
from dagen.errors import CycleError, DuplicateColumnError, UnknownColumnError
from dagen.graph import ColumnGraph


def sampler(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "column_type": "sampler",
        "sampler_type": "uniform",
        "params": {"low": 0, "high": 1},
    }


def expression(name: str, expr: str) -> dict[str, Any]:
    return {"name": name, "column_type": "expression", "expr": expr}


def graph_of(*columns: dict[str, Any]) -> ColumnGraph:
    return ColumnGraph.from_config(DatasetConfig.from_dict({"seed": 1, "columns": list(columns)}))


def edges(graph: ColumnGraph) -> set[tuple[str, str]]:
    return {(up, col) for col, ups in graph.upstream.items() for up in ups}


# -- shapes ------------------------------------------------------------------------------


def test_chain_runs_in_declaration_order(chain):
    assert chain.order == ("topic", "question", "answer", "word_count")
    assert chain.upstream["answer"] == {"question"}
    assert chain.downstream["answer"] == {"word_count"}
    assert chain.upstream["topic"] == frozenset()
    assert chain.downstream["word_count"] == frozenset()


def test_fan_out_fan_in_links_the_source_to_the_sink_through_every_branch(fan_out_fan_in):
    g = fan_out_fan_in
    assert g.downstream["persona"] == {"bio", "hobby", "age"}
    assert g.upstream["profile"] == {"bio", "hobby", "age"}
    for branch in ("bio", "hobby", "age"):
        assert g.upstream[branch] == {"persona"}
        assert g.downstream[branch] == {"profile"}
    assert g.order[0] == "persona"
    assert g.order[-1] == "profile"


def test_diamond_orders_both_sides_before_the_join(diamond):
    order = diamond.order
    assert order.index("product") < order.index("review") < order.index("verdict")
    assert order.index("product") < order.index("price") < order.index("verdict")
    assert edges(diamond) == {
        ("product", "review"),
        ("product", "price"),
        ("review", "verdict"),
        ("price", "verdict"),
    }


def test_every_column_comes_after_the_columns_it_reads(chain, fan_out_fan_in, diamond):
    for graph in (chain, fan_out_fan_in, diamond):
        position = {c: i for i, c in enumerate(graph.order)}
        assert sorted(graph.order) == sorted(graph.columns)
        for up, down in edges(graph):
            assert position[up] < position[down]


def test_ties_are_broken_by_declaration_order_not_by_name():
    # report is declared first but reads score; name and score are both free at the start.
    # score (declared before name) goes first, which frees report, declared before name.
    g = ColumnGraph.from_edges({"report": ["score"], "score": [], "name": []})
    assert g.order == ("score", "report", "name")
    assert g.columns == ("report", "score", "name")


def test_graph_from_config_follows_template_references():
    g = graph_of(
        expression("greeting", "Hi {{ person.first_name }} from {{ city }}"),
        sampler("person"),
        sampler("city"),
    )
    assert g.upstream["greeting"] == {"person", "city"}
    assert g.order == ("person", "city", "greeting")
    assert g.columns == ("greeting", "person", "city")


# -- side effects --------------------------------------------------------------------------


def test_a_side_effect_column_is_an_edge_to_its_producer():
    g = graph_of(
        sampler("topic"),
        {
            "name": "summary",
            "column_type": "llm-text",
            "prompt": "Summarise {{ topic }}",
            "with_trace": True,
        },
        expression("trace_length", "{{ summary__trace | length }}"),
    )
    assert g.side_effects == {"summary__trace": "summary"}
    assert g.producer("summary__trace") == "summary"
    assert g.producer("topic") == "topic"
    assert g.upstream["trace_length"] == {"summary"}
    assert g.reads["trace_length"] == {"summary__trace"}
    assert g.downstream["summary"] == {"trace_length"}
    assert g.is_cell("summary") and not g.is_cell("trace_length")
    assert "summary__trace" not in g.columns


def test_reasoning_content_is_a_side_effect_too():
    g = graph_of(
        {
            "name": "answer",
            "column_type": "llm-text",
            "prompt": "Answer",
            "extract_reasoning_content": True,
        },
        expression("why", "{{ answer__reasoning_content }}"),
    )
    assert g.upstream["why"] == {"answer"}


# -- critical path -------------------------------------------------------------------------


def test_critical_path_of_a_chain_is_the_whole_chain(chain):
    assert chain.critical_path() == ("topic", "question", "answer", "word_count")


def test_critical_path_picks_the_earlier_declared_branch_on_a_tie(diamond):
    assert diamond.critical_path() == ("product", "review", "verdict")


def test_weighted_critical_path_follows_the_heavy_branch(diamond, fan_out_fan_in):
    assert diamond.critical_path(lambda c: 10.0 if c == "price" else 1.0) == (
        "product",
        "price",
        "verdict",
    )
    # only model round trips count: the cell-by-cell columns
    heavy_hobby = {"bio": 1.0, "hobby": 3.0, "profile": 1.0}
    assert fan_out_fan_in.critical_path(lambda c: heavy_hobby.get(c, 0.0)) == (
        "persona",
        "hobby",
        "profile",
    )


def test_depth_is_the_longest_weighted_path_ending_at_each_column(diamond):
    weight = {"product": 1.0, "review": 2.0, "price": 5.0, "verdict": 1.0}
    assert diamond.depth(weight.__getitem__) == {
        "product": 1.0,
        "review": 3.0,
        "price": 6.0,
        "verdict": 7.0,
    }


def test_critical_path_of_disconnected_columns_is_the_longest_chain():
    g = ColumnGraph.from_edges({"lonely": [], "a": [], "b": ["a"]})
    assert g.critical_path() == ("a", "b")


# -- task counts -------------------------------------------------------------------------


def test_task_counts_with_an_uneven_last_row_group(fan_out_fan_in):
    # 10 rows in groups of 4: [4, 4, 2]. A cell column makes one task per row + a collector
    # per group: (4+1) + (4+1) + (2+1) = 13. A full column makes one task per group: 3.
    assert fan_out_fan_in.task_counts(10, 4) == {
        "persona": 3,
        "bio": 13,
        "hobby": 13,
        "age": 3,
        "profile": 13,
    }


def test_task_counts_with_several_cells_per_task(chain):
    # 10 rows in groups of 4: [4, 4, 2]; 3 cells per task: chunks per group 2, 2, 1, plus a
    # collector each: 3 + 3 + 2 = 8.
    assert chain.task_counts(10, 4, cells_per_task=3) == {
        "topic": 3,
        "question": 8,
        "answer": 8,
        "word_count": 3,
    }


def test_task_counts_when_the_row_groups_divide_evenly(diamond):
    # 8 rows in groups of 4: [4, 4]; 4 cells per task: one chunk + one collector per group.
    assert diamond.task_counts(8, 4, cells_per_task=4) == {
        "product": 2,
        "review": 4,
        "price": 2,
        "verdict": 2,
    }


# -- mermaid -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["chain", "fan_out_fan_in", "diamond"])
def test_mermaid_text_has_every_column_and_every_edge(shape, request):
    graph: ColumnGraph = request.getfixturevalue(shape)
    text = graph.to_mermaid()
    assert text.splitlines()[0] == "flowchart LR"
    labels: dict[str, str] = {}
    drawn: set[tuple[str, str]] = set()
    for line in text.splitlines()[1:]:
        if node := re.fullmatch(r'\s+(c\d+)([(\[])"(.+)"[)\]]', line):
            node_id, bracket, label = node.groups()
            labels[node_id] = label
            assert (bracket == "(") == graph.is_cell(label), line
        elif edge := re.fullmatch(r"\s+(c\d+) --> (c\d+)", line):
            drawn.add(edge.groups())
        else:
            pytest.fail(f"unexpected mermaid line {line!r}")
    assert sorted(labels.values()) == sorted(graph.columns)
    assert {(labels[a], labels[b]) for a, b in drawn} == edges(graph)


# -- errors --------------------------------------------------------------------------------


def test_two_columns_with_one_name_are_rejected():
    with pytest.raises(DuplicateColumnError, match="'city'"):
        graph_of(sampler("city"), sampler("age"), sampler("city"))


def test_a_reference_to_an_unknown_column_suggests_the_close_name():
    with pytest.raises(UnknownColumnError) as info:
        graph_of(sampler("city"), expression("greeting", "Hi from {{ cty }}"))
    message = str(info.value)
    assert "'greeting'" in message
    assert "'cty'" in message
    assert "did you mean 'city'?" in message


def test_an_unknown_column_without_a_close_name_has_no_hint():
    with pytest.raises(UnknownColumnError) as info:
        graph_of(sampler("city"), expression("greeting", "{{ zzzzzz }}"))
    assert "did you mean" not in str(info.value)


def test_a_cycle_is_reported_with_its_columns_in_data_flow_order():
    # a reads c, b reads a, c reads b: data flows a -> b -> c -> a.
    # "intro" reads a: it waits on the cycle but is not part of it.
    with pytest.raises(CycleError) as info:
        graph_of(
            expression("intro", "{{ a }}"),
            expression("a", "{{ c }}"),
            expression("b", "{{ a }}"),
            expression("c", "{{ b }}"),
        )
    message = str(info.value)
    assert "a -> b -> c -> a" in message
    assert "intro" not in message


def test_a_two_column_cycle():
    with pytest.raises(CycleError, match="question -> answer -> question"):
        graph_of(expression("question", "{{ answer }}"), expression("answer", "{{ question }}"))


def test_a_column_that_reads_itself_is_a_cycle():
    with pytest.raises(CycleError, match="'echo' references itself"):
        graph_of(sampler("seed_text"), expression("echo", "{{ seed_text }} {{ echo }}"))


def test_from_edges_rejects_unknown_columns_and_cycles():
    with pytest.raises(UnknownColumnError, match="'b'"):
        ColumnGraph.from_edges({"a": ["b"]})
    with pytest.raises(CycleError):
        ColumnGraph.from_edges({"a": ["b"], "b": ["a"]})
