"""``--update``: regenerate only what changed, against the real mock server on a real
LocalCluster, counting the calls at the server and comparing with fresh runs.

    judge prompt changed    one judge call per row, no writer call; equal to a fresh run
    sampler params changed  it and its dependants regenerate; equal to a fresh run
    interrupted update      continued by --update (or --resume) without calls for finished parts
    dry run                 says the plan, touches nothing, needs no cluster
    hostile outputs         no metadata, no fingerprints, other settings, partial drop list
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = pytest.mark.cluster

SETTINGS = dagen.RunSettings(row_group_size=4, seed=7)


@pytest.fixture(scope="module")
def llm_process():
    with MockServerProcess(MockServerSettings(port=0, latency=0.005)) as process:
        yield process


@pytest.fixture
def llm(llm_process):
    """The mock server, counters zeroed."""
    llm_process.set(latency=0.005, max_concurrency=None)
    llm_process.reset()
    return llm_process


def reviews(llm, judge_prompt="Rate this review: {{ review }}", topics=("tea", "coffee")):
    """A sampler topic, a writer column (model A) and a judge column (model B) reading it."""
    return dagen.DatasetConfig.model_validate({
        "models": [
            {"alias": "writer", "model": "mock-writer", "endpoint": llm.url},
            {"alias": "judge", "model": "mock-judge", "endpoint": llm.url},
        ],
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": list(topics)}},
            {"name": "review", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "Write a review about {{ topic }}."},
            {"name": "quality", "column_type": "llm-judge", "model_alias": "judge",
             "prompt": judge_prompt,
             "scores": [{"name": "realism", "description": "Is it real?",
                         "options": {1: "no", 2: "yes"}}]},
        ],
    })  # fmt: skip


def write(config: dagen.DatasetConfig, path: Path) -> Path:
    path.write_text(json.dumps(config.to_dict()))
    return path


def calls(llm) -> dict[str, int]:
    return {m: s["completed"] for m, s in llm.stats()["by_model"].items() if s["completed"]}


def frame(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "data")


def test_changing_only_the_judge_prompt_calls_the_judge_once_per_row_and_nothing_else(
    llm, client, tmp_path
):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    dagen.generate(reviews(llm), 10, out, client=client, settings=SETTINGS)
    before = frame(out)
    changed = reviews(llm, judge_prompt="Judge harshly: {{ review }}")
    plan = dagen.plan_update(changed, out)
    assert plan.regenerate == ("quality",) and dict(plan.calls) == {"judge": 10}
    llm.reset()

    result = dagen.generate(changed, 10, out, client=client, settings=SETTINGS, update=True)

    assert calls(llm) == {"mock-judge": 10}
    after = frame(out)
    assert after[["topic", "review"]].equals(before[["topic", "review"]])
    dagen.generate(changed, 10, fresh, client=client, settings=SETTINGS)
    pd.testing.assert_frame_equal(after, frame(fresh))
    meta = result.metadata
    assert meta["rows_written"] == 10 and meta["columns"]["quality"] == 10
    assert {rg["fingerprint"] for rg in meta["row_groups"]} == set(meta["fingerprints"])
    llm.reset()  # nothing left to do: no call, no cluster needed
    assert dagen.plan_update(changed, out).nothing_to_do
    dagen.generate(changed, 10, out, client=client, settings=SETTINGS, update=True)
    assert calls(llm) == {}


PRICES = {
    "writer": {"input_per_million": 3.0, "output_per_million": 15.0},
    "judge": {"input_per_million": 0.5, "output_per_million": 2.0},
}


def served_usd(llm) -> dict[str, float]:
    """What the tokens the mock server answered cost, per model alias."""
    return {
        model.removeprefix("mock-"): (
            s["prompt_tokens"] * PRICES[model.removeprefix("mock-")]["input_per_million"]
            + s["completion_tokens"] * PRICES[model.removeprefix("mock-")]["output_per_million"]
        ) / 1e6
        for model, s in llm.stats()["by_model"].items()
    }  # fmt: skip


def test_after_an_update_the_dataset_costs_its_values_and_the_replaced_calls_are_discarded(
    llm, client, tmp_path
):
    def priced(config: dagen.DatasetConfig) -> dagen.DatasetConfig:
        data = config.to_dict()
        for model in data["models"]:
            model["pricing"] = PRICES[model["alias"]]
        return dagen.DatasetConfig.from_dict(data)

    out = tmp_path / "out"
    first = dagen.generate(priced(reviews(llm)), 12, out, client=client, settings=SETTINGS)
    paid_first = served_usd(llm)
    assert first.cost.by_model == pytest.approx(paid_first)
    llm.reset()
    changed = priced(reviews(llm, judge_prompt="Judge harshly: {{ review }}"))

    result = dagen.generate(changed, 12, out, client=client, settings=SETTINGS, update=True)

    paid_update = served_usd(llm)
    assert paid_update.keys() == {"judge"}  # the writer was not called again
    cost = result.cost
    # the dataset: the writer calls of the first run and the judge calls of the update
    assert cost.by_model == pytest.approx({"writer": paid_first["writer"], **paid_update})
    assert cost.by_column == pytest.approx(
        {"review": paid_first["writer"], "quality": paid_update["judge"]}
    )
    # the first run's judge calls were paid, and their values replaced: discarded
    assert cost.discarded == pytest.approx(paid_first["judge"])
    assert cost.spent == pytest.approx(sum(paid_first.values()) + sum(paid_update.values()))
    records = result.metadata["row_groups"]
    assert sum(rg["cost"]["total"] for rg in records) == pytest.approx(cost.total)
    assert all(rg["usage"].keys() == {"review", "quality"} for rg in records)

    # a cap holds for all the output was paid; an update projects from its own calls only
    # (the writer's calls, which it does not make again, would make it stop far too soon)
    llm.reset()
    harsher = priced(reviews(llm, judge_prompt="Judge very harshly: {{ review }}"))
    cap = cost.spent + 2 * paid_update["judge"]
    again = dagen.generate(harsher, 12, out, client=client, update=True,
                           settings=dagen.RunSettings(row_group_size=4, seed=7, max_cost=cap))  # fmt: skip
    assert again.metadata["status"] == "complete"
    assert again.cost.spent <= cap and again.cost.discarded == pytest.approx(
        cost.discarded + paid_update["judge"]
    )


def test_a_changed_sampler_regenerates_itself_and_its_dependants_like_a_fresh_run(
    llm, client, tmp_path
):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    dagen.generate(reviews(llm), 8, out, client=client, settings=SETTINGS)
    changed = reviews(llm, topics=("juice", "water", "milk"))
    llm.reset()

    dagen.generate(changed, 8, out, client=client, settings=SETTINGS, update=True)

    assert calls(llm) == {"mock-writer": 8, "mock-judge": 8}
    assert set(frame(out)["topic"]) <= {"juice", "water", "milk"}
    dagen.generate(changed, 8, fresh, client=client, settings=SETTINGS)
    pd.testing.assert_frame_equal(frame(out), frame(fresh))


def test_an_interrupted_update_continues_without_calls_for_the_parts_it_finished(
    llm, client, tmp_path
):
    out = tmp_path / "out"
    dagen.generate(reviews(llm), 12, out, client=client, settings=SETTINGS)
    changed = reviews(llm, judge_prompt="Judge harshly: {{ review }}")

    def stop_after_the_first(event):
        if event.index == 1:
            raise RuntimeError("stopped by the test")

    with pytest.raises(dagen.CallbackError):
        dagen.generate(changed, 12, out, client=client, settings=SETTINGS, update=True,
                       on_row_group=stop_after_the_first)  # fmt: skip
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "stopped"
    current = dagen.plan_update(changed, out)
    assert sorted(current.updates) == [1, 2] and current.up_to_date == 1
    with pytest.raises(dagen.ResumeError, match="--update"):  # the old config cannot resume
        dagen.generate(reviews(llm, judge_prompt="x {{ review }}"), 12, out, client=client,
                       settings=SETTINGS, resume=True)  # fmt: skip
    llm.reset()

    dagen.generate(changed, 12, out, client=client, settings=SETTINGS, resume=True)

    assert calls(llm) == {"mock-judge": 8}  # the two row groups left, never the first
    fresh = tmp_path / "fresh"
    dagen.generate(changed, 12, fresh, client=client, settings=SETTINGS)
    pd.testing.assert_frame_equal(frame(out), frame(fresh))


def test_removed_and_dropped_columns_and_old_drops_survive_an_update(llm, client, tmp_path):
    out = tmp_path / "out"
    cfg = reviews(llm)
    data = cfg.to_dict()
    data["columns"][1]["drop"] = True  # review kept only in the dropped columns' dataset
    data["columns"].append({"name": "n", "column_type": "expression", "expr": "{{ topic }}!"})
    dagen.generate(dagen.DatasetConfig.model_validate(data), 8, out, client=client,
                   settings=SETTINGS)  # fmt: skip
    data["columns"] = data["columns"][:-1]  # n removed
    data["columns"][2]["prompt"] = "Judge harshly: {{ review }}"
    llm.reset()

    dagen.generate(dagen.DatasetConfig.model_validate(data), 8, out, client=client,
                   settings=SETTINGS, update=True)  # fmt: skip

    assert calls(llm) == {"mock-judge": 8}
    df = frame(out)
    assert list(df.columns) == ["topic", "quality"]
    side = pd.read_parquet(out / "dropped-columns-parquet-files")
    assert len(side) == 8 and side["review"].str.len().gt(0).all()


def test_a_dry_run_says_the_plan_and_touches_nothing(llm, client, tmp_path):
    out = tmp_path / "out"
    dagen.generate(reviews(llm), 8, out, client=client, settings=SETTINGS)
    changed = write(reviews(llm, judge_prompt="Judge harshly: {{ review }}"), tmp_path / "c.json")
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    llm.reset()

    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(changed), "-n", "8", "-o", str(out),
         "--update", "--dry-run"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "regenerate quality in 2 row groups (8 rows)" in done.stdout
    assert "at least 8 to judge" in done.stdout
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    assert calls(llm) == {}


def test_the_cli_says_the_plan_then_updates(llm, tmp_path):
    out = tmp_path / "out"
    base = write(reviews(llm), tmp_path / "base.json")
    changed = write(reviews(llm, judge_prompt="Judge harshly: {{ review }}"), tmp_path / "c.json")
    common = ["-n", "8", "-o", str(out), "--row-group-size", "4", "--workers", "1", "-q"]
    first = subprocess.run([sys.executable, "-m", "dagen.cli", "run", str(base), *common],
                           capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr
    llm.reset()

    done = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(changed), "-n", "8", "-o", str(out),
         "--update", "--workers", "1"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert f"dagen update {out}: regenerate quality" in done.stderr  # said before it runs
    assert done.stderr.index("regenerate quality") < done.stderr.index("100.0%")
    assert calls(llm) == {"mock-judge": 8}
    usage = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(changed), "-n", "8", "-o", str(out),
         "--update", "--resume"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert usage.returncode == 2 and "exclude each other" in usage.stderr


def test_outputs_that_cannot_be_updated_are_refused_naming_why(llm, client, tmp_path):
    cfg = reviews(llm)
    with pytest.raises(dagen.UpdateError, match="no dagen run metadata"):
        dagen.plan_update(cfg, tmp_path / "empty")
    out = tmp_path / "out"
    dagen.generate(cfg, 4, out, client=client, settings=SETTINGS)
    with pytest.raises(dagen.UpdateError, match="--row-group-size 4, not 2"):
        dagen.plan_update(cfg, out, settings=dagen.RunSettings(row_group_size=2))
    with pytest.raises(dagen.UpdateError, match="--seed 7, not 8"):
        dagen.plan_update(cfg, out, settings=dagen.RunSettings(row_group_size=4, seed=8))
    with pytest.raises(ValueError, match="update and resume exclude each other"):
        dagen.generate(cfg, 4, out, client=client, update=True, resume=True)
    meta_path = out / "metadata.json"
    meta = json.loads(meta_path.read_text())
    partial = {**meta, "rows_dropped": 3}
    meta_path.write_text(json.dumps(partial))
    with pytest.raises(dagen.UpdateError, match="lists only 0 of its 3 dropped rows"):
        dagen.plan_update(cfg, out)
    old = {k: v for k, v in meta.items() if k != "fingerprints"}
    meta_path.write_text(json.dumps(old))
    with pytest.raises(dagen.UpdateError, match="Run it fresh once with --overwrite"):
        dagen.plan_update(cfg, out)


def test_a_damaged_part_is_regenerated_whole(llm, client, tmp_path):
    out = tmp_path / "out"
    dagen.generate(reviews(llm), 8, out, client=client, settings=SETTINGS)
    part = out / "data" / "part-000001.parquet"
    part.write_bytes(part.read_bytes()[:-20] + b"\0" * 20)
    changed = reviews(llm, judge_prompt="Judge harshly: {{ review }}")
    llm.reset()

    dagen.generate(changed, 8, out, client=client, settings=SETTINGS, update=True)

    assert calls(llm) == {"mock-judge": 8, "mock-writer": 4}  # row group 1 from scratch
    fresh = tmp_path / "fresh"
    dagen.generate(changed, 8, fresh, client=client, settings=SETTINGS)
    pd.testing.assert_frame_equal(frame(out), frame(fresh))
