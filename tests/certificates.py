"""Certificates made by the test: a CA, and a certificate signed by it for each Dask role.

``make_certificates(folder)`` writes PEM files as a cluster's admin would hand them out
(``ca.pem``; ``scheduler.pem`` + ``scheduler-key.pem``, the same for ``worker`` and
``client``), and a second CA with a client certificate of its own, for the mismatches.
Keys are P-256 (fast to make); every certificate names 127.0.0.1 and is valid for a day.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Certificates", "make_certificates"]


@dataclass(frozen=True)
class Certificates:
    """The PEM files of one test cluster."""

    folder: Path
    ca: Path
    other_ca: Path  # a CA that signed none of the cluster's certificates

    def cert(self, role: str) -> Path:
        return self.folder / f"{role}.pem"

    def key(self, role: str) -> Path:
        return self.folder / f"{role}-key.pem"

    def dask_options(self, role: str) -> list[str]:
        """The ``dask scheduler`` / ``dask worker`` options for ``role``."""
        return ["--tls-ca-file", str(self.ca), "--tls-cert", str(self.cert(role)),
                "--tls-key", str(self.key(role))]  # fmt: skip

    def cli_options(self, role: str = "client", ca: Path | None = None) -> list[str]:
        """``dagen run``'s options for the client's certificate (and ``ca``, if another)."""
        return ["--tls-ca-file", str(ca or self.ca), "--tls-cert", str(self.cert(role)),
                "--tls-key", str(self.key(role))]  # fmt: skip

    def security(self, role: str = "client", ca: Path | None = None):
        from distributed.security import Security

        return Security(tls_ca_file=str(ca or self.ca), tls_client_cert=str(self.cert(role)),
                        tls_client_key=str(self.key(role)), require_encryption=True)  # fmt: skip


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _authority("dagen test CA")
    _write(folder / "ca.pem", ca)
    for role in ("scheduler", "worker", "client"):
        _leaf(folder, role, ca_key, ca)
    other_key, other = _authority("another CA")
    _write(folder / "other-ca.pem", other)
    _leaf(folder, "stranger", other_key, other)  # a client certificate the cluster never signed
    return Certificates(folder, folder / "ca.pem", folder / "other-ca.pem")


_NOW = datetime.datetime.now(datetime.UTC)


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(minutes=5))
        .not_valid_after(_NOW + datetime.timedelta(days=1))
    )


def _authority(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(folder: Path, role: str, ca_key, ca: x509.Certificate) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        _builder(role, ca.subject, key.public_key())
        .add_extension(loopback, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / f"{role}.pem", cert)
    (folder / f"{role}-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _write(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
