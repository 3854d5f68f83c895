"""Progress, worker figures and the timeline: the pure bookkeeping behind every watcher."""

from __future__ import annotations

from dagen.tracking import RunProgress, Timeline, WorkerFigures


def worker(address, in_flight, requests, latency, *, limit=8, ceiling=8, rate_limited=0):
    figures = {"in_flight": in_flight, "limit": limit, "ceiling": ceiling, "requests": requests,
               "rate_limited": rate_limited, "latency": latency}  # fmt: skip
    return {"kind": "worker", "run": "r", "worker": address, "models": {"writer": figures}}


def test_models_sum_workers_and_take_rates_and_latency_over_the_window():
    figures = WorkerFigures(window=5.0)
    figures.update(worker("a", 8, 100, {"24": 100}), now=0.0)
    figures.update(worker("b", 7, 90, {"24": 90}), now=0.0)
    figures.models(0.0, {"writer": 16})
    figures.update(worker("a", 8, 140, {"24": 100, "30": 40}, rate_limited=3), now=2.0)
    model = figures.models(2.0, {"writer": 16})["writer"]
    assert (model.in_flight, model.cap, model.ceiling) == (15, 16, 16)
    assert model.workers == {"a": (8, 8, 8), "b": (7, 8, 8)}
    assert model.requests == 230 and model.rate_limited == 3
    assert model.requests_per_s == 20.0  # 40 more attempts in 2 s
    assert 0.7 < model.latency_p50 < 0.75  # only the 40 attempts of the window (bucket 30)


def test_a_silent_worker_has_no_calls_in_flight_but_keeps_its_counts():
    figures = WorkerFigures()
    figures.update(worker("a", 8, 100, {}), now=0.0)
    model = figures.models(30.0, {"writer": 8})["writer"]
    assert model.in_flight == 0 and model.requests == 100


def test_progress_follows_the_slowest_column_and_is_unknown_while_a_column_waits():
    # samplers (a) finish a row group at once; the model column (b) takes the time
    running = RunProgress(run="r", columns={"a": (100, 100), "b": (40, 100)}, rates={"b": 6.0},
                          cells_per_s=106.0)  # fmt: skip
    assert running.eta == 10.0 and running.fraction == 0.4 and running.rows_per_s == 6.0
    assert running.cells_done == 140  # the cells are still counted as they are
    waiting = RunProgress(run="r", columns={"a": (50, 100), "b": (0, 100)}, rates={"a": 5.0})
    assert waiting.eta is None
    assert RunProgress(run="r", status="complete").eta == 0.0


def test_a_stopped_runs_last_line_says_it_stopped_not_that_nothing_is_left():
    # Ctrl-C at 23 %: the columns still have cells left, and no time is left to the run
    stopped = RunProgress(run="r", status="stopped", columns={"a": (230, 1000)},
                          rates={"a": 40.0}, rows_planned=1000)  # fmt: skip
    assert stopped.eta is None
    assert stopped.line().endswith("40.0 rows/s, stopped") and "ETA" not in stopped.line()
    running = RunProgress(run="r", columns={"a": (230, 1000)}, rates={"a": 77.0})
    assert running.line().endswith("ETA 10s")


def test_the_timeline_samples_every_interval_and_stays_bounded():
    timeline = Timeline({"a": 10}, {"writer": 8}, started="t0", interval=2.0, max_samples=4)
    for second in range(1, 21):
        timeline.offer(RunProgress(run="r", elapsed=float(second), columns={"a": (second, 10)}))
    timeline.offer(RunProgress(run="r", elapsed=20.5, status="complete"), final=True)
    shape = timeline.to_dict()
    assert shape["columns"] == {"a": 10} and shape["models"] == {"writer": {"cap": 8}}
    assert len(shape["samples"]) < 4 and shape["interval_seconds"] > 2.0
    times = [s["t"] for s in shape["samples"]]
    assert times == sorted(times) and times[-1] == 20.5  # the end is always kept


def test_the_spend_so_far_is_in_the_line_and_survives_publishing():
    spending = RunProgress(run="r", columns={"a": (5, 10)}, cost=0.123456)
    assert "$0.1235 spent" in spending.line()
    assert RunProgress.from_message(spending.to_message()).cost == 0.123456
    assert "spent" not in RunProgress(run="r").line()  # no price declared: no figure
    assert RunProgress.from_message(RunProgress(run="r").to_message()).cost is None


def test_an_exact_runs_progress_follows_rows_written_against_its_target():
    # a filter keeps 30 %: the cells admitted so far say nothing of how many are left
    p = RunProgress(run="r1", status="running", columns={"x": (700, 1000)}, rows_planned=300,
                    rows_written=150, rows_rate=15.0, exact=True, rates={"x": 70.0})  # fmt: skip
    assert (p.fraction, p.rows_per_s, p.eta) == (0.5, 15.0, 10.0)
    assert RunProgress.from_message(p.to_message()) == p
    assert RunProgress(run="r1", rows_planned=300, exact=True).eta is None  # no row written yet
