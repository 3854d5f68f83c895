"""What a run tells Dask about itself: row-group events, a span, figures, the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dagen

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def reviews(endpoint: str) -> dagen.DatasetConfig:
    raw = yaml.safe_load((ROOT / "examples" / "reviews.yaml").read_text())
    for model in raw["models"]:
        model["endpoint"] = endpoint
    return dagen.DatasetConfig.model_validate(raw)


def test_a_run_is_a_span_with_an_event_per_row_group_and_a_timeline(client, server, tmp_path):
    server.set(latency=0.05)
    events = []
    client.subscribe_topic("dagen", lambda event: events.append(event[1]))
    snapshots = []
    try:
        result = dagen.generate(
            reviews(server.url), 300, tmp_path / "out", client=client,
            settings=dagen.RunSettings(row_group_size=100), progress=snapshots.append,
        )  # fmt: skip
    finally:
        client.unsubscribe_topic("dagen")
    meta = result.metadata
    run = snapshots[-1].run

    # one public event per row group written, in the order they were written
    client.sync(lambda: __import__("asyncio").sleep(0.5))  # events arrive asynchronously
    mine = [e for e in events if e["run"] == run]
    assert sorted(e["row_group"] for e in mine) == [0, 1, 2]
    assert [e["rows_written"] for e in mine] == [100, 200, 300]
    assert {e["file"] for e in mine} == {rg["file"] for rg in meta["row_groups"]}

    # the run's tasks ran inside a span named after it (Dask's fine metrics group by it)
    spans = client.run_on_scheduler(
        lambda dask_scheduler: [s.name for s in dask_scheduler.extensions["spans"].spans.values()]
    )
    assert ("dagen", run) in spans

    # progress was reported as it went, and at the end
    assert snapshots[-1].status == "complete" and snapshots[-1].fraction == 1.0
    assert snapshots[-1].rows_written == 300
    assert {m.alias for m in snapshots[-1].models.values()} == {"writer", "judge"}
    assert snapshots[-1].models["judge"].requests == meta["usage"]["judge"]["requests"]

    # the timeline of metadata.json, in the documented shape
    timeline = meta["timeline"]
    assert timeline["columns"] == dict.fromkeys(
        ["product", "customer", "stars", "review", "facts", "quality"], 300
    )
    assert timeline["models"] == {"writer": {"cap": 16}, "judge": {"cap": 8}}
    last = timeline["samples"][-1]
    assert last["rows_written"] == 300 and last["cells"]["quality"] == 300
    assert set(last["models"]["judge"]) == {
        "in_flight", "limit", "requests", "rate_limited", "server_errors", "retries",
        "prompt_tokens", "completion_tokens", "latency_p50", "latency_p95",
    }  # fmt: skip
    assert all(
        s["models"].get(a, {}).get("in_flight", 0) <= cap
        for s in timeline["samples"]
        for a, cap in (("writer", 16), ("judge", 8))
    )


def test_a_progress_callback_must_be_callable(tmp_path):
    cfg = dagen.load_config(ROOT / "examples" / "people.yaml")
    with pytest.raises(TypeError, match="progress must be a callable"):
        dagen.generate(cfg, 10, tmp_path / "out", progress="yes")


def test_events_are_sent_in_order_without_waiting_and_flush_waits_for_them(client):
    from dagen.cluster.signals import Publisher

    publisher = Publisher(client)
    topic = "dagen"
    before = len(client.get_events(topic))
    for index in range(300):  # as fast as a run loop writing small row groups
        publisher.row_group({"run": "ordered", "row_group": index})
    publisher.flush()  # all of them are on the scheduler once it returns
    mine = [e for _, e in client.get_events(topic)[before:] if e.get("run") == "ordered"]
    assert [e["row_group"] for e in mine] == list(range(300))
