"""Certificates of a fleet served over TLS: one CA per fleet (trustme), a leaf per appliance.

Each appliance's certificate is one of `CERTIFICATE_KINDS`: signed by the fleet's CA for
127.0.0.1 (`fleet`, the default), or one that a client verifying against that CA refuses,
as real appliances present them: `self-signed` (as shipped), `other-ca` (signed by a CA the
inventory does not name), `expired`, `not-yet-valid`, `wrong-name` (issued for another name).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator.simulator.scenario import CertificateKind

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["CERTIFICATE_KINDS", "CertificateKind", "FleetCertificates"]

CERTIFICATE_KINDS: tuple[str, ...] = get_args(CertificateKind)
HOST = "127.0.0.1"
_ORGANIZATION = "orchestrator simulated fleet"
_DAY = dt.timedelta(days=1)


class FleetCertificates:
    """The fleet's CA, and one server SSL context per appliance (made on first use)."""

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name=_ORGANIZATION)
        self._stranger: trustme.CA | None = None  # the CA behind `other-ca` certificates
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._client: ssl.SSLContext | None = None

    @property
    def ca_pem(self) -> bytes:
        """The fleet CA's certificate, PEM: what `ca_bundle` names."""
        return self.ca.cert_pem.bytes()

    def server_context(self, name: str, kind: CertificateKind = "fleet") -> ssl.SSLContext:
        """The context `name` serves TLS with; the same object across its restarts."""
        if name not in self._contexts:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._load(context, name, kind)
            self._contexts[name] = context
        return self._contexts[name]

    def replace(self, name: str, kind: CertificateKind = "fleet") -> None:
        """Give `name` a new certificate (new key): new connections get it at once."""
        self._load(self.server_context(name, kind), name, kind)

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting the fleet's CA (a simulated appliance downloading)."""
        if self._client is None:
            self._client = ssl.create_default_context()
            self.ca.configure_trust(self._client)
        return self._client

    def _load(self, context: ssl.SSLContext, name: str, kind: CertificateKind) -> None:
        if kind == "self-signed":
            with _pem_file(*_self_signed(name)) as path:
                context.load_cert_chain(path)
            return
        self._issue(name, kind).configure_cert(context)

    def _issue(self, name: str, kind: CertificateKind) -> trustme.LeafCert:
        now = dt.datetime.now(dt.UTC)
        names: tuple[str, ...] = (HOST, "localhost")
        before, after = now - _DAY, now + 365 * _DAY
        ca = self.ca
        if kind == "other-ca":
            self._stranger = self._stranger or trustme.CA(organization_name="another CA")
            ca = self._stranger
        elif kind == "expired":
            before, after = now - 730 * _DAY, now - _DAY
        elif kind == "not-yet-valid":
            before, after = now + 30 * _DAY, now + 395 * _DAY
        elif kind == "wrong-name":
            names = (f"{name}.elsewhere.invalid",)
        return ca.issue_cert(
            *names,
            common_name=name,
            organization_name=_ORGANIZATION,
            not_before=before,
            not_after=after,
        )


def _self_signed(name: str) -> tuple[bytes, bytes]:
    """A key and a certificate signed by itself, for 127.0.0.1, as an appliance ships it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    names = [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 365 * _DAY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def _pem_file(*blocks: bytes) -> Iterator[Path]:
    """A private temporary file holding PEM blocks (load_cert_chain reads only files)."""
    fd, name = tempfile.mkstemp(prefix="orchestrator-sim-", suffix=".pem")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"".join(blocks))
        yield path
    finally:
        path.unlink(missing_ok=True)
