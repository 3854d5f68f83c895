"""Runs through a ``tls://`` scheduler started with certificates the test makes, and the
models' API keys: read by the workers that hold them, sent (with one warning) to those
that do not, and written nowhere.

One ``dask scheduler --protocol tls`` and one ``dask worker`` (logs kept in a folder)
serve the module; the worker's environment holds ``WORKERS_KEY`` and the test process
never does. The mock model server requires the key.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import dask
import pytest
from certificates import make_certificates
from clusters import DaskProcesses
from distributed import Client

import dagen
from dagen.cluster.keys import ModelKeys
from dagen.cluster.security import check_security, tls_files
from dagen.errors import ClusterError, MissingApiKeyError
from dagen.inference.client import ApiKey
from dagen.mock.handles import MockServerProcess
from dagen.mock.server import MockServerSettings

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

KEY = "sk-tls-" + secrets.token_hex(12)  # the one key the mock accepts
WORKERS_KEY = "DAGEN_TLS_WORKERS_KEY"  # set on the worker only
CLIENT_KEY = "DAGEN_TLS_CLIENT_KEY"  # set on the client only (by the test that needs it)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def keyed():
    with MockServerProcess(MockServerSettings(port=0, latency=0.01, api_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def tls_cluster(certs, tmp_path_factory):
    assert WORKERS_KEY not in os.environ and CLIENT_KEY not in os.environ
    procs = DaskProcesses(workers=1, nthreads=8, tls=certs, worker_env={WORKERS_KEY: KEY},
                          logs=tmp_path_factory.mktemp("dask-logs"))  # fmt: skip
    try:
        yield procs
    finally:
        procs.close()


def config(server, variable: str) -> dict:
    return {
        "seed": 2,
        "models": [{"alias": "writer", "model": "mock", "endpoint": server.url,
                    "api_key_env": variable, "max_parallel_requests": 4}],
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["tea", "rain", "trains"]}},
            {"name": "line", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "One line on {{ topic }}", "with_trace": True},
        ],
    }  # fmt: skip


def assert_key_written_nowhere(out, cluster, *texts):
    """The key is in no file of the output, no log of the Dask processes, no event the
    scheduler keeps, and none of ``texts``."""
    files = [p for p in out.rglob("*") if p.is_file()] + list(cluster.logs.glob("*.log"))
    assert files and any(p.name == "metadata.json" for p in files)
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    with Client(cluster.address, security=cluster.security(), timeout="10s") as c:
        events = c.get_events()
    assert any(topic == "dagen" for topic in events)  # the run's row-group events are there
    assert KEY not in repr(events)
    for text in texts:
        assert KEY not in text


def test_cli_run_through_a_tls_scheduler_with_a_key_only_the_workers_hold(
    tls_cluster, certs, keyed, tmp_path
):
    keyed.reset()
    out, path = tmp_path / "lines", tmp_path / "lines.json"
    path.write_text(json.dumps(config(keyed, WORKERS_KEY)))
    proc = subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(path),
         "-n", "30", "-o", str(out), "--row-group-size", "10", "--scheduler", tls_cluster.address,
         *certs.cli_options()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert "wrote 30 of 30 rows" in proc.stdout
    assert keyed.stats()["requests"] == 30  # every call carried the worker's key
    assert "not set on Dask worker" not in proc.stderr  # nothing was sent
    assert_key_written_nowhere(out, tls_cluster, proc.stdout, proc.stderr)


def test_python_run_sends_a_key_only_the_client_holds_once_and_the_scheduler_keeps_none(
    tls_cluster, certs, keyed, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(CLIENT_KEY, KEY)
    keyed.reset()
    out = tmp_path / "lines"
    held: list[list[str]] = []

    def _holding(needle: bytes, dask_scheduler=None) -> list[str]:
        """Runs on the scheduler: what it keeps (worker plugins, tasks) that holds ``needle``."""
        import cloudpickle

        found = []
        for name, plugin in dask_scheduler.worker_plugins.items():
            if needle in (plugin if isinstance(plugin, bytes) else cloudpickle.dumps(plugin)):
                found.append(f"plugin {name}")
        for key, task in dask_scheduler.tasks.items():
            if needle in cloudpickle.dumps(task.run_spec):
                found.append(f"task {key}")
        return found

    with Client(tls_cluster.address, security=certs.security(), timeout="10s") as looker:

        def look(event):  # while the run is installed: what the scheduler holds
            held.append(looker.run_on_scheduler(_holding, KEY.encode()))

        with caplog.at_level("DEBUG"):
            result = dagen.generate(
                dagen.DatasetConfig.from_dict(config(keyed, CLIENT_KEY)), 30, out,
                scheduler=tls_cluster.address, security=certs.security(), on_row_group=look,
                settings=dagen.RunSettings(row_group_size=10),
            )  # fmt: skip

    assert result.metadata["rows_written"] == 30 and keyed.stats()["requests"] == 30
    said = [r.getMessage() for r in caplog.records if "not set on Dask worker" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith(f"{CLIENT_KEY} not set on Dask worker(s) tls://")
    assert held == [[], [], []]  # no plugin, task or graph on the scheduler held the key
    assert result.report().parent == out  # the run report too is one of the files searched
    assert_key_written_nowhere(out, tls_cluster, caplog.text, repr(result.metadata))


def test_dask_config_certificates_reach_the_tls_scheduler(tls_cluster, certs, keyed):
    tls = {"distributed.comm.tls.ca-file": str(certs.ca),
           "distributed.comm.tls.client.cert": str(certs.cert("client")),
           "distributed.comm.tls.client.key": str(certs.key("client"))}  # fmt: skip
    cfg = dagen.DatasetConfig.from_dict(config(keyed, WORKERS_KEY))
    with dask.config.set(tls):
        result = dagen.generate(cfg, 10, None, scheduler=tls_cluster.address)

    assert result.to_pandas()["line"].notna().sum() == 10


def test_a_key_neither_the_client_nor_the_workers_hold_is_named_with_the_workers(
    tls_cluster, certs, keyed, tmp_path
):
    cfg = dagen.DatasetConfig.from_dict(config(keyed, "DAGEN_TLS_NOBODYS_KEY"))

    with pytest.raises(MissingApiKeyError, match=r"DAGEN_TLS_NOBODYS_KEY \(its API key\) is not "
                       r"set on this client nor on worker tls://127\.0\.0\.1:\d+"):  # fmt: skip
        dagen.generate(cfg, 10, None, scheduler=tls_cluster.address, security=certs.security())


def test_tls_mismatches_are_named_in_seconds(tls_cluster, certs, keyed, tmp_path):
    cfg = dagen.DatasetConfig.from_dict(config(keyed, WORKERS_KEY))
    address, plain = tls_cluster.address, tls_cluster.address.replace("tls://", "tcp://")
    cases = [
        (address, None, rf"scheduler {address} uses TLS, and this client has no CA and no "
                        r"client certificate for it: give --tls-ca-file"),
        (address, certs.security(ca=certs.other_ca),
         rf"scheduler {address}: its certificate is not signed by the CA .*other-ca\.pem"),
        (address, certs.security("stranger"),
         rf"scheduler {address} refused this client's certificate .*stranger\.pem"),
        (plain, None, rf"scheduler {plain} speaks TLS: address it as {address}"),
    ]  # fmt: skip
    for scheduler, security, message in cases:
        started = time.monotonic()
        with pytest.raises(ClusterError, match=message):
            dagen.generate(cfg, 10, tmp_path / "o", scheduler=scheduler, security=security)
        assert time.monotonic() - started < 5, message
        assert not (tmp_path / "o" / "data").exists()


def test_certificates_are_checked_before_anything_connects(certs, tmp_path):
    assert tls_files(None, None, None) is None
    with pytest.raises(ClusterError, match=r"--tls-cert .*nowhere\.pem: no such file"):
        tls_files(str(certs.ca), str(tmp_path / "nowhere.pem"), None)
    with pytest.raises(ClusterError, match="--tls-ca-file is needed too"):
        tls_files(None, str(certs.cert("client")), str(certs.key("client")))
    secured = tls_files(str(certs.ca), str(certs.cert("client")), str(certs.key("client")))
    with pytest.raises(ClusterError, match=r"not tls://; write it as tls://10\.0\.0\.5:8786"):
        check_security("tcp://10.0.0.5:8786", secured)
    with pytest.raises(ClusterError, match="no scheduler address"):
        check_security(None, secured)
    with pytest.raises(TypeError, match=r"distributed\.security\.Security"):
        check_security("tls://10.0.0.5:8786", {"ca": "ca.pem"})
    assert check_security("tls://10.0.0.5:8786", secured) is secured


def test_keys_go_only_to_workers_lacking_their_variable():
    keys = ModelKeys({"w": "A_KEY", "j": "J_KEY"}, {"w": ApiKey("sk-1")})

    assert keys.to_send("tcp://h:1", frozenset()) == {}
    assert list(keys.to_send("tcp://h:1", frozenset({"A_KEY"}))) == ["w"]
    with pytest.raises(MissingApiKeyError, match=r"J_KEY .* nor on worker tcp://h:2") as caught:
        keys.to_send("tcp://h:2", frozenset({"A_KEY", "J_KEY"}))
    assert "sk-1" not in str(caught.value) and "sk-1" not in repr(keys)
