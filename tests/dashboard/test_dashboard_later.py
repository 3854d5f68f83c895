"""The Bokeh dashboard of a local cluster dagen starts comes up once the run is under way
(``dagen.dashboard.later``): the scheduler's HTTP server listens from the start, and the
link is logged only when the dashboard and the dagen page answer. A cluster that closes
before then connects nothing."""

from __future__ import annotations

import logging
import re
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
    that logs it: the dashboard must already answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"Dask dashboard: (\S+)  \(dagen page: (\S+?)\)", record.getMessage())
        if found:
            self.answers = {url: status(url) for url in found.groups()}


def test_the_link_is_logged_once_the_dashboard_and_the_dagen_page_answer(tmp_path):
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
        later.connect_soon(address, "http://127.0.0.1:1/status")
        assert not later.deferred(address)
        http = cluster.scheduler.http_application
        assert not any(type(app).__name__ == "BokehTornado" for app in http.applications)
