"""What a dataset cost: usage counted per row group where the calls are made, priced, kept
across resumes, and a spending cap that stops a run and lets it carry on.

Every total is checked against the tokens the mock server itself counted (``/stats``).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import dagen
from dagen.errors import BudgetExceededError, CallbackError, ConfigValidationError

pytestmark = pytest.mark.cluster

PRICES = {
    "writer": {"input_per_million": 3.0, "output_per_million": 15.0},
    "judge": {"input_per_million": 0.5, "output_per_million": 2.0},
}


def config(server, *, priced=("writer", "judge")) -> dagen.DatasetConfig:
    models = [
        {"alias": alias, "model": f"mock-{alias}", "endpoint": server.url,
         "max_parallel_requests": 8, **({"pricing": PRICES[alias]} if alias in priced else {})}
        for alias in ("writer", "judge")
    ]  # fmt: skip
    columns = [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "story", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Tell a short story about row {{ n }} in {{ city }}."},
        {"name": "review", "column_type": "llm-text", "model_alias": "judge",
         "prompt": "Review this story: {{ story }}"},
        # a sync custom function calling a model through its handle (from a thread)
        {"name": "summary", "column_type": "custom", "function": "scenario_functions:summarise_with_model",
         "model_aliases": ["writer"]},
    ]  # fmt: skip
    return dagen.DatasetConfig.from_dict({"seed": 11, "models": models, "columns": columns})


def metadata(out) -> dict:
    return json.loads((out / "metadata.json").read_text())


def served(server) -> dict[str, dict[str, int]]:
    """Calls and tokens the mock server answered, per model alias."""
    by_model = server.stats()["by_model"]
    return {
        model.removeprefix("mock-"): {
            "calls": c["completed"],
            "prompt_tokens": c["prompt_tokens"],
            "completion_tokens": c["completion_tokens"],
        }
        for model, c in by_model.items()
    }


def priced(tokens: dict[str, dict[str, int]]) -> dict[str, float]:
    return {
        alias: (t["prompt_tokens"] * PRICES[alias]["input_per_million"]
                + t["completion_tokens"] * PRICES[alias]["output_per_million"]) / 1e6
        for alias, t in tokens.items()
    }  # fmt: skip


def added(a: dict, b: dict) -> dict:
    return {
        alias: {k: a.get(alias, {}).get(k, 0) + b.get(alias, {}).get(k, 0) for k in
                ("calls", "prompt_tokens", "completion_tokens")}
        for alias in {*a, *b}
    }  # fmt: skip


def assert_ledger_consistent(meta: dict) -> None:
    """Totals are the sums of the row groups' records, by model and by column alike."""
    cost = meta["cost"]
    records = [rg["cost"] for rg in meta["row_groups"]]
    assert cost["currency"] == "USD"
    assert cost["total"] == pytest.approx(sum(r["total"] for r in records))
    assert sum(cost["by_model"].values()) == pytest.approx(cost["total"])
    assert sum(cost["by_column"].values()) == pytest.approx(cost["total"])
    for alias, usd in cost["by_model"].items():
        assert usd == pytest.approx(sum(r["by_model"].get(alias, 0) for r in records))
    assert cost["by_model"] == pytest.approx(priced(cost["tokens"]))
    assert cost["spent"] == pytest.approx(cost["total"] + cost["discarded"]["total"])


class StopAfter:
    """An ``on_row_group`` callback that interrupts the run after ``n`` row groups."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def __call__(self, event) -> None:
        self.seen += 1
        if self.seen > self.n:
            raise RuntimeError("interrupted on purpose")


def test_cost_is_tokens_times_prices_after_a_run_interrupted_twice_and_resumed(
    server, client, tmp_path
):
    cfg, out = config(server), tmp_path / "out"
    settings = dagen.RunSettings(row_group_size=10, max_concurrent_row_groups=3)
    fresh = dagen.generate(cfg, 80, tmp_path / "fresh", client=client, settings=settings)
    paid_fresh = served(server)  # what the server answered for the whole dataset, once
    assert fresh.metadata["cost"]["tokens"] == paid_fresh
    assert fresh.metadata["cost"]["discarded"]["total"] == 0
    server.reset()
    for stop in (2, 2):
        with pytest.raises(CallbackError):
            dagen.generate(cfg, 80, out, client=client, settings=settings, resume=out.exists(),
                           on_row_group=StopAfter(stop))  # fmt: skip
    interrupted = metadata(out)
    assert interrupted["status"] == "stopped"
    assert_ledger_consistent(interrupted)
    kept_before = {rg["index"]: rg["cost"] for rg in interrupted["row_groups"]}

    result = dagen.generate(cfg, 80, out, client=client, settings=settings, resume=True)

    meta = result.metadata
    assert meta["status"] == "complete" and meta["rows_written"] == 80
    assert_ledger_consistent(meta)
    # a kept row group's record is never rewritten nor counted twice
    for rg in meta["row_groups"]:
        if rg["index"] in kept_before:
            assert rg["cost"] == kept_before[rg["index"]]
    # the dataset holds exactly the calls of its rows: what one fresh run paid
    dataset, discarded = meta["cost"]["tokens"], meta["cost"]["discarded"]["tokens"]
    assert dataset == paid_fresh
    assert dataset["writer"]["calls"] == 160 and dataset["judge"]["calls"] == 80  # 2 + 1 a row
    # the interrupted row groups' calls were paid too: counted apart, never more than the
    # server answered (a call in flight when a run stopped is not seen by its client)
    assert sum(t["calls"] for t in discarded.values()) > 0
    answered = served(server)
    for alias, counts in added(dataset, discarded).items():
        assert all(n <= answered[alias][k] for k, n in counts.items())
    assert meta["cost"]["by_column"].keys() == {"story", "review", "summary"}
    assert meta["cost"]["by_column"]["review"] == pytest.approx(meta["cost"]["by_model"]["judge"])
    cost = result.cost
    assert cost.total == pytest.approx(sum(priced(dataset).values()))
    assert cost.total == pytest.approx(fresh.cost.total)
    assert cost.discarded == pytest.approx(sum(priced(discarded).values()))
    assert "total=$" in repr(cost) and "writer" in repr(result)


def test_a_model_without_pricing_has_its_tokens_counted_and_is_named(server, client, tmp_path):
    out = tmp_path / "out"
    result = dagen.generate(config(server, priced=("judge",)), 20, out, client=client,
                            settings=dagen.RunSettings(row_group_size=10))  # fmt: skip

    cost = metadata(out)["cost"]
    assert cost["unpriced"] == ["writer"]
    assert cost["tokens"]["writer"]["calls"] == 40  # counted all the same
    assert cost["by_model"].keys() == {"judge"}
    assert result.cost.unpriced == ("writer",)
    assert "no pricing for writer" in result.cost.summary()
    page = result.report().read_text()  # the run report shows it too
    assert 'data-field="cost">no pricing<' in page
    assert f'data-field="cost">${cost["by_model"]["judge"]:,.4f}<' in page
    assert "cost (USD)" in page


def test_max_cost_needs_a_price_for_every_model_it_calls(server, client, tmp_path):
    settings = dagen.RunSettings(max_cost=1.0)
    with pytest.raises(ConfigValidationError, match="model 'writer' has no pricing"):
        dagen.generate(config(server, priced=("judge",)), 20, tmp_path / "out", client=client,
                       settings=settings)  # fmt: skip
    assert not (tmp_path / "out").exists()
    assert server.stats()["requests"] == 0


def test_max_cost_stops_within_a_row_group_of_the_cap_and_resumes_with_a_higher_one(
    server, client, tmp_path
):
    cfg = config(server)
    settings = dict(row_group_size=10, max_concurrent_row_groups=4)
    reference = dagen.generate(cfg, 100, tmp_path / "reference", client=client,
                               settings=dagen.RunSettings(**settings))  # fmt: skip
    groups = [rg["cost"]["total"] for rg in reference.metadata["row_groups"]]
    cap = 0.45 * sum(groups)
    server.reset()
    out = tmp_path / "out"

    with pytest.raises(BudgetExceededError, match=r"--resume --max-cost") as stopped:
        dagen.generate(cfg, 100, out, client=client,
                       settings=dagen.RunSettings(**settings, max_cost=cap))  # fmt: skip

    meta = metadata(out)
    spent = meta["cost"]["spent"]
    assert meta["status"] == "stopped" and "BudgetExceededError" in meta["stop_reason"]
    assert cap - max(groups) <= spent <= cap
    assert stopped.value.spent == pytest.approx(spent) and stopped.value.cap == cap
    assert meta["cost"]["cap"] == cap
    assert 0 < meta["rows_written"] < 100
    assert_ledger_consistent(meta)

    # the same cap again: said at once, nothing called
    server.reset()
    with pytest.raises(BudgetExceededError):
        dagen.generate(cfg, 100, out, client=client, resume=True,
                       settings=dagen.RunSettings(**settings, max_cost=spent))  # fmt: skip
    assert server.stats()["requests"] == 0

    result = dagen.generate(cfg, 100, out, client=client, resume=True,
                            settings=dagen.RunSettings(**settings, max_cost=10 * cap))  # fmt: skip

    meta = result.metadata
    assert meta["status"] == "complete" and meta["rows_written"] == 100
    assert_ledger_consistent(meta)
    assert result.cost.total == pytest.approx(sum(groups))  # same data, same tokens
    pd.testing.assert_frame_equal(result.to_pandas(), reference.to_pandas())
