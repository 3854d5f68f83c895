"""The Bokeh dashboard of a local cluster dagen starts comes up when someone opens it
(``dagen.dashboard.later``): the scheduler's HTTP server listens from the start, the link
is logged once the run is under way, and its first request connects the dashboard and
the dagen page. A run nobody watches never imports Bokeh; a cluster that closes first
connects nothing."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from clusters import free_port

import dagen
from dagen.dashboard import later

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

CONFIG = {
    "seed": 3,
    "columns": [
        {"name": "city", "column_type": "sampler", "sampler_type": "category",
         "params": {"values": ["Oslo", "Lima", "Pune"]}},
        {"name": "line", "column_type": "expression", "expr": "{{ city }} {{ city|length }}"},
    ],
}  # fmt: skip


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


class AnswersWhenLinked(logging.Handler):
    """When the run logs the dashboard's link, asks its pages at once (from the thread
    that logs it): the first request wakes the dashboard, and both answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"Dask dashboard: (\S+)  \(dagen page: (\S+?)\)", record.getMessage())
        if found:
            self.answers = {url: status(url) for url in found.groups()}


def test_the_pages_of_the_logged_link_answer_as_soon_as_it_is_logged(tmp_path):
    port = free_port()
    handler = AnswersWhenLinked()
    logger = logging.getLogger("dagen")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        settings = dagen.RunSettings(
            row_group_size=500,
            cluster=dagen.ClusterSettings(n_workers=1, dashboard_address=f"127.0.0.1:{port}"),
        )
        config = dagen.DatasetConfig.model_validate(CONFIG)
        result = dagen.generate(config, 200_000, tmp_path / "out", settings=settings)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert result.metadata["rows_written"] == 200_000
    assert handler.answers == {
        f"http://127.0.0.1:{port}/status": 200,
        f"http://127.0.0.1:{port}/dagen": 200,
    }


def test_a_cluster_that_closes_first_connects_nothing():
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                      scheduler_kwargs={"dashboard": False}) as cluster:  # fmt: skip
        later.defer(cluster)
        address = cluster.scheduler.address
        assert later.deferred(address)
        later.forget(cluster)
        assert not later.deferred(address)
        port = cluster.scheduler.http_server.port
        assert status(f"http://127.0.0.1:{port}/status") == 404
        http = cluster.scheduler.http_application
        assert not any(type(app).__name__ == "BokehTornado" for app in http.applications)


UNWATCHED = """
import logging
import sys
import dagen
logging.getLogger("dagen").addHandler(logging.StreamHandler())
logging.getLogger("dagen").setLevel(logging.INFO)
config = dagen.DatasetConfig.model_validate({config!r})
settings = dagen.RunSettings(
    row_group_size=500,
    cluster=dagen.ClusterSettings(n_workers=1, dashboard_address="127.0.0.1:{port}"),
)
result = dagen.generate(config, 5_000, {out!r}, settings=settings)
print(result.metadata["rows_written"], "bokeh" in sys.modules)
"""


def test_a_run_nobody_watches_never_imports_bokeh(tmp_path):
    script = UNWATCHED.format(config=CONFIG, port=free_port(), out=str(tmp_path / "out"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5000", "False"]
    assert "Dask dashboard: http://127.0.0.1:" in done.stderr


def test_a_page_bokeh_does_not_have_is_not_found_once_it_is_connected(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0",
                      scheduler_kwargs={"dashboard": False}) as cluster:  # fmt: skip
        later.defer(cluster)
        base = f"http://127.0.0.1:{cluster.scheduler.http_server.port}"
        try:
            assert status(base + "/status") == 200  # woken, then served by Bokeh
            assert status(base + "/no-such-page") == 404
            assert status(base + "/health") == 200  # distributed's own, all along
        finally:
            later.forget(cluster)
