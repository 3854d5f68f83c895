"""The run report in a real headless browser: its numbers are the run's, and it is offline.

One run on the session's LocalCluster, calling the real mock model server (latency 0.1 s,
so the run lasts a few seconds and its timeline has samples): 120 rows in 4 row groups; a
column with nulls (every third row), a column that drops every seventh row, a category
sampler, an LLM text column and a judge. The report is opened from its file with every
request that is not ``file://`` aborted; screenshots go to ``artifacts/report/``.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = pytest.mark.cluster

ROWS = 120


@pytest.fixture(scope="module")
def slow_llm():
    with MockServerProcess(MockServerSettings(port=0, latency=0.1)) as process:
        yield process


@pytest.fixture(scope="module")
def run(slow_llm, client, tmp_path_factory):
    """The run's result (written under a module temporary folder)."""
    models = [
        {"alias": alias, "model": f"mock-{alias}", "endpoint": slow_llm.url,
         "max_parallel_requests": 4}
        for alias in ("writer", "judge")
    ]  # fmt: skip
    columns = [
        {"name": "n", "column_type": "custom", "function": "scenario_functions:row_ids",
         "generation_strategy": "full_column", "required_columns": []},
        {"name": "maybe", "column_type": "custom",
         "function": "scenario_functions:none_on_multiples_of_three", "required_columns": ["n"]},
        {"name": "checked", "column_type": "custom",
         "function": "scenario_functions:fail_on_multiples_of_seven", "required_columns": ["n"]},
        {"name": "product", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["kettle", "lamp", "shoes"]}},
        {"name": "review", "column_type": "llm-text", "model_alias": "writer",
         "prompt": "Review the {{ product }} number {{ n }}."},
        {"name": "quality", "column_type": "llm-judge", "model_alias": "judge",
         "prompt": "Judge: {{ review }}",
         "scores": [{"name": "realism", "description": "Real?",
                     "options": {1: "no", 2: "somewhat", 3: "yes"}}]},
    ]  # fmt: skip
    cfg = dagen.DatasetConfig.from_dict({"seed": 5, "models": models, "columns": columns})
    out = tmp_path_factory.mktemp("report") / "out"
    # in a thread of its own: the module's browser (playwright's sync API) runs an event
    # loop in this one, which generate() would rightly warn it blocks
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            dagen.generate, cfg, ROWS, out, client=client,
            settings=dagen.RunSettings(row_group_size=30),
        ).result()  # fmt: skip


def _number(text: str) -> int:
    return int(text.replace(",", "").strip())


def _open(page, path):
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page


def test_the_page_shows_the_runs_numbers_and_needs_no_network(run, offline_page, screenshot):
    meta = run.metadata
    frame = run.to_pandas()
    assert meta["rows_dropped"] == len([n for n in range(ROWS) if n % 7 == 0])  # the scenario
    assert frame["maybe"].isna().sum() > 0

    path = run.report()

    assert path == run.output_dir / "report.html"
    page = _open(offline_page, path)
    screenshot(page, "report/run")
    assert page.attempted == []  # nothing but the file itself was asked for
    text = lambda selector: page.locator(selector).inner_text()  # noqa: E731
    assert _number(text("[data-testid=rows-written]")) == meta["rows_written"] == len(frame)
    assert _number(text("[data-testid=rows-dropped]")) == meta["rows_dropped"]
    assert _number(text("[data-testid=num-records]")) == ROWS
    assert text("[data-testid=status]") == "complete"
    for column in frame.columns:
        row = f"tr[data-column='{column}']"
        nulls = _number(text(f"{row} [data-field=nulls]"))
        assert nulls == meta["rows_written"] - meta["columns"][column], column
        assert nulls == int(frame[column].isna().sum()), column
        assert _number(text(f"{row} [data-field=rows]")) == len(frame)
    assert _number(text("tr[data-column='product'] [data-field=distinct]")) == 3
    assert (
        _number(text("tr[data-drop='checked:ValueError'] [data-field=rows]"))
        == meta["rows_dropped"]
    )
    for alias, usage in meta["usage"].items():
        for field in ("requests", "successes", "failures", "prompt_tokens", "completion_tokens"):
            shown = text(f"tr[data-model='{alias}'] [data-field={field}]")
            assert _number(shown) == usage[field], (alias, field)
    assert meta["usage"]["writer"]["successes"] == ROWS  # the review reads no dropping column


def test_judge_scores_add_up_to_the_rows_scored(run, offline_page):
    frame = run.to_pandas()
    scores = frame["quality"].map(lambda q: q["realism"]["score"]).value_counts()
    page = _open(offline_page, run.report())

    judge = page.locator("[data-judge='quality.realism']")
    for option, label in ((1, "no"), (2, "somewhat"), (3, "yes")):
        bar = judge.locator("title", has_text=f"{option}: {label}: ")
        assert bar.count() == 1  # every rubric option is drawn, even one nobody got
        assert _number(bar.text_content().rsplit(":", 1)[1]) == scores.get(option, 0)


def test_models_over_time_come_from_the_timeline(run, offline_page, screenshot):
    samples = run.metadata["timeline"]["samples"]
    assert samples, "the run should have lasted long enough for a sample"
    page = _open(offline_page, run.report())
    screenshot(page, "report/models")

    assert page.locator("[data-testid=no-timeline]").count() == 0
    for alias in ("writer", "judge"):
        peak = max(s["models"].get(alias, {}).get("in_flight", 0) for s in samples)
        assert _number(page.locator(f"[data-testid=peak-in-flight-{alias}]").inner_text()) == peak
        assert peak <= 4  # never above the cap
    assert page.locator("#models svg.lines polyline").count() >= 2


def test_a_dataset_without_a_timeline_says_so_and_shows_everything_else(
    run, tmp_path, offline_page, screenshot
):
    old = tmp_path / "old"
    shutil.copytree(run.output_dir, old)
    meta = json.loads((old / "metadata.json").read_text())
    del meta["timeline"]  # as written before dagen recorded one
    (old / "metadata.json").write_text(json.dumps(meta))

    page = _open(offline_page, dagen.write_report(old))
    screenshot(page, "report/no-timeline")

    assert "no timeline" in page.locator("[data-testid=no-timeline]").inner_text()
    assert _number(page.locator("[data-testid=rows-written]").inner_text()) == meta["rows_written"]
    assert page.locator("tr[data-column='maybe']").count() == 1
    assert page.attempted == []


def test_statistics_are_those_of_the_whole_dataset(run):
    """Part by part, combined: the same figures as pandas over the whole frame."""
    from dagen.report import OutputFolder
    from dagen.report.stats import DatasetStats

    folder = OutputFolder(run.output_dir)
    assert len(folder.parts) == 4  # the statistics below are combined over parts
    stats = DatasetStats.from_parts(folder.schema, folder.columns).fields
    frame: pd.DataFrame = run.to_pandas()

    maybe = frame["maybe"].dropna()
    assert stats["maybe"].nulls == frame["maybe"].isna().sum()
    assert stats["maybe"].distinct == maybe.nunique()
    assert (stats["maybe"].low, stats["maybe"].high) == (maybe.min(), maybe.max())
    assert stats["maybe"].mean == pytest.approx(maybe.mean())
    lengths = frame["review"].str.len()
    assert (stats["review"].low, stats["review"].high) == (lengths.min(), lengths.max())
    assert sum(stats["review"].bins) == len(frame)
    assert dict(stats["product"].counts) == frame["product"].value_counts().to_dict()
