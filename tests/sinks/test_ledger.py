"""The cost ledger's arithmetic: usage priced per model and column, summed, what was lost."""

from __future__ import annotations

import pytest

from dagen.config.models import Pricing
from dagen.sinks.ledger import Cost, priced, totals, unrecorded

PRICES = {
    "writer": Pricing(input_per_million=3.0, output_per_million=15.0),
    "embedder": Pricing(input_per_million=0.02),
    "local": None,
}


def tokens(calls: int, prompt: int, completion: int = 0) -> dict[str, int]:
    return {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion}


def test_cost_is_tokens_times_prices_by_model_and_by_column():
    usage = {
        "story": {"writer": tokens(10, 2_000, 5_000)},
        "summary": {"writer": tokens(10, 1_000, 1_000), "local": tokens(3, 9, 9)},
        "vector": {"embedder": tokens(10, 4_000)},
    }
    cost = priced(usage, PRICES)
    assert cost["by_model"] == pytest.approx(
        {"writer": (3_000 * 3 + 6_000 * 15) / 1e6, "embedder": 4_000 * 0.02 / 1e6}
    )
    assert cost["by_column"]["story"] == pytest.approx((2_000 * 3 + 5_000 * 15) / 1e6)
    assert cost["total"] == pytest.approx(sum(cost["by_model"].values()))
    assert cost["unpriced"] == ["local"]  # named, not counted as free


def test_totals_sum_row_groups_and_keep_the_unpriced_models():
    a = priced({"c": {"writer": tokens(1, 1_000_000)}}, PRICES)
    b = priced({"c": {"local": tokens(1, 5)}, "d": {"writer": tokens(1, 0, 1_000_000)}}, PRICES)
    total = totals([a, b])
    assert total["total"] == pytest.approx(18.0)
    assert total["by_column"] == pytest.approx({"c": 3.0, "d": 15.0})
    assert total["unpriced"] == ["local"]


def test_what_a_run_paid_beyond_its_records_is_what_it_discarded():
    run = {"writer": {"successes": 12, "prompt_tokens": 120, "completion_tokens": 60,
                      "failures": 2}, "judge": {"successes": 4, "prompt_tokens": 40}}  # fmt: skip
    recorded = {"writer": tokens(10, 100, 50), "judge": tokens(4, 40, 0)}
    assert unrecorded(run, recorded) == {"writer": tokens(2, 20, 10)}


def test_the_cost_value_reads_the_metadata_and_shows_dollars():
    cost = Cost.from_metadata({"cost": {"total": 1.5, "by_model": {"writer": 1.5},
                                        "by_column": {"story": 1.5},
                                        "discarded": {"total": 0.25}, "unpriced": ["local"]}})  # fmt: skip
    assert cost.spent == pytest.approx(1.75)
    assert repr(cost) == (
        "Cost(total=$1.5000, by_model={writer: $1.5000}, by_column={story: $1.5000}, "
        "discarded=$0.2500, unpriced=['local'])"
    )
    assert Cost(unpriced=("judge", "writer")).summary() == (
        "unknown: no pricing for judge, writer (tokens are counted)"
    )  # not "$0.0000": nothing was priced
    assert cost.summary() == (
        "$1.5000 (writer $1.5000), $0.2500 more on discarded calls; no pricing for local"
    )
    assert Cost.from_metadata({}) == Cost()  # an output written before costs were kept
