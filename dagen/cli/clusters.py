"""The ``run`` command's cluster options: ``--cluster``, ``--cluster-option``, ``--adapt``,
``--cluster-file``, ``--cluster-timeout``; and the certificates of a ``tls://`` scheduler:
``--tls-ca-file``, ``--tls-cert``, ``--tls-key`` (``dask scheduler``'s own option names).

They become ``ClusterSettings`` fields (``dagen.config.cluster`` parses them): a cluster
file first, then ``--cluster`` replaces its class, each ``--cluster-option key=value``
adds to or replaces its keyword arguments, and ``--adapt min:max`` its bounds.

The certificates become the ``Security`` the client connects with
(``dagen.cluster.security.tls_files``); without them a ``tls://`` scheduler is reached
with Dask's config (``distributed.comm.tls.*``).

Example:
    dagen run cfg.yaml -n 100000 -o out --cluster slurm \\
        --cluster-option cores=4 --cluster-option memory=8GB --adapt 1:10
    dagen run cfg.yaml -n 1000 -o out --scheduler tls://10.0.0.5:8786 \\
        --tls-ca-file ca.pem --tls-cert client.pem --tls-key client-key.pem
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from dagen.cluster.security import tls_files
from dagen.config.cluster import SHORT_NAMES, load_cluster_file, parse_adapt, parse_options

__all__ = ["cluster_options", "tls_options"]


def cluster_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the cluster options to ``command``, which receives them as one ``cluster``
    argument: a dict of ``ClusterSettings`` fields (empty when none was given)."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        cluster_name: str | None,
        cluster_option: tuple[str, ...],
        adapt: str | None,
        cluster_file: str | None,
        cluster_timeout: float | None,
        **kwargs: Any,
    ) -> Any:
        fields: dict[str, Any] = load_cluster_file(cluster_file) if cluster_file else {}
        if cluster_name is not None:
            fields["cluster_class"] = cluster_name
        if cluster_option:
            try:
                options = parse_options(cluster_option)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--cluster-option") from None
            fields["cluster_kwargs"] = {**fields.get("cluster_kwargs", {}), **options}
        if adapt is not None:
            try:
                fields["adapt"] = parse_adapt(adapt)
            except (TypeError, ValueError) as exc:
                raise click.BadParameter(str(exc), param_hint="--adapt") from None
        if cluster_timeout is not None:
            fields["start_timeout"] = cluster_timeout
        return command(*args, cluster=fields, **kwargs)

    options = [
        click.option("--cluster", "cluster_name", default=None, metavar="NAME|CLASS",
                     help=f"Cluster to start: {', '.join(SHORT_NAMES)} or a dotted class path.")
        ,
        click.option("--cluster-option", multiple=True, metavar="KEY=VALUE",
                     help="A keyword argument of the cluster class (value read as YAML); repeatable."),
        click.option("--adapt", default=None, metavar="MIN:MAX",
                     help="Adaptive scaling between MIN and MAX workers."),
        click.option("--cluster-file", type=click.Path(dir_okay=False), default=None,
                     help="YAML: cluster_class, cluster_kwargs, adapt_kwargs, timeout."),
        click.option("--cluster-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="SECONDS", help="How long to wait for the cluster's workers [120]."),
    ]  # fmt: skip
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def tls_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--tls-ca-file``, ``--tls-cert`` and ``--tls-key`` to ``command``, which
    receives them as one ``security`` argument (a ``Security``, or None when none is given).
    """

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        tls_ca_file: str | None,
        tls_cert: str | None,
        tls_key: str | None,
        **kwargs: Any,
    ) -> Any:
        return command(*args, security=tls_files(tls_ca_file, tls_cert, tls_key), **kwargs)

    options = [
        click.option("--tls-ca-file", type=click.Path(dir_okay=False), default=None, metavar="PEM",
                     help="CA certificate of a tls:// scheduler [Dask config distributed.comm.tls.ca-file]."),
        click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, metavar="PEM",
                     help="This client's certificate for a tls:// scheduler."),
        click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="PEM",
                     help="The key of --tls-cert (unless the certificate file holds it)."),
    ]  # fmt: skip
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
