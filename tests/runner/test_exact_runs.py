"""The filter processor and exact runs, end to end on a real LocalCluster and the mock server.

An exact run's ``-n`` counts rows written: every test checks the rows on disk (how many,
in which order, that each passes the filter) and what ``metadata.json`` says.
"""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest

import dagen
from dagen.errors import CallbackError, EarlyShutdownError, ResumeError

pytestmark = pytest.mark.cluster

ROW_IDS = {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
           "generation_strategy": "full_column", "required_columns": []}  # fmt: skip
X = {"name": "x", "column_type": "sampler", "sampler_type": "uniform",
     "params": {"low": 0, "high": 1}}  # fmt: skip


def config(keep_when: str = "{{ x < 0.3 }}", *columns: dict, models=()) -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict({
        "seed": 11,
        "models": list(models),
        "columns": [ROW_IDS, X, *columns],
        "processors": [{"processor_type": "filter", "name": "low_x", "keep_when": keep_when}],
    })  # fmt: skip


def settings(**changes) -> dagen.RunSettings:
    return dagen.RunSettings(**{"row_group_size": 100, "exact": True, **changes})


def metadata(out) -> dict:
    return json.loads((out / "metadata.json").read_text())


def assert_exact_and_in_order(out, rows: int) -> pd.DataFrame:
    df = pd.read_parquet(out / "data")
    assert len(df) == rows
    assert df["n"].is_monotonic_increasing and df["n"].is_unique  # in row order, once each
    assert (df["x"] < 0.3).all()
    meta = metadata(out)
    assert (meta["status"], meta["exact"], meta["num_records"]) == ("complete", True, rows)
    assert meta["rows_written"] == rows
    groups = meta["row_groups"]
    assert [rg["index"] for rg in groups] == list(range(len(groups)))
    assert all(g["start"] + g["size"] == h["start"] for g, h in itertools.pairwise(groups))
    assert all(rg["rows"] + rg["dropped"] == rg["size"] for rg in groups)
    return df


def test_a_filter_alone_drops_the_rows_it_does_not_keep_and_records_why(client, tmp_path):
    out = tmp_path / "out"
    result = dagen.generate(config(), 500, out, client=client, settings=settings(exact=False))

    df = result.to_pandas()
    meta = metadata(out)
    assert (df["x"] < 0.3).all() and 100 < len(df) < 200  # about 30 % of 500
    assert meta["rows_written"] + meta["rows_dropped"] == 500
    assert meta["drop_summary"] == [
        {"column": "low_x", "error_type": "filtered", "rows": 500 - len(df)}
    ]
    dropped = meta["dropped_rows"][0]
    assert dropped["error_type"] == "filtered" and "x < 0.3" in dropped["message"]
    assert set(df["n"]).isdisjoint(d["global_row"] for d in meta["dropped_rows"])


def test_a_condition_failing_on_some_rows_drops_only_those(client, tmp_path):
    cfg = config("{{ (1 / (n % 7)) > 0 }}")  # rows with n % 7 == 0 divide by zero
    result = dagen.generate(cfg, 140, None, client=client, settings=settings(exact=False))

    df = result.to_pandas()
    assert sorted(df["n"]) == [n for n in range(140) if n % 7]
    summary = result.metadata["drop_summary"]
    assert summary == [{"column": "low_x", "error_type": "ZeroDivisionError", "rows": 20}]


def test_an_exact_run_writes_exactly_n_rows_in_order_paying_for_little_more(
    client, tmp_path, server
):
    judge = {"name": "note", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "Describe {{ x }} (row {{ n }})."}  # fmt: skip
    models = [{"alias": "writer", "model": "mock-writer", "endpoint": server.url,
               "max_parallel_requests": 16}]  # fmt: skip
    out = tmp_path / "out"

    dagen.generate(config("{{ x < 0.3 }}", judge, models=models), 300, out, client=client,
                   settings=settings(row_group_size=50))  # fmt: skip

    assert_exact_and_in_order(out, 300)
    meta = metadata(out)
    kept = sum(rg["rows"] for rg in meta["row_groups"])
    generated = sum(rg["size"] for rg in meta["row_groups"])
    keep_rate = kept / generated  # as realized, about 0.3
    assert 0.2 < keep_rate < 0.4
    calls = server.stats()["by_model"]["mock-writer"]["requests"]
    assert calls <= 1.15 * 300 / keep_rate, (calls, keep_rate)


def test_an_exact_run_interrupted_and_resumed_ends_with_exactly_n(client, tmp_path):
    out = tmp_path / "out"
    seen: list[int] = []

    def stop_at_the_third(event: dagen.RowGroupEvent) -> None:
        if event.index == 2:
            raise RuntimeError("interrupted")
        seen.append(event.rows)

    with pytest.raises(CallbackError):
        dagen.generate(config(), 400, out, client=client, settings=settings(),
                       on_row_group=stop_at_the_third)  # fmt: skip
    before = metadata(out)
    assert before["status"] == "stopped" and before["rows_written"] == sum(seen)
    kept = {p.name: p.read_bytes() for p in (out / "data").glob("part-*.parquet")}

    with pytest.raises(ResumeError, match="-n must be at least"):
        dagen.generate(config(), sum(seen) - 1, out, client=client, resume=True,
                       settings=settings())  # fmt: skip
    # --exact is implied by the metadata of an exact run
    dagen.generate(config(), 400, out, client=client, resume=True,
                   settings=settings(exact=False))  # fmt: skip

    assert_exact_and_in_order(out, 400)
    for name, data in kept.items():  # the row groups written were kept, not regenerated
        if name in {f"part-{rg['index']:06d}.parquet" for rg in before["row_groups"]}:
            assert (out / "data" / name).read_bytes() == data
    grown = dagen.generate(config(), 450, out, client=client, resume=True, settings=settings())
    assert grown.num_records == 450
    assert_exact_and_in_order(out, 450)


def test_a_dataset_written_without_exact_cannot_be_resumed_with_it(client, tmp_path):
    out = tmp_path / "out"
    dagen.generate(config(), 200, out, client=client, settings=settings(exact=False))
    with pytest.raises(ResumeError, match="not written by an --exact run"):
        dagen.generate(config(), 300, out, client=client, resume=True, settings=settings())


def test_a_filter_keeping_nothing_stops_with_an_error_naming_it(client, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(EarlyShutdownError) as info:
        dagen.generate(config("{{ x > 2 }}"), 50, out, client=client, settings=settings())
    message = str(info.value)
    assert "--exact" in message and "'low_x' filtered" in message
    meta = metadata(out)
    assert meta["status"] == "stopped" and meta["rows_written"] == 0
    assert meta["drop_summary"][0]["column"] == "low_x"


def test_an_exact_run_under_a_budget_stops_within_a_row_group_and_resumes_to_exactly_n(
    client, tmp_path, server
):
    note = {"name": "note", "column_type": "llm-text", "model_alias": "writer",
            "prompt": "Describe {{ x }} (row {{ n }})."}  # fmt: skip
    models = [{"alias": "writer", "model": "mock-writer", "endpoint": server.url,
               "pricing": {"input_per_million": 1000.0, "output_per_million": 1000.0}}]  # fmt: skip
    cfg, out = config("{{ x < 0.3 }}", note, models=models), tmp_path / "out"
    whole = dagen.generate(cfg, 150, tmp_path / "whole", client=client, settings=settings())
    per_group = max(rg["cost"]["total"] for rg in whole.metadata["row_groups"])
    cap = whole.cost.total / 2

    with pytest.raises(dagen.BudgetExceededError):
        dagen.generate(cfg, 150, out, client=client, settings=settings(max_cost=cap))
    stopped = metadata(out)
    assert stopped["status"] == "stopped" and 0 < stopped["rows_written"] < 150
    assert cap - per_group <= stopped["cost"]["spent"] <= cap + 1e-9

    dagen.generate(cfg, 150, out, client=client, resume=True, settings=settings(max_cost=10 * cap))

    assert_exact_and_in_order(out, 150)


def test_an_exact_output_cannot_be_updated(client, tmp_path):
    out = tmp_path / "out"
    dagen.generate(config(), 100, out, client=client, settings=settings())
    with pytest.raises(ValueError, match="update cannot make an exact run"):
        dagen.generate(config(), 100, out, client=client, settings=settings(), update=True)
    with pytest.raises(dagen.UpdateError, match="written by an --exact run"):
        dagen.generate(config("{{ x < 0.2 }}"), 100, out, client=client,
                       settings=settings(exact=False), update=True)  # fmt: skip
