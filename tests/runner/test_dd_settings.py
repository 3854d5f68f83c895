"""Data Designer's column settings end to end: a real LocalCluster against the real mock
server process, checking the parquet output and counting the calls at the mock.

    skip / propagate_skip        skipped rows make no call; downstream follows
    custom side effects, models  the function's calls count in usage and keep the cap
    temperature / top_p          drawn per call, deterministic, seen by the server
    with_trace                   none | last_message | all_messages
    schema_transform             processors-files/<name>/part-*.parquet
    drop_columns globs           dropped-columns-parquet-files/part-*.parquet
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def llm_process():
    with MockServerProcess(MockServerSettings(port=0, latency=0.02)) as process:
        yield process


@pytest.fixture
def llm(llm_process):
    """The mock server, counters and recorded requests zeroed."""
    llm_process.set(latency=0.02, max_concurrency=None)
    llm_process.reset()
    return llm_process


def model(server, alias="writer", **fields):
    return {"alias": alias, "model": f"mock-{alias}", "endpoint": server.url,
            "max_parallel_requests": 4, **fields}  # fmt: skip


def config(server, columns, *, models=None, processors=()) -> dagen.DatasetConfig:
    base = [{"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
             "generation_strategy": "full_column", "required_columns": []}]  # fmt: skip
    return dagen.DatasetConfig.from_dict({
        "seed": 5, "models": models if models is not None else [model(server)],
        "columns": base + columns, "processors": list(processors),
    })  # fmt: skip


def run(cfg, rows, client, out=None, **settings):
    return dagen.generate(cfg, rows, out, client=client,
                          settings=dagen.RunSettings(**{"row_group_size": 10, **settings}))  # fmt: skip


# -- conditional generation ----------------------------------------------------------


def test_skipped_rows_make_no_call_and_downstream_columns_follow_propagate_skip(
    llm, client, tmp_path
):
    cfg = config(llm, [
        {"name": "tier", "column_type": "expression", "expr": "{{ 'free' if n % 3 == 0 else 'pro' }}"},
        {"name": "reply", "column_type": "llm-text", "model_alias": "writer",
         "with_trace": "all_messages", "prompt": "Answer customer {{ n }}.",
         "skip": {"when": "{{ tier == 'free' }}"}},
        # propagate_skip (the default): skipped wherever reply was, no call for those rows
        {"name": "review", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Review: {{ reply }}"},
        {"name": "shout", "column_type": "expression", "expr": "{{ reply | upper }}"},
        # its own value when skipped, through propagation
        {"name": "flag", "column_type": "expression", "expr": "{{ reply | length }}",
         "dtype": "int", "skip": {"when": "{{ n > 100 }}", "value": -1}},
        # opts out: runs on every row and sees the null
        {"name": "status", "column_type": "custom", "propagate_skip": False,
         "function": "scenario_functions:describe_possibly_skipped", "required_columns": ["reply"]},
    ])  # fmt: skip

    result = run(cfg, 30, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    free = df["n"] % 3 == 0
    assert len(df) == result.num_records == 30 and free.sum() == 10
    assert df.loc[free, ["reply", "reply__trace", "review", "shout"]].isna().all().all()
    assert df.loc[~free, ["reply", "reply__trace", "review", "shout"]].notna().all().all()
    assert (df.loc[free, "flag"] == -1).all() and (df.loc[~free, "flag"] > 0).all()
    assert (df.loc[free, "status"] == "no reply").all()
    assert (df.loc[~free, "status"] == "replied").all()
    # 20 replies and 20 reviews: the 10 free rows cost no call in either column
    assert llm.stats()["completed"] == result.usage["writer"]["requests"] == 40


def test_a_column_skipped_in_every_row_of_a_row_group_keeps_its_type(llm, client, tmp_path):
    cfg = config(llm, [
        {"name": "reply", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Answer {{ n }}.", "skip": {"when": "{{ n < 10 }}"}},
        {"name": "size", "column_type": "expression", "expr": "{{ reply | length }}",
         "dtype": "int"},
    ])  # fmt: skip

    run(cfg, 20, client, tmp_path / "out")

    first, second = (pq.read_schema(tmp_path / "out" / "data" / f"part-00000{i}.parquet")
                     for i in (0, 1))  # fmt: skip
    assert str(first.field("reply").type) == str(second.field("reply").type) == "large_string"
    assert str(first.field("size").type) == str(second.field("size").type) == "int64"
    assert llm.stats()["completed"] == 10


def test_skip_is_refused_where_it_cannot_work(llm):
    with pytest.raises(dagen.ConfigValidationError, match="not supported on sampler"):
        config(llm, [{"name": "c", "column_type": "sampler", "sampler_type": "category",
                      "params": {"values": ["a"]}, "skip": {"when": "{{ n > 1 }}"}}])  # fmt: skip
    with pytest.raises(dagen.ConfigValidationError, match="references no column"):
        config(llm, [{"name": "e", "column_type": "expression", "expr": "{{ n }}",
                      "skip": {"when": "n > 1"}}])  # fmt: skip
    with pytest.raises(dagen.ConfigValidationError, match="reads the column itself"):
        config(llm, [{"name": "e", "column_type": "expression", "expr": "{{ n }}",
                      "skip": {"when": "{{ e > 1 }}"}}])  # fmt: skip


# -- custom columns ------------------------------------------------------------------


def test_a_custom_functions_model_calls_count_in_usage_and_keep_the_cap(llm, client, tmp_path):
    llm.set(latency=0.05)
    cfg = config(llm, [
        {"name": "summary", "column_type": "custom", "required_columns": ["n"],
         "function": "scenario_functions:summarise_with_model",
         "side_effect_columns": ["summary_turns"], "model_aliases": ["writer"]},
        {"name": "both", "column_type": "custom", "required_columns": ["n"],
         "function": "scenario_functions:ask_both_models", "model_aliases": ["writer", "judge"]},
        {"name": "parity", "column_type": "custom", "generation_strategy": "full_column",
         "function": "scenario_functions:parity_with_flag", "required_columns": ["n"],
         "side_effect_columns": ["is_even"]},
    ], models=[model(llm, max_parallel_requests=3), model(llm, "judge", max_parallel_requests=2)])  # fmt: skip

    result = run(cfg, 40, client, tmp_path / "out", row_group_size=20)

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert len(df) == 40 and (df["summary_turns"] == 2).all()
    assert df["summary"].str.contains("Summarise row").all()
    assert df["both"].str.contains(" | ").all()
    assert (df["is_even"] == (df["n"] % 2 == 0)).all() and (df["parity"] == df["n"] % 2).all()
    stats = llm.stats()["by_model"]
    assert result.usage["writer"]["successes"] == stats["mock-writer"]["completed"] == 80
    assert result.usage["judge"]["successes"] == stats["mock-judge"]["completed"] == 40
    assert 1 < stats["mock-writer"]["peak_concurrency"] <= 3
    assert 1 <= stats["mock-judge"]["peak_concurrency"] <= 2


def test_a_custom_function_that_misses_a_declared_side_effect_drops_its_rows(llm, client):
    cfg = config(llm, [
        {"name": "half", "column_type": "custom", "required_columns": ["n"],
         "function": "scenario_functions:forgets_its_side_effect",
         "side_effect_columns": ["rest"]},
    ], models=[])  # fmt: skip

    result = run(cfg, 5, client)

    assert result.num_records == 0
    assert "missing ['rest']" in result.dropped[0]["message"]


def test_a_function_taking_models_must_name_them(llm, client):
    cfg = config(llm, [
        {"name": "summary", "column_type": "custom", "required_columns": ["n"],
         "function": "scenario_functions:summarise_with_model",
         "side_effect_columns": ["summary_turns"]},
    ])  # fmt: skip

    with pytest.raises(dagen.ConfigValidationError, match="no model_aliases"):
        run(cfg, 5, client)


# -- inference parameters ------------------------------------------------------------


def test_temperature_and_top_p_are_drawn_per_call_and_reach_the_server(llm, client):
    params = {
        "temperature": {"distribution_type": "uniform", "params": {"low": 0.2, "high": 0.9}},
        "top_p": {"distribution_type": "manual",
                  "params": {"values": [0.5, 0.95], "weights": [1, 3]}},
    }  # fmt: skip
    cfg = config(llm, [{"name": "t", "column_type": "llm-text", "model_alias": "writer",
                        "prompt": "Row {{ n }}"}],
                 models=[model(llm, inference_parameters=params)])  # fmt: skip

    run(cfg, 60, client)
    first = llm.requests()
    llm.reset()
    run(cfg, 60, client)
    second = llm.requests()

    temperatures = [r["temperature"] for r in first]
    assert len(temperatures) == 60 and all(0.2 <= t < 0.9 for t in temperatures)
    assert len(set(temperatures)) == 60  # a new draw for every call
    tops = [r["top_p"] for r in first]
    assert set(tops) == {0.5, 0.95} and tops.count(0.95) > tops.count(0.5)
    # the same seed draws the same values (in whatever order the calls arrived)
    assert sorted(temperatures) == sorted(r["temperature"] for r in second)


def test_distributions_outside_the_parameters_range_are_config_errors(llm):
    with pytest.raises(dagen.ConfigValidationError, match="temperature must be between 0 and 2"):
        config(llm, [], models=[model(llm, inference_parameters={"temperature": {
            "distribution_type": "uniform", "params": {"low": 0.5, "high": 3}}})])  # fmt: skip
    with pytest.raises(dagen.ConfigValidationError, match="same length"):
        config(llm, [], models=[model(llm, inference_parameters={"top_p": {
            "distribution_type": "manual", "params": {"values": [0.5], "weights": [1, 2]}}})])  # fmt: skip


# -- traces --------------------------------------------------------------------------


def test_trace_columns_have_the_shape_of_their_trace_type(llm, client, tmp_path):
    cfg = config(llm, [
        {"name": name, "column_type": "llm-text", "model_alias": "writer",
         "system_prompt": "Be brief.", "prompt": f"{name} {{{{ n }}}}", "with_trace": trace}
        for name, trace in (("none", "none"), ("last", "last_message"),
                            ("every", "all_messages"), ("legacy", True))
    ])  # fmt: skip

    run(cfg, 5, client, tmp_path / "out")

    df = pd.read_parquet(tmp_path / "out" / "data")
    assert "none__trace" not in df.columns
    for row in df.itertuples():
        assert [m["role"] for m in row.last__trace] == ["assistant"]
        assert row.last__trace[0]["content"] == row.last
        assert [m["role"] for m in row.every__trace] == ["system", "user", "assistant"]
        assert [m["role"] for m in row.legacy__trace] == ["system", "user", "assistant"]


# -- processors ----------------------------------------------------------------------


def test_schema_transform_and_glob_drop_columns_write_their_side_datasets(llm, client, tmp_path):
    cfg = config(llm, [
        {"name": "reply", "column_type": "llm-text", "model_alias": "writer",
         "with_trace": "last_message", "prompt": "Say \"hi\" to {{ n }}."},
        {"name": "scratch_a", "column_type": "expression", "expr": "a{{ n }}"},
        {"name": "scratch_b", "column_type": "expression", "expr": "b{{ n }}"},
        {"name": "hidden", "column_type": "expression", "expr": "h{{ n }}", "drop": True},
    ], processors=[
        {"processor_type": "schema_transform", "name": "chat",
         "template": {"messages": [{"role": "user", "content": "Row {{ n }}"},
                                   {"role": "assistant", "content": "{{ reply }}"}],
                      "id": "{{ n }}"}},
        {"processor_type": "drop_columns", "column_names": ["scratch_*", "*__trace"]},
    ])  # fmt: skip

    run(cfg, 25, client, tmp_path / "out")

    out = tmp_path / "out"
    df = pd.read_parquet(out / "data")
    assert list(df.columns) == ["n", "reply"]
    dropped = pd.read_parquet(out / "dropped-columns-parquet-files")
    assert list(dropped.columns) == ["scratch_a", "scratch_b", "reply__trace", "hidden"]
    assert dropped["scratch_a"].tolist() == [f"a{i}" for i in range(25)]
    assert dropped["hidden"].tolist() == [f"h{i}" for i in range(25)]
    assert sorted(p.name for p in (out / "dropped-columns-parquet-files").iterdir()) == [
        f"part-00000{i}.parquet" for i in range(3)
    ]
    chat = pd.read_parquet(out / "processors-files" / "chat")
    assert len(chat) == 25 and chat["id"].tolist() == [str(i) for i in range(25)]
    for row, reply in zip(chat.itertuples(), df["reply"], strict=True):
        assert [m["content"] for m in row.messages] == [f"Row {row.id}", reply]
    assert any('"' in reply for reply in df["reply"])  # quotes were escaped into valid JSON


def test_drop_columns_patterns_are_checked_the_same_by_validate_and_run(llm, client, tmp_path):
    from click.testing import CliRunner

    from dagen.cli import cli

    good = {"columns": [{"name": "a1", "column_type": "expression", "expr": "{{ 1 }}"},
                        {"name": "b", "column_type": "expression", "expr": "{{ a1 }}"}],
            "processors": [{"processor_type": "drop_columns", "columns": ["a*"]}]}  # fmt: skip
    bad = {**good, "processors": [{"processor_type": "drop_columns", "columns": ["z*"]}]}
    for name, data in (("good", good), ("bad", bad)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))

    ok = CliRunner().invoke(cli, ["validate", str(tmp_path / "good.json")])
    refused = CliRunner().invoke(cli, ["validate", str(tmp_path / "bad.json")])

    assert ok.exit_code == 0, ok.output
    assert refused.exit_code == 2 and "pattern 'z*' matches no column" in refused.output
    assert list(run(dagen.DatasetConfig.from_dict(good), 3, client).to_pandas().columns) == ["b"]
    with pytest.raises(dagen.ConfigValidationError, match="pattern 'z\\*' matches no column"):
        run(dagen.DatasetConfig.from_dict(bad), 3, client)
