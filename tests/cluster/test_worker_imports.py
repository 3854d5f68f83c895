"""Workers that lack what a run needs are found before the run starts, in seconds.

The scheduler and workers are separate ``dask`` processes; a worker's PYTHONPATH lacks
the user's module (installed only where the client runs), or holds another dagen. The
run stops with a ``ClusterError`` naming the worker and what to install, instead of
failing every cell with an unpickling error.
"""

from __future__ import annotations

import os
import time

import pytest
from clusters import DaskProcesses

import dagen
from dagen.errors import ClusterError

pytestmark = [pytest.mark.cluster, pytest.mark.processes]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_env(*path: str) -> dict[str, str]:
    """A worker's environment whose PYTHONPATH is only ``path`` (no tests/ folder)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path),
            "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}  # fmt: skip


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """``rowfns``, a user's module on the client's sys.path (as if installed there only)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "rowfns.py").write_text("def double(row):\n    return {'twice': row['n'] * 2}\n")
    monkeypatch.syspath_prepend(str(folder))
    return folder


def custom_config() -> dagen.DatasetConfig:
    return dagen.DatasetConfig.from_dict({
        "columns": [
            {"name": "n", "column_type": "sampler", "sampler_type": "uniform",
             "params": {"low": 0, "high": 9}, "convert_to": "int"},
            {"name": "twice", "column_type": "custom", "function": "rowfns:double",
             "required_columns": ["n"]},
        ],
    })  # fmt: skip


def fake_dagen(folder, init: str, version: str | None = None) -> str:
    """A folder holding another ``dagen`` package (and its metadata, when ``version``)."""
    (folder / "dagen").mkdir(parents=True)
    (folder / "dagen" / "__init__.py").write_text(init)
    if version is not None:
        info = folder / f"dagen-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dagen\nVersion: {version}\n")
    return str(folder)


def test_a_worker_without_the_users_module_stops_the_run_in_seconds_naming_it(user_module):
    procs = DaskProcesses(workers=0)
    try:
        procs.add_worker(env=worker_env(ROOT))  # lacks the user's module
        procs.add_worker(env=worker_env(ROOT, str(user_module)))  # has it
        with dagen_client(procs, 2) as client:
            lacking = sorted(client.scheduler_info(n_workers=-1)["workers"])
            began = time.monotonic()
            with pytest.raises(ClusterError) as caught:
                dagen.generate(custom_config(), 20, None, client=client)
            took = time.monotonic() - began
            # without the worker that lacks it, the same config runs
            ready = [w for w in lacking if w not in str(caught.value)]
            client.retire_workers([w for w in lacking if w not in ready])
            client.wait_for_workers(1, timeout=30)
            result = dagen.generate(custom_config(), 20, None, client=client,
                                    settings=dagen.RunSettings(row_group_size=10))  # fmt: skip
    finally:
        procs.close()

    message = str(caught.value)
    assert took < 15
    assert message.startswith("1 of 2 Dask workers cannot run this config:")
    assert "cannot import 'rowfns', which the function of column 'twice' comes from" in message
    assert "No module named 'rowfns'" in message and "install it on the workers" in message
    assert len(ready) == 1
    df = result.to_pandas()
    assert (df["twice"] == 2 * df["n"]).all()


@pytest.mark.parametrize(
    ("init", "version", "said"),
    [
        ("", "0.0.1", "has dagen 0.0.1, this client {mine}: install dagen=={mine}"),
        ("raise ModuleNotFoundError(\"No module named 'dagen'\")", None,
         "cannot import dagen (ModuleNotFoundError: No module named 'dagen'): "
         "install dagen=={mine}"),
    ],
    ids=["other-version", "no-dagen"],
)  # fmt: skip
def test_a_worker_with_another_dagen_or_none_stops_the_run_saying_which_to_install(
    tmp_path, examples, init, version, said
):
    import importlib.metadata

    mine = importlib.metadata.version("dagen")
    other = fake_dagen(tmp_path / "other", init, version)
    procs = DaskProcesses(workers=0)
    try:
        procs.add_worker(env=worker_env(other, ROOT))  # its dagen comes first on its path
        dagen_client(procs, 1).close()  # the worker is there when the run starts
        with pytest.raises(ClusterError) as caught:
            dagen.generate(dagen.load_config(examples / "people.yaml"), 10, None,
                           scheduler=procs.address)  # fmt: skip
    finally:
        procs.close()

    assert "1 of 1 Dask workers cannot run this config" in str(caught.value)
    assert said.format(mine=mine) in str(caught.value)


def dagen_client(procs: DaskProcesses, workers: int):
    from distributed import Client

    client = Client(procs.address, timeout="30s", set_as_default=False)
    client.wait_for_workers(workers, timeout=60)
    return client
