"""End-to-end runs on a real LocalCluster: what a user runs, and what lands on disk."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pyarrow.parquet as pq
import pytest
from dask.utils import key_split
from distributed import get_task_stream

import dagen
from dagen.errors import OutputDirError
from dagen.lowering import plan

pytestmark = pytest.mark.cluster


def numbers_config(**extra_columns) -> dagen.DatasetConfig:
    """n (a row id), doubled (sync cell), tripled (async cell), total (batch), rank (async batch)."""
    columns = [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "doubled", "column_type": "custom", "function": "scenario_functions:double"},
        {"name": "tripled", "column_type": "custom", "function": "scenario_functions:slow_triple"},
        {"name": "total", "column_type": "custom", "function": "scenario_functions:total",
         "generation_strategy": "full_column"},
        {"name": "rank", "column_type": "custom", "function": "scenario_functions:async_rank",
         "generation_strategy": "full_column"},
        {"name": "label", "column_type": "expression", "expr": "{{ n }}:{{ total }}"},
    ]  # fmt: skip
    columns += list(extra_columns.values())
    return dagen.DatasetConfig.from_dict({"seed": 7, "columns": columns})


def test_cell_and_batch_columns_sync_and_async_with_an_uneven_last_row_group(client, tmp_path):
    out = tmp_path / "numbers"
    settings = dagen.RunSettings(row_group_size=40, max_concurrent_row_groups=2)

    result = dagen.generate(numbers_config(), 130, out, client=client, settings=settings)

    df = pd.read_parquet(out / "data")
    assert df["n"].tolist() == list(range(130))  # every row, in declared order
    assert (df["doubled"] == df["n"] * 2).all()
    assert (df["tripled"] == df["n"] * 3).all()
    assert (df["total"] == df["n"] * 5).all()
    assert df["label"].tolist() == [f"{n}:{n * 5}" for n in range(130)]
    # rank is computed within each row group: 1..40, 1..40, 1..40, 1..10
    assert df["rank"].tolist() == [float(i % 40 + 1) for i in range(130)]
    files = sorted(p.name for p in (out / "data").iterdir())
    assert files == [f"part-{i:06d}.parquet" for i in range(4)]
    assert [pq.read_metadata(out / "data" / f).num_rows for f in files] == [40, 40, 40, 10]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "complete"
    assert meta["num_records"] == 130 and meta["rows_written"] == 130
    assert [rg["rows"] for rg in meta["row_groups"]] == [40, 40, 40, 10]
    assert meta["columns"]["tripled"] == 130
    assert meta["fingerprint"] == numbers_config().fingerprint()
    assert result.to_pandas().equals(df)


def test_the_live_graph_stays_within_the_row_group_window(client, tmp_path):
    settings = dagen.RunSettings(row_group_size=20, max_concurrent_row_groups=2)

    result = dagen.generate(numbers_config(), 200, tmp_path / "o", client=client, settings=settings)

    # per row group: n, total, rank, label (4 batch) + 2 cell columns x (20 cells + 1 collector) + checkpoint
    per_group = 4 + 2 * 21 + 1
    assert result.metadata["timings"]["max_live_tasks"] <= 2 * per_group
    assert result.num_records == 200


def test_people_example_runs_from_its_own_folder(client, tmp_path, examples):
    cfg = dagen.load_config(examples / "people.yaml")

    result = dagen.generate(cfg, 250, tmp_path / "people", client=client,
                            settings=dagen.RunSettings(row_group_size=100))  # fmt: skip

    df = result.to_pandas()
    assert len(df) == 250
    assert set(df["city"]) <= {"Oslo", "Lima", "Pune", "Kyoto", "Accra"}
    assert df["age"].between(18, 90).all()
    assert df.apply(lambda r: r["greeting"].endswith(f"{r['district']}, {r['city']}"), axis=1).all()
    assert df["score_rank"].between(0, 1).all()
    assert set(df["person"].iloc[0]) == {"first_name", "last_name", "sex", "age", "email", "city"}


def test_same_seed_same_data_whatever_the_window_or_worker_count(client, tmp_path, examples):
    cfg = dagen.load_config(examples / "people.yaml")
    runs = [
        dagen.generate(cfg, 300, None, client=client,
                       settings=dagen.RunSettings(row_group_size=100, max_concurrent_row_groups=w))
        for w in (1, 3)
    ]  # fmt: skip
    single_worker = dagen.generate(
        cfg, 300, None,
        settings=dagen.RunSettings(
            row_group_size=100,
            cluster=dagen.ClusterSettings(n_workers=1, processes=False, dashboard_address=None),
        ),
    )  # fmt: skip
    other_seed = dagen.generate(cfg, 300, None, client=client,
                                settings=dagen.RunSettings(row_group_size=100, seed=43))  # fmt: skip

    a, b, c = (r.to_pandas().drop(columns=["customer_id"]) for r in (*runs, single_worker))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert runs[0].to_pandas()["customer_id"].equals(single_worker.to_pandas()["customer_id"])
    assert not other_seed.to_pandas()["age"].equals(runs[0].to_pandas()["age"])


def test_a_failing_cell_drops_its_row_only_and_downstream_never_sees_it(client, tmp_path):
    cfg = numbers_config(
        checked={"name": "checked", "column_type": "custom",
                 "function": "scenario_functions:fail_on_multiples_of_seven", "required_columns": ["n"]},
        after={"name": "after", "column_type": "custom",
               "function": "scenario_functions:must_not_see_dropped"},
    )  # fmt: skip
    out = tmp_path / "drops"

    result = dagen.generate(
        cfg, 50, out, client=client, settings=dagen.RunSettings(row_group_size=20)
    )

    df = pd.read_parquet(out / "data")
    expected = [n for n in range(50) if n % 7 != 0]
    assert df["n"].tolist() == expected
    assert (df["after"] == df["n"] + 1).all()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["rows_dropped"] == 50 - len(expected)
    dropped = sorted(d["global_row"] for d in meta["dropped_rows"])
    assert dropped == [n for n in range(50) if n % 7 == 0]
    first = next(d for d in meta["dropped_rows"] if d["global_row"] == 14)
    assert first["column"] == "checked" and first["error_type"] == "ValueError"
    assert "n=14 is a multiple of seven" in first["message"]
    assert meta["drop_summary"] == [{"column": "checked", "error_type": "ValueError", "rows": 8}]
    assert len(result.dropped) == 8


def test_a_full_column_function_returning_the_wrong_length_drops_its_row_group(client):
    cfg = numbers_config(
        bad={"name": "bad", "column_type": "custom", "function": "scenario_functions:wrong_length",
             "generation_strategy": "full_column", "required_columns": ["n"]},
    )  # fmt: skip

    result = dagen.generate(
        cfg, 30, None, client=client, settings=dagen.RunSettings(row_group_size=10)
    )

    assert result.num_records == 0
    reasons = {d["message"] for d in result.dropped}
    assert len(result.dropped) == 30
    assert any(
        "column 'bad'" in m and "row group" in m and "1 values for 10 rows" in m for m in reasons
    )


def test_columns_that_read_only_each_other_run_as_one_task_with_the_same_data(client, monkeypatch):
    cfg = dagen.DatasetConfig.from_dict({"seed": 3, "columns": [
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "age", "column_type": "sampler", "sampler_type": "uniform",
         "params": {"low": 18, "high": 90}, "convert_to": "int"},
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "label", "column_type": "expression", "expr": "{{ city }}-{{ age }}-{{ n }}"},
        {"name": "doubled", "column_type": "custom", "function": "scenario_functions:double"},
    ]})  # fmt: skip
    settings = dagen.RunSettings(row_group_size=25)
    with get_task_stream(client=client) as stream:
        fused = dagen.generate(cfg, 100, None, client=client, settings=settings)
    monkeypatch.setattr(plan, "fused_columns", lambda graph, fusable: ())
    with get_task_stream(client=client) as unfused_stream:
        unfused = dagen.generate(cfg, 100, None, client=client, settings=settings)

    pd.testing.assert_frame_equal(fused.to_pandas(), unfused.to_pandas())
    assert fused.to_pandas()["n"].tolist() == list(range(100))

    def tasks_per_group(records):
        return Counter(key_split(t["key"]) for t in records)

    # the four full-column columns: 1 task per row group instead of 4
    cells = {"doubled": 4, "doubled.rows": 4, "row_group": 4}
    assert tasks_per_group(stream.data) == {"city+age+n+label": 4, **cells}
    unfused_tasks = {"city": 4, "age": 4, "n": 4, "label": 4, **cells}
    assert tasks_per_group(unfused_stream.data) == unfused_tasks


def test_a_fused_column_that_always_fails_stops_the_run_naming_it_not_its_neighbours(client):
    cfg = dagen.DatasetConfig.from_dict({"seed": 3, "columns": [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "bad", "column_type": "custom", "function": "scenario_functions:wrong_length",
         "generation_strategy": "full_column", "required_columns": ["n"]},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima"]}},
    ]})  # fmt: skip
    assert dagen.describe(cfg, 10, dagen.RunSettings())["columns"][0]["fused_with"] == [
        "bad",
        "city",
    ]

    with pytest.raises(dagen.EarlyShutdownError, match=r"cells of column 'bad' failed"):
        dagen.generate(
            cfg, 2_000, None, client=client, settings=dagen.RunSettings(row_group_size=50)
        )


def test_stateful_column_sees_row_groups_in_order_in_one_process(client):
    cfg = dagen.DatasetConfig.from_dict({"columns": [
        {"name": "row_id", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "history", "column_type": "custom", "function": "scenario_functions:row_group_order",
         "generation_strategy": "full_column", "stateful": True},
    ]})  # fmt: skip

    df = dagen.generate(
        cfg,
        60,
        None,
        client=client,
        settings=dagen.RunSettings(row_group_size=10, max_concurrent_row_groups=6),
    ).to_pandas()

    histories = df.groupby(df["row_id"] // 10)["history"].first().tolist()
    pids = {h.split(":")[0] for h in histories}
    assert len(pids) == 1
    for k, history in enumerate(histories):
        seen = [int(s) for s in history.split(":")[1].split(",")]
        assert seen[-(k + 1) :] == [10 * i for i in range(k + 1)]


def test_an_existing_output_folder_is_kept_unless_overwrite(client, tmp_path):
    out = tmp_path / "kept"
    cfg = numbers_config()
    dagen.generate(cfg, 10, out, client=client)
    before = (out / "data" / "part-000000.parquet").read_bytes()

    with pytest.raises(OutputDirError, match=r"not empty.*--overwrite"):
        dagen.generate(cfg, 10, out, client=client)
    assert (out / "data" / "part-000000.parquet").read_bytes() == before

    dagen.generate(cfg, 5, out, client=client, overwrite=True)
    assert len(pd.read_parquet(out / "data")) == 5


def test_preview_returns_rows_and_writes_nothing(tmp_path, examples, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = dagen.load_config(examples / "people.yaml")

    rows = dagen.preview(cfg, n=4)

    assert len(rows) == 4 and "greeting" in rows.columns
    assert list(tmp_path.iterdir()) == []


def test_seed_dataset_columns_feed_other_columns(client, examples):
    cfg = dagen.load_config(examples / "qa_from_seed.yaml")

    df = dagen.generate(
        cfg, 20, None, client=client, settings=dagen.RunSettings(row_group_size=8)
    ).to_pandas()

    seed = pd.read_csv(examples / "data" / "questions.csv")
    assert set(zip(df["topic"], df["question"], strict=True)) <= set(
        zip(seed["topic"], seed["question"], strict=True)
    )
    assert df["question"].iloc[:8].nunique() == 8  # a shuffle: every seed row once per pass
    assert all(
        a.startswith(f'"Answer this {t} question')
        for t, a in zip(df["topic"], df["answer"], strict=True)
    )
    assert (df["answer_words"] == df["answer"].str.split().str.len()).all()
    assert "seed" not in df.columns  # the generator's name is not a column


def test_a_bad_config_with_overwrite_leaves_the_existing_dataset_alone(client, tmp_path):
    out = tmp_path / "kept"
    dagen.generate(numbers_config(), 10, out, client=client)
    before = pd.read_parquet(out / "data")
    broken = numbers_config(
        bad={
            "name": "bad",
            "column_type": "custom",
            "function": "scenario_functions:no_such_function",
        }
    )

    with pytest.raises(dagen.ConfigError, match="no attribute 'no_such_function'"):
        dagen.generate(broken, 10, out, client=client, overwrite=True)

    pd.testing.assert_frame_equal(pd.read_parquet(out / "data"), before)


def test_the_summary_says_what_orchestrators_report(client, tmp_path):
    result = dagen.generate(numbers_config(), 30, tmp_path / "s", client=client,
                            settings=dagen.RunSettings(row_group_size=20))  # fmt: skip

    summary = result.summary()

    assert summary["output_dir"] == str(tmp_path / "s")
    assert (summary["rows_written"], summary["rows_dropped"], summary["status"]) == (
        30,
        0,
        "complete",
    )
    assert summary["fingerprint"] == numbers_config().fingerprint() and summary["wall_seconds"] > 0
