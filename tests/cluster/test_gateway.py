"""Runs through a real ``dask-gateway-server`` with TLS and password auth.

One server serves the module: the local backend that starts each cluster's scheduler
and workers as processes of this machine (``UnsafeLocalBackend``: ``LocalBackend`` would
switch to a system user per gateway user), ``SimpleAuthenticator`` with one password,
and its HTTPS proxy serving a certificate of the test's own CA (the clusters' processes
trust that CA to reach the gateway's API through it). dagen is given the gateway's
address, the variable that holds the password and the CA file; never the password.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from certificates import make_certificates
from clusters import free_port

pytest.importorskip("dask_gateway_server", reason="pip install dask-gateway-server[local]")
pytest.importorskip("dask_gateway", reason="pip install 'dagen[gateway]'")

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

PASSWORD = "gw-" + secrets.token_hex(12)
VARIABLE = "DAGEN_TEST_GATEWAY_PASSWORD"
BIN = Path(sys.executable).parent


class Gateway:
    """A ``dask-gateway-server`` process and the means to ask it what it runs."""

    def __init__(self, folder: Path, ca: Path, cert: Path, key: Path) -> None:
        self.port, self.tcp_port = free_port(), free_port()
        self.address = f"https://127.0.0.1:{self.port}"
        self.proxy_address = f"gateway://127.0.0.1:{self.tcp_port}"
        self.ca, self.log = ca, folder / "gateway.log"
        config = folder / "gateway_config.py"
        config.write_text(textwrap.dedent(f"""\
            c.DaskGateway.address = "127.0.0.1:0"
            c.Proxy.address = "127.0.0.1:{self.port}"
            c.Proxy.tcp_address = "127.0.0.1:{self.tcp_port}"
            c.Proxy.tls_cert = {str(cert)!r}
            c.Proxy.tls_key = {str(key)!r}
            c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
            c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
            c.SimpleAuthenticator.password = {PASSWORD!r}
            c.LocalBackend.clusters_directory = {str(folder / "clusters")!r}
            c.ClusterConfig.scheduler_cmd = [{str(BIN / "dask")!r}, "scheduler"]
            c.ClusterConfig.worker_cmd = [{str(BIN / "dask")!r}, "worker"]
            c.ClusterConfig.environment = {{"SSL_CERT_FILE": {str(ca)!r}}}
            c.ClusterConfig.worker_cores = 1
            c.ClusterConfig.worker_threads = 4
            c.ClusterConfig.worker_memory = "1 G"
            c.ClusterConfig.scheduler_memory = "1 G"
            c.ClusterConfig.idle_timeout = 120
        """))  # fmt: skip
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "dask-gateway-server"), "-f", str(config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            )  # fmt: skip
        self._wait_healthy()

    def _wait_healthy(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if self.get("/api/health", auth=False)["status"] == "pass":
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(
            f"dask-gateway-server not healthy in {seconds} s: {self.log.read_text()}"
        )

    def get(self, path: str, auth: bool = True):
        request = urllib.request.Request(self.address + path)
        if auth:
            token = base64.b64encode(f"tester:{PASSWORD}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read())

    def clusters(self) -> dict:
        """The gateway's clusters that are pending or running (any user's)."""
        return self.get("/api/v1/clusters/")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gateway")
    certs = make_certificates(folder / "certs")
    server = Gateway(folder, certs.ca, certs.cert("scheduler"), certs.key("scheduler"))
    try:
        yield server
    finally:
        server.close()


def lines_config(folder: Path, server) -> Path:
    path = folder / "lines.json"
    path.write_text(json.dumps({
        "seed": 4,
        "models": [{"alias": "writer", "model": "mock", "endpoint": server.url,
                    "max_parallel_requests": 4}],
        "columns": [
            {"name": "topic", "column_type": "sampler", "sampler_type": "category",
             "params": {"values": ["tea", "rain", "trains"]}},
            {"name": "line", "column_type": "llm-text", "model_alias": "writer",
             "prompt": "One line on {{ topic }}"},
        ],
    }))  # fmt: skip
    return path


def dagen_run(config: Path, out: Path, *options: str, password: str | None = PASSWORD,
              timeout: float = 180) -> subprocess.CompletedProcess:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    if password is not None:
        env[VARIABLE] = password
    return subprocess.run(
        [sys.executable, "-m", "dagen.cli", "run", str(config), "-n", "60", "-o", str(out),
         "--row-group-size", "20", "--cluster", "gateway", *options, "--cluster-timeout", "90",
         "-v"],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def gateway_options(gateway: Gateway, **extra: str) -> list[str]:
    options = {"address": gateway.address, "proxy_address": gateway.proxy_address,
               "password_env": VARIABLE, "username": "tester", "tls_ca_file": str(gateway.ca),
               **extra}  # fmt: skip
    return [arg for key, value in options.items() for arg in ("--cluster-option", f"{key}={value}")]


def test_cli_run_through_a_tls_gateway_with_a_password_writes_every_row_and_shuts_it_down(
    gateway, server, tmp_path
):
    out, logged = tmp_path / "out", len(gateway.log.read_text())

    proc = dagen_run(lines_config(tmp_path, server), out, *gateway_options(gateway),
                     "--adapt", "1:2")  # fmt: skip

    assert proc.returncode == 0, proc.stderr + gateway.log.read_text()[-3000:]
    assert "wrote 60 of 60 rows" in proc.stdout
    assert "started GatewayCluster (dask_gateway.GatewayCluster)" in proc.stderr
    df = pd.read_parquet(out / "data")
    assert len(df) == 60 and df["line"].str.len().gt(0).all()
    assert server.stats()["requests"] == 60
    # the gateway made one cluster for dagen's user, and dagen shut it down
    log = gateway.log.read_text()[logged:]
    made = re.findall(r"Created cluster (\w+) for user tester", log)
    assert len(made) == 1 and f"Stopping cluster {made[0]}" in log, log[-3000:]
    assert gateway.clusters() == {}
    # the password was sent and written nowhere
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "metadata.json" for p in files)
    for text in [proc.stdout, proc.stderr, *(p.read_bytes().decode("latin1") for p in files)]:
        assert PASSWORD not in text


def test_a_wrong_password_is_refused_in_seconds_naming_the_variable(gateway, server, tmp_path):
    began = time.monotonic()

    proc = dagen_run(lines_config(tmp_path, server), tmp_path / "out",
                     *gateway_options(gateway), password="not-" + PASSWORD)  # fmt: skip

    assert time.monotonic() - began < 20
    assert proc.returncode != 0
    assert (
        f"dask-gateway at {gateway.address} refused the credentials (401): dagen sent user "
        f"'tester''s password (from ${VARIABLE})"
    ) in proc.stderr, proc.stderr
    assert PASSWORD not in proc.stderr
    assert gateway.clusters() == {}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"tls_ca_file": "OTHER"}, "its certificate fails verification: the CA {other} did not sign it"),
        ({"password_env": "DAGEN_TEST_NO_SUCH_VARIABLE"},
         "gateway option password_env=DAGEN_TEST_NO_SUCH_VARIABLE: the variable "
         "DAGEN_TEST_NO_SUCH_VARIABLE is not set"),
    ],
)  # fmt: skip
def test_a_wrong_ca_or_an_unset_password_variable_is_a_clear_error(
    gateway, server, tmp_path, option, message
):
    other = make_certificates(tmp_path / "certs").other_ca
    option = {k: str(other) if v == "OTHER" else v for k, v in option.items()}
    began = time.monotonic()

    proc = dagen_run(lines_config(tmp_path, server), tmp_path / "out",
                     *gateway_options(gateway, **option))  # fmt: skip

    assert time.monotonic() - began < 20
    assert proc.returncode != 0
    assert message.format(other=other) in proc.stderr, proc.stderr
    assert gateway.clusters() == {}


# -- dagen's gateway options, without a server --------------------------------------


def test_the_password_variable_becomes_basic_auth_and_the_others_pass_as_they_are(monkeypatch):
    from dask_gateway import BasicAuth

    from dagen.cluster.gateway import gateway_kwargs

    monkeypatch.setenv(VARIABLE, PASSWORD)
    given = {"address": "https://gw:8000", "password_env": VARIABLE, "username": "ana",
             "worker_cores": 2}  # fmt: skip

    with gateway_kwargs(given) as made:
        auth = made.pop("auth")
    assert made == {"address": "https://gw:8000", "worker_cores": 2}
    assert isinstance(auth, BasicAuth) and (auth.username, auth.password) == ("ana", PASSWORD)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"password_env": VARIABLE, "auth": "kerberos"}, "auth and password_env exclude each other"),
        ({"username": "ana"}, "username needs password_env"),
        ({"tls_ca_file": "/no/such/ca.pem"}, "tls_ca_file=/no/such/ca.pem: not a readable CA file"),
    ],
)  # fmt: skip
def test_gateway_options_that_cannot_work_are_refused_naming_them(monkeypatch, given, message):
    from dagen.cluster.gateway import gateway_kwargs
    from dagen.errors import ClusterError

    monkeypatch.setenv(VARIABLE, PASSWORD)

    with pytest.raises(ClusterError) as caught, gateway_kwargs(given):
        pass
    assert message in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_ca_is_trusted_by_gateway_clients_made_inside_the_block_only(tmp_path):
    from dask_gateway import Gateway
    from dask_gateway import client as gateway_client

    from dagen.cluster.gateway import gateway_kwargs

    ca = make_certificates(tmp_path / "certs").ca
    default = gateway_client._get_default_request_kwargs

    with gateway_kwargs({"tls_ca_file": str(ca)}):
        inside = Gateway("https://127.0.0.1:1", auth="basic")
    outside = Gateway("https://127.0.0.1:1", auth="basic")

    assert isinstance(inside._request_kwargs["ssl"], ssl.SSLContext)
    assert "ssl" not in outside._request_kwargs
    assert gateway_client._get_default_request_kwargs is default
    del inside, outside  # closed by their __del__ (closing them twice fails in dask-gateway)
