"""The ``DaskCluster`` spec of a Kubernetes cluster, built by dagen from its options.

``--cluster kubernetes`` is dask-kubernetes' operator ``KubeCluster``; dagen builds its
spec with ``dask_kubernetes.operator.make_cluster_spec`` (no cluster is needed for that)
and passes it as ``custom_cluster_spec``, so what is sent to the Kubernetes API is
decided here, in one place:

    image              the image of the scheduler and the workers; required (it needs
                       dagen, the same version, and the run's plugins)
    n_workers          the workers' replicas (default 1); with ``--adapt MIN:MAX`` MIN
    cpu, memory        the workers' requests and limits (``cpu=2 memory=4Gi``), or
    resources          the container's ``resources`` as Kubernetes writes them
    worker_threads     task slots per worker (``dask-worker --nthreads``)
    env                variables of the containers: a mapping (name: value) or a list
                       of names whose values are copied from this process's environment
    env_from_secret    Kubernetes Secrets (a name or a list) the workers' variables are
                       read from (``envFrom``): the place for the models' API keys
    secrets_in_spec    ``true`` allows ``env`` to hold a variable that looks like a
                       secret (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``)

Anything else (``namespace``, ``resource_timeout``, ``shutdown_on_close``, ...) is passed
to ``KubeCluster`` as it is. No variable of this process goes into the spec unless
``env`` names it, and a secret only with ``secrets_in_spec``: the spec is stored in the
Kubernetes API, readable by whoever may read the ``DaskCluster`` resources. Without a
Secret, the workers get the keys from the client at run time (``dagen.cluster.keys``).

Example:
    >>> made = kube_kwargs({"image": "ghcr.io/me/dagen:1", "cpu": 1, "name": "people"})
    >>> worker = made["custom_cluster_spec"]["spec"]["worker"]
    >>> worker["replicas"], worker["spec"]["containers"][0]["resources"]["limits"]
    (1, {'cpu': '1'})
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

from dagen.errors import ClusterError

__all__ = ["KUBE_OPTIONS", "is_kube", "kube_kwargs"]

KUBE_OPTIONS = (
    "name", "image", "n_workers", "cpu", "memory", "resources", "worker_threads", "env",
    "env_from_secret", "secrets_in_spec",
)  # fmt: skip
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def is_kube(kind: type) -> bool:
    """Whether ``kind`` is dask-kubernetes' operator ``KubeCluster`` (or a subclass)."""
    return any(
        c.__name__ == "KubeCluster" and c.__module__.startswith("dask_kubernetes")
        for c in kind.__mro__
    )


def kube_kwargs(options: Mapping[str, Any], adapt: tuple[int, int] | None = None) -> dict[str, Any]:
    """``KubeCluster``'s keyword arguments: dagen's options made into ``custom_cluster_spec``,
    the others passed on.

    Raises:
        ClusterError: no image, an option of the wrong kind, a variable of ``env`` that
            is not set, or one that looks like a secret without ``secrets_in_spec``;
            each naming the option.
    """
    from dask_kubernetes.operator import make_cluster_spec

    if "custom_cluster_spec" in options:
        raise ClusterError(
            "kubernetes: dagen builds custom_cluster_spec from its options; give image, "
            "cpu, memory, env, ... instead"
        )
    image = options.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ClusterError(
            "kubernetes needs --cluster-option image=IMAGE: an image with this dagen "
            "version (and the run's plugins) installed"
        )
    spec = make_cluster_spec(
        name=str(options.get("name") or f"dagen-{secrets.token_hex(4)}"),
        image=image,
        n_workers=_replicas(options, adapt),
        resources=_resources(options),
        env=_env(options),
        worker_command=_worker_command(options),
    )
    sources = _secret_sources(options.get("env_from_secret"))
    if sources:
        worker = spec["spec"]["worker"]["spec"]["containers"][0]
        worker["envFrom"] = [{"secretRef": {"name": name}} for name in sources]
    passed = {k: v for k, v in options.items() if k not in KUBE_OPTIONS}
    return {**passed, "custom_cluster_spec": spec}


def _replicas(options: Mapping[str, Any], adapt: tuple[int, int] | None) -> int:
    if adapt is not None:
        return adapt[0]
    n = options.get("n_workers", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ClusterError(f"kubernetes option n_workers must be a whole number >= 0, got {n!r}")
    return n


def _resources(options: Mapping[str, Any]) -> dict[str, Any] | None:
    given = {k: str(options[k]) for k in ("cpu", "memory") if options.get(k) is not None}
    if "resources" in options:
        if given:
            raise ClusterError("kubernetes options cpu/memory and resources exclude each other")
        resources = options["resources"]
        if not isinstance(resources, Mapping) or not set(resources) <= {"requests", "limits"}:
            raise ClusterError(
                "kubernetes option resources must be a mapping of requests and/or limits, "
                f"got {resources!r}"
            )
        return dict(resources)
    return {"requests": dict(given), "limits": dict(given)} if given else None


def _worker_command(options: Mapping[str, Any]) -> list[str]:
    threads = options.get("worker_threads")
    if threads is None:
        return ["dask-worker"]
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ClusterError(
            f"kubernetes option worker_threads must be a whole number >= 1, got {threads!r}"
        )
    return ["dask-worker", "--nthreads", str(threads)]


def _env(options: Mapping[str, Any]) -> dict[str, str] | None:
    env = options.get("env")
    if env is None:
        return None
    if isinstance(env, Mapping):
        found = {str(k): str(v) for k, v in env.items()}
    elif isinstance(env, list | tuple) and all(isinstance(n, str) for n in env):
        unset = [n for n in env if n not in os.environ]
        if unset:
            raise ClusterError(
                f"kubernetes option env: {unset[0]} is not set here, so its value cannot "
                "be copied into the spec"
            )
        found = {n: os.environ[n] for n in env}
    else:
        raise ClusterError(
            f"kubernetes option env must be a mapping (name: value) or a list of names, got {env!r}"
        )
    secret = [n for n in found if _SECRET_NAME.search(n)]
    if secret and options.get("secrets_in_spec") is not True:
        raise ClusterError(
            f"kubernetes option env: {secret[0]} looks like a secret, and the spec is stored "
            "in the Kubernetes API in plain text; read it from a Secret "
            "(--cluster-option env_from_secret=NAME), or allow it with secrets_in_spec=true"
        )
    return found


def _secret_sources(given: Any) -> list[str]:
    if given is None:
        return []
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
        raise ClusterError(
            f"kubernetes option env_from_secret must be a Secret's name or a list of names, "
            f"got {given!r}"
        )
    return list(names)
