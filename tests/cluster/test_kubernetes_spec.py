"""The ``DaskCluster`` spec dagen builds for ``--cluster kubernetes`` (no cluster here).

dask-kubernetes' own ``make_cluster_spec`` builds it from dagen's options; these tests
read the spec that would be sent to the Kubernetes API: the image, the resources, the
variables (and that none of this process's, API keys above all, is in it unless asked),
the replicas under ``n_workers`` and ``--adapt``; and, through ``dagen.generate``, that
the ``KubeCluster`` class is made with that spec.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

import dagen
from dagen.cluster.kubernetes import kube_kwargs
from dagen.errors import ClusterError

operator = pytest.importorskip("dask_kubernetes.operator", reason="pip install 'dagen[kubernetes]'")

IMAGE = "ghcr.io/example/dagen:1.0"


def containers(kwargs: dict) -> tuple[dict, dict]:
    """The worker's and the scheduler's container of the spec."""
    spec = kwargs["custom_cluster_spec"]["spec"]
    return spec["worker"]["spec"]["containers"][0], spec["scheduler"]["spec"]["containers"][0]


def test_the_spec_has_the_image_resources_threads_and_replicas_asked_for():
    made = kube_kwargs({"image": IMAGE, "name": "people", "cpu": 2, "memory": "4Gi",
                        "worker_threads": 8, "n_workers": 3})  # fmt: skip

    spec = made["custom_cluster_spec"]
    assert spec["kind"] == "DaskCluster" and spec["metadata"]["name"] == "people"
    assert spec["spec"]["worker"]["replicas"] == 3
    worker, scheduler = containers(made)
    assert worker["image"] == scheduler["image"] == IMAGE
    assert worker["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"},
                                   "limits": {"cpu": "2", "memory": "4Gi"}}  # fmt: skip
    assert worker["args"][:3] == ["dask-worker", "--nthreads", "8"]
    assert "env" not in worker or not worker["env"]


def test_adapt_sets_the_first_replicas_and_kubernetes_resources_pass_as_written():
    resources = {"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}}

    made = kube_kwargs({"image": IMAGE, "resources": resources, "n_workers": 9}, adapt=(2, 10))

    assert made["custom_cluster_spec"]["spec"]["worker"]["replicas"] == 2  # adapt's minimum
    assert containers(made)[0]["resources"] == resources
    assert made["custom_cluster_spec"]["metadata"]["name"].startswith("dagen-")


def test_other_options_go_to_kubecluster_as_they_are():
    made = kube_kwargs({"image": IMAGE, "namespace": "data", "resource_timeout": 120,
                        "shutdown_on_close": True})  # fmt: skip

    assert {k: v for k, v in made.items() if k != "custom_cluster_spec"} == {
        "namespace": "data", "resource_timeout": 120, "shutdown_on_close": True,
    }  # fmt: skip


def test_no_variable_of_this_process_is_put_in_the_spec_unless_named(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-stay-here")
    monkeypatch.setenv("DAGEN_REGION", "eu-west")

    plain = kube_kwargs({"image": IMAGE})
    named = kube_kwargs({"image": IMAGE, "env": ["DAGEN_REGION"]})
    given = kube_kwargs({"image": IMAGE, "env": {"LOG_LEVEL": "debug"}})

    assert "sk-must-stay-here" not in repr(plain) + repr(named) + repr(given)
    assert containers(named)[0]["env"] == [{"name": "DAGEN_REGION", "value": "eu-west"}]
    assert containers(given)[0]["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]


@pytest.mark.parametrize("env", [["OPENAI_API_KEY"], {"HF_TOKEN": "hf-typed-in"}])
def test_a_secret_goes_in_the_spec_only_when_asked(monkeypatch, env):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-stay-here")
    name = next(iter(env))

    with pytest.raises(ClusterError) as caught:
        kube_kwargs({"image": IMAGE, "env": env})
    assert f"kubernetes option env: {name} looks like a secret" in str(caught.value)
    assert "env_from_secret=NAME" in str(caught.value) and "secrets_in_spec=true" in str(
        caught.value
    )
    assert "sk-must-stay-here" not in str(caught.value)

    allowed = kube_kwargs({"image": IMAGE, "env": env, "secrets_in_spec": True})
    [entry] = containers(allowed)[0]["env"]
    assert entry["name"] == name and entry["value"] in {"sk-must-stay-here", "hf-typed-in"}


def test_keys_from_a_secret_are_read_by_the_workers_only():
    made = kube_kwargs({"image": IMAGE, "env_from_secret": ["model-keys", "hub-token"]})

    worker, scheduler = containers(made)
    assert worker["envFrom"] == [{"secretRef": {"name": "model-keys"}},
                                 {"secretRef": {"name": "hub-token"}}]  # fmt: skip
    assert "envFrom" not in scheduler


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "kubernetes needs --cluster-option image=IMAGE"),
        ({"image": IMAGE, "cpu": 1, "resources": {"limits": {}}},
         "cpu/memory and resources exclude each other"),
        ({"image": IMAGE, "resources": {"limit": {"cpu": 1}}},
         "resources must be a mapping of requests and/or limits"),
        ({"image": IMAGE, "n_workers": -1}, "n_workers must be a whole number >= 0, got -1"),
        ({"image": IMAGE, "worker_threads": "many"}, "worker_threads must be a whole number"),
        ({"image": IMAGE, "env": ["DAGEN_TEST_NOT_SET_ANYWHERE"]},
         "env: DAGEN_TEST_NOT_SET_ANYWHERE is not set here"),
        ({"image": IMAGE, "env": "A=1"}, "env must be a mapping (name: value) or a list"),
        ({"image": IMAGE, "env_from_secret": [""]}, "env_from_secret must be a Secret's name"),
        ({"image": IMAGE, "custom_cluster_spec": {}}, "dagen builds custom_cluster_spec"),
    ],
)  # fmt: skip
def test_options_of_the_wrong_kind_are_refused_naming_the_option(options, message):
    with pytest.raises(ClusterError) as caught:
        kube_kwargs(options)
    assert message in str(caught.value)


class RecordedKubeCluster(operator.KubeCluster):
    """A KubeCluster that records what it is made with, and stops there (no cluster)."""

    made: ClassVar[list[dict]] = []

    def __init__(self, **kwargs):
        self.made.append(kwargs)
        raise RuntimeError("no Kubernetes API here")


def test_generate_makes_the_kubecluster_with_the_spec_built(examples, monkeypatch):
    monkeypatch.setattr(operator, "KubeCluster", RecordedKubeCluster)
    RecordedKubeCluster.made.clear()
    settings = dagen.RunSettings(cluster=dagen.ClusterSettings(
        cluster_class="kubernetes", adapt=(0, 4), dashboard_address=None,
        cluster_kwargs={"image": IMAGE, "cpu": 1, "namespace": "data"},
    ))  # fmt: skip

    with pytest.raises(ClusterError) as caught:
        dagen.generate(dagen.load_config(examples / "people.yaml"), 10, None, settings=settings)

    assert "cannot start RecordedKubeCluster (dask_kubernetes.operator.KubeCluster)" in str(
        caught.value
    )
    assert "no Kubernetes API here" in str(caught.value)
    [kwargs] = RecordedKubeCluster.made
    assert kwargs["namespace"] == "data"
    assert kwargs["custom_cluster_spec"]["spec"]["worker"]["replicas"] == 0  # adapt from 0
    assert containers(kwargs)[0]["image"] == IMAGE
