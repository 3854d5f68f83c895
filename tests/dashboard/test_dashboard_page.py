"""The dagen page of the Dask dashboard, read in a real headless browser during real runs.

A real run (the reviews example against the mock model server, with latency, so that it
lasts) goes on in a thread while headless Chromium (Debian's ``chromium-headless-shell``,
driven by playwright) reads the page every half second. Every reading must equal a
snapshot the run itself reported (its ``progress`` callback gets the very figures it
publishes), calls in flight never exceed a model's cap nor a worker's share, and the last
reading is the finished run. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from clusters import DaskProcesses, free_port

import dagen
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/lib/chromium/chromium-headless-shell"


@pytest.fixture(scope="module")
def slow_model():
    """The mock model with 0.1 s per call: 1,000 reviews take ~15 s at the example's caps."""
    with MockServerProcess(MockServerSettings(port=0, latency=0.1)) as process:
        yield process


def reviews(endpoint: str) -> dagen.DatasetConfig:
    raw = yaml.safe_load((ROOT / "examples" / "reviews.yaml").read_text())
    for model in raw["models"]:
        model["endpoint"] = endpoint
        model["pricing"] = {"input_per_million": 2.0, "output_per_million": 8.0}
    return dagen.DatasetConfig.model_validate(raw)


class PageLink(logging.Handler):
    """Catches the 'dagen page: URL' line a run logs."""

    def __init__(self) -> None:
        super().__init__()
        self.url: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"dagen page: (\S+?)\)", record.getMessage())
        if found:
            self.url = found.group(1)


# Read in one go (JavaScript runs to the end before the page can change), through the
# shadow roots Bokeh renders its widgets in.
READ_PAGE = """() => {
  const all = [];
  const walk = (root) => root.querySelectorAll('*').forEach((el) => {
    all.push(el);
    if (el.shadowRoot) walk(el.shadowRoot);
  });
  walk(document);
  const byId = (id) => all.find((el) => el.id === id)?.textContent.trim();
  const cell = (row, name) => row.querySelector('.' + name)?.textContent.trim();
  const columns = {}, models = {}, workers = [];
  for (const row of all.filter((el) => el.matches('tr[data-column]')))
    columns[row.dataset.column] = [+cell(row, 'done'), +cell(row, 'planned')];
  for (const row of all.filter((el) => el.matches('tr[data-model]'))) {
    const figures = [+cell(row, 'in-flight'), +cell(row, 'cap')];
    if (row.dataset.worker) workers.push([row.dataset.model, row.dataset.worker, ...figures]);
    else models[row.dataset.model] = figures;
  }
  return {run: byId('dagen-run'), status: byId('dagen-status'),
          rows_written: +byId('dagen-rows-written'), rows_dropped: +byId('dagen-rows-dropped'),
          percent: parseFloat(byId('dagen-percent')),
          spent: parseFloat(byId('dagen-spent')?.replace('$', '')), columns, models, workers};
}"""


def read_page(page) -> dict:
    """The figures the page shows, as numbers, read at one instant."""
    reading = page.evaluate(READ_PAGE)
    reading["columns"] = {c: tuple(v) for c, v in reading["columns"].items()}
    reading["models"] = {m: tuple(v) for m, v in reading["models"].items()}
    reading["workers"] = {(m, w): (i, c) for m, w, i, c in reading["workers"]}
    return reading


def watch_run(url_of, run, name: str) -> tuple[list[dict], list[Path]]:
    """Read the page every 0.5 s while ``run`` (a thread) lasts; screenshots at about 10 %,
    50 % and 100 %."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    readings, shots, marks = [], [], [10.0, 50.0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        deadline = time.monotonic() + 60
        while url_of() is None:
            assert time.monotonic() < deadline and run.is_alive(), "the run logged no page link"
            time.sleep(0.1)
        menu = urllib.request.urlopen(url_of().rsplit("/", 1)[0] + "/status").read().decode()
        assert 'href="dagen"' in menu  # the dashboard's menu links the page
        page.goto(url_of())
        page.wait_for_selector("#dagen-rows-written", timeout=30_000)
        ended = None
        while True:
            alive = run.is_alive()
            page.wait_for_timeout(500)
            reading = read_page(page)
            readings.append(reading)
            if marks and reading["percent"] >= marks[0]:
                shots.append(SCREENSHOTS / f"{name}-{marks.pop(0):.0f}pct.png")
                page.screenshot(path=str(shots[-1]), full_page=True)
            ended = ended or (None if alive else time.monotonic())
            # a cluster dagen started goes with the run: its page shows what came before
            if ended and (reading["status"] != "running" or time.monotonic() - ended > 3):
                break
        shots.append(SCREENSHOTS / f"{name}-end.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        browser.close()
    return readings, shots


def check_readings(readings: list[dict], snapshots: list, metadata: dict, *, final: bool) -> None:
    published = {
        (s.rows_written, tuple(sorted((c, d) for c, (d, _) in s.columns.items())))
        for s in snapshots
    }
    caps = {"writer": 16, "judge": 8}
    for reading in readings:
        cells = tuple(sorted((c, d) for c, (d, _) in reading["columns"].items()))
        assert (reading["rows_written"], cells) in published, reading  # the run's own figures
        for alias, (in_flight, cap) in reading["models"].items():
            assert cap == caps[alias] and 0 <= in_flight <= cap, reading
        shares: dict[str, int] = {}
        for (alias, _), (in_flight, share) in reading["workers"].items():
            assert 0 <= in_flight <= share, reading
            shares[alias] = shares.get(alias, 0) + share
        assert all(total <= caps[a] for a, total in shares.items()), reading
    middle = [r for r in readings if 0 < r["percent"] < 100 and r["status"] == "running"]
    assert middle, "no reading caught the run under way"
    assert any(sum(f[0] for f in r["models"].values()) > 0 for r in middle)  # calls seen
    assert metadata["rows_written"] == 1000
    spent = [r["spent"] for r in readings]  # live, from the workers' token counters
    assert spent == sorted(spent) and spent[-1] <= round(metadata["cost"]["spent"], 4)
    if not final:  # the page went with the cluster dagen started for the run
        return
    last = readings[-1]
    assert last["status"] == "complete" and last["percent"] == 100.0
    assert last["rows_written"] == metadata["rows_written"] == 1000
    assert all(done == planned == 1000 for done, planned in last["columns"].values())
    assert last["run"] == snapshots[-1].run
    assert last["spent"] == round(metadata["cost"]["spent"], 4) > 0  # the run's final figure


def run_in_thread(**kwargs):
    snapshots, outcome = [], {}

    def target() -> None:
        try:
            outcome["result"] = dagen.generate(progress=snapshots.append, **kwargs)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, snapshots, outcome


def test_the_page_shows_a_run_on_the_local_cluster_dagen_starts(slow_model, tmp_path):
    link = PageLink()
    logging.getLogger("dagen").addHandler(link)
    logging.getLogger("dagen").setLevel(logging.INFO)
    try:
        settings = dagen.RunSettings(
            row_group_size=250,
            cluster=dagen.ClusterSettings(
                n_workers=2, dashboard_address=f"127.0.0.1:{free_port()}"
            ),
        )
        thread, snapshots, outcome = run_in_thread(
            config=reviews(slow_model.url), num_records=1000, output_dir=tmp_path / "out",
            settings=settings,
        )  # fmt: skip
        readings, shots = watch_run(lambda: link.url, thread, "local")
        thread.join(120)
    finally:
        logging.getLogger("dagen").removeHandler(link)
    assert "error" not in outcome, outcome.get("error")
    check_readings(readings, snapshots, outcome["result"].metadata, final=False)
    assert all(shot.stat().st_size > 10_000 for shot in shots)


def test_the_page_shows_a_run_on_a_separately_started_scheduler(slow_model, tmp_path):
    port = free_port()
    cluster = DaskProcesses(
        workers=2, scheduler_args=("--dashboard-address", f"127.0.0.1:{port}", "--preload", "dagen.dashboard")
    )  # fmt: skip
    try:
        # the page is there before any run (preloaded), and says so
        before = urllib.request.urlopen(f"http://127.0.0.1:{port}/dagen").read().decode()
        assert "dagen" in before
        thread, snapshots, outcome = run_in_thread(
            config=reviews(slow_model.url), num_records=1000, output_dir=tmp_path / "out",
            scheduler=cluster.address, settings=dagen.RunSettings(row_group_size=250),
        )  # fmt: skip
        readings, shots = watch_run(lambda: f"http://127.0.0.1:{port}/dagen", thread, "scheduler")
        thread.join(120)
        assert "error" not in outcome, outcome.get("error")
        check_readings(readings, snapshots, outcome["result"].metadata, final=True)
        assert all(shot.stat().st_size > 10_000 for shot in shots)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        run = snapshots[-1].run
        assert f'dagen_rows_written{{run="{run}"}} 1000.0' in metrics
        spent = re.search(rf'dagen_spent_usd{{run="{run}"}} (\S+)', metrics)
        assert spent and float(spent.group(1)) == pytest.approx(
            outcome["result"].metadata["cost"]["spent"]
        )
        dagen_lines = [line for line in metrics.splitlines() if line.startswith("dagen_cells")]
        assert f'dagen_cells_done{{column="quality",run="{run}"}} 1000.0' in dagen_lines, (
            dagen_lines
        )
        requests = re.search(
            rf'dagen_model_requests_total{{model="judge",run="{run}"}} (\S+)', metrics
        )
        assert requests and float(requests.group(1)) >= 1000  # one call per row at least
    finally:
        cluster.close()
