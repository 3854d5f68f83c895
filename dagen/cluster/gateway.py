"""dagen's options of a dask-gateway cluster: the password and the CA, given by name only.

``GatewayCluster`` is made with the gateway's ``address`` (``https://...``), its
``proxy_address`` and the cluster options the gateway offers; dagen adds three options
of its own, so that a command line or a cluster file never holds a secret::

    password_env   the variable holding the password of the gateway's basic auth
                   (``auth=BasicAuth(username, os.environ[password_env])``); read when
                   the cluster is made, written nowhere
    username       the basic-auth user (default: this process's user)
    tls_ca_file    the CA that signed the gateway's HTTPS certificate (default: the
                   system's trusted CAs); the scheduler's own TLS is the gateway's

A gateway that refuses the password, or whose certificate the CA did not sign, is a
``ClusterError`` saying so, in the time of one request.

Example:
    >>> with gateway_kwargs({"address": "https://gw:8000", "worker_cores": 2}) as made:
    ...     made
    {'address': 'https://gw:8000', 'worker_cores': 2}
"""

from __future__ import annotations

import contextlib
import getpass
import os
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagen.errors import ClusterError

__all__ = ["GATEWAY_OPTIONS", "gateway_kwargs", "gateway_refusal", "is_gateway"]

GATEWAY_OPTIONS = ("password_env", "username", "tls_ca_file")


def is_gateway(kind: type) -> bool:
    """Whether ``kind`` is dask-gateway's ``GatewayCluster`` (or a subclass)."""
    return any(
        c.__name__ == "GatewayCluster" and c.__module__.startswith("dask_gateway")
        for c in kind.__mro__
    )


@contextlib.contextmanager
def gateway_kwargs(kwargs: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """``GatewayCluster``'s keyword arguments from dagen's (``password_env``, ``username``,
    ``tls_ca_file`` made into ``auth`` and a trusted CA); the CA is trusted by the
    gateway client made inside the block, for all its requests.

    Raises:
        ClusterError: the password variable is not set, ``auth`` is given with it, or
            the CA file cannot be read, naming the option.
    """
    made = {k: v for k, v in kwargs.items() if k not in GATEWAY_OPTIONS}
    variable, ca = kwargs.get("password_env"), kwargs.get("tls_ca_file")
    if variable is not None:
        if "auth" in kwargs:
            raise ClusterError("gateway options auth and password_env exclude each other")
        password = os.environ.get(str(variable))
        if not password:
            raise ClusterError(
                f"gateway option password_env={variable}: the variable {variable} is not set"
            )
        from dask_gateway import BasicAuth

        made["auth"] = BasicAuth(kwargs.get("username") or getpass.getuser(), password)
    elif "username" in kwargs:
        raise ClusterError("gateway option username needs password_env (the password's variable)")
    if ca is None:
        yield made
        return
    try:
        context = ssl.create_default_context(cafile=str(Path(str(ca)).expanduser()))
    except (OSError, ssl.SSLError) as exc:
        raise ClusterError(
            f"gateway option tls_ca_file={ca}: not a readable CA file: {exc}"
        ) from exc
    with _trusting(context):
        yield made


@contextlib.contextmanager
def _trusting(context: ssl.SSLContext) -> Iterator[None]:
    """The gateway clients made meanwhile verify HTTPS with ``context``: dask-gateway takes
    its request options from ``_get_default_request_kwargs`` when a ``Gateway`` is made and
    offers no option of its own for a CA."""
    from dask_gateway import client

    default = getattr(client, "_get_default_request_kwargs", None)
    if default is None:
        raise ClusterError(
            "this dask-gateway takes no CA from dagen: drop tls_ca_file and run with "
            "SSL_CERT_FILE=CA.pem instead"
        )

    def with_ca(scheme: str) -> dict[str, Any]:
        return {**default(scheme), "ssl": context}

    client._get_default_request_kwargs = with_ca
    try:
        yield
    finally:
        client._get_default_request_kwargs = default


def gateway_refusal(exc: BaseException, kwargs: Mapping[str, Any]) -> ClusterError | None:
    """The error of a gateway that refused the credentials or whose certificate failed
    verification, naming what to check; None for any other error."""
    address = kwargs.get("address", "the gateway")
    seen: BaseException | None = exc
    while seen is not None:
        status = getattr(seen, "status", None)
        if status in (401, 403):
            user = kwargs.get("username") or getpass.getuser()
            given = (
                f"user {user!r}'s password (from ${kwargs['password_env']})"
                if "password_env" in kwargs
                else "no password (give its variable with --cluster-option password_env=NAME)"
            )
            return ClusterError(
                f"dask-gateway at {address} refused the credentials ({status}): dagen sent "
                f"{given}; check the user and the password"
            )
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            ca = kwargs.get("tls_ca_file")
            hint = (
                f"the CA {ca} did not sign it"
                if ca
                else "give the CA that signed it with --cluster-option tls_ca_file=PATH"
            )
            return ClusterError(
                f"dask-gateway at {address}: its certificate fails verification: {hint}"
            )
        seen = seen.__cause__ or seen.__context__
    return None
