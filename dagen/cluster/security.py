"""Secured schedulers: ``tls://`` addresses, Dask's ``Security`` and clear TLS errors.

A ``tls://`` scheduler wants a client certificate signed by the cluster's CA, and the
CA to check the scheduler's own. They come, first match wins, from:

    1. ``generate(..., security=Security(...))``   a ``distributed.security.Security``
    2. ``dagen run --tls-ca-file CA --tls-cert CERT --tls-key KEY``  (``tls_files``; the
       option names of ``dask scheduler`` and ``dask worker``)
    3. Dask's config: ``distributed.comm.tls.ca-file``, ``.client.cert``,
       ``.client.key`` (``Security()`` reads them; ``DASK_DISTRIBUTED__COMM__TLS__...``)

``check_security`` runs before anything connects: a ``tls://`` address without a CA or
a client certificate, or certificates given for a ``tcp://`` address, is a
``ClusterError`` naming the address and what to give. ``connection_error`` turns what
``distributed`` raises when the handshake fails into a message naming the address and
what is wrong: the scheduler's certificate not signed by the CA given, this client's
certificate refused, a ``tls://`` address for a plain TCP scheduler, or a ``tcp://``
address for a scheduler that speaks TLS (both found by starting a TLS handshake with it,
``speaks_tls``). Each is raised in a second or two, never after the connect timeout.

Example:
    >>> check_security("tcp://127.0.0.1:8786", None) is None
    True
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

from distributed.comm import get_address_host_port
from distributed.security import Security

from dagen.errors import ClusterError

__all__ = ["check_security", "connection_error", "speaks_tls", "tls_files"]

_HOW = (
    "give --tls-ca-file, --tls-cert and --tls-key (generate(..., security=Security(...)) "
    "in Python), or set distributed.comm.tls.ca-file, .client.cert and .client.key in "
    "Dask's config"
)


def tls_files(ca_file: str | None, cert: str | None, key: str | None) -> Security | None:
    """The client's ``Security`` from certificate files (the CLI's ``--tls-*`` options);
    None when none is given.

    Raises:
        ClusterError: a file that cannot be read, or a certificate without its CA (or
            the other way round), naming the option.
    """
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    for option, path in given.items():
        if path is not None and not Path(path).is_file():
            raise ClusterError(f"{option} {path}: no such file")
    if not ca_file or not cert:
        missing = "--tls-ca-file" if not ca_file else "--tls-cert"
        raise ClusterError(
            f"{missing} is needed too: a tls:// scheduler checks this client's certificate "
            "(--tls-cert, --tls-key) and the client checks the scheduler's with the CA "
            "(--tls-ca-file)"
        )
    return Security(
        tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key, require_encryption=True
    )


def check_security(address: str | None, security: Any) -> Security | None:
    """The ``Security`` to connect to ``address`` with (see the module docstring).

    Raises:
        TypeError: ``security`` is not a ``distributed.security.Security``.
        ClusterError: a ``tls://`` address without a CA or a client certificate, or
            certificates given for another scheme, naming the address.
    """
    if security is not None and not isinstance(security, Security):
        raise TypeError(
            f"generate(): security must be a distributed.security.Security, got {security!r}"
        )
    if address is None:
        if security is not None:
            raise ClusterError(
                "certificates were given but no scheduler address: give a tls:// address "
                "(--scheduler tls://host:port, generate(scheduler=...))"
            )
        return None
    if not address.startswith("tls://"):
        if security is not None and security.require_encryption:
            raise ClusterError(
                f"scheduler {address}: certificates were given, but the address is not "
                f"tls://; write it as tls://{address.split('://', 1)[-1]}"
            )
        return security
    chosen = security if security is not None else Security()
    fields = {"CA": "tls_ca_file", "client certificate": "tls_client_cert"}
    missing = [name for name, attribute in fields.items() if not getattr(chosen, attribute)]
    if missing:
        raise ClusterError(
            f"scheduler {address} uses TLS, and this client has no "
            f"{' and no '.join(missing)} for it: {_HOW}"
        )
    return chosen


def connection_error(address: str, security: Security | None, exc: BaseException) -> ClusterError:
    """A ``ClusterError`` saying why connecting to ``address`` failed, in the user's terms."""
    reason = _ssl_reason(exc)
    if address.startswith("tls://") and security is not None:
        if not speaks_tls(address):
            return ClusterError(
                f"scheduler {address} does not speak TLS: if it listens on plain "
                f"TCP, address it as tcp://{address.split('://', 1)[-1]}"
            )
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return ClusterError(
                f"scheduler {address}: its certificate is not signed by the CA "
                f"{_name(getattr(security, 'tls_ca_file', None))} (wrong --tls-ca-file?): {reason}"
            )
        if reason:
            return ClusterError(
                f"scheduler {address} refused this client's certificate "
                f"{_name(getattr(security, 'tls_client_cert', None))} (is it signed by the scheduler's CA?): "
                f"{reason}"
            )
    if not address.startswith("tls://") and speaks_tls(address):
        return ClusterError(
            f"scheduler {address} speaks TLS: address it as "
            f"tls://{address.split('://', 1)[-1]} and {_HOW}"
        )
    return ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}")


def speaks_tls(address: str, timeout: float = 2.0) -> bool:
    """Whether the server at ``address`` answers a TLS handshake (its certificate is not
    checked: this only asks which protocol it speaks)."""
    try:
        host, port = get_address_host_port(address)
    except (ValueError, TypeError):
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except ssl.SSLError as exc:  # an alert (certificate required): it speaks TLS
        return "WRONG_VERSION_NUMBER" not in str(exc) and "record layer" not in str(exc)
    except OSError:  # closed, reset or silent: not a TLS server
        return False


def _ssl_reason(exc: BaseException) -> str:
    """The TLS failure under ``exc`` (the ``ssl.SSLError`` in its chain, else a message
    naming TLS), or '' when it was not one."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for found in chain:
        if isinstance(found, ssl.SSLError):
            return str(found)
    return next((str(f) for f in chain if "SSL" in str(f) or "TLS" in str(f)), "")


def _name(value: Any) -> str:
    """A certificate's file, or 'in memory' for PEM text (never the text itself)."""
    if isinstance(value, str) and "\n" in value:
        return "(in memory)"
    return str(value)
