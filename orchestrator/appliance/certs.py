"""The certificate an appliance presents, read for `orchestrator trust` (trust on first use).

Only a TLS handshake is made: no HTTP request, so no API key reaches a server whose
certificate is not trusted yet. A second handshake, verifying as requests would (ca_bundle or
this machine's CAs, and the host name), says whether a CA vouches for it already.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography import x509

from orchestrator.appliance.tlsconfig import ca_context
from orchestrator.appliance.tlswords import certificate_problem
from orchestrator.core.errors import RequestTimeout, TransportError
from orchestrator.core.tls import fingerprint

if TYPE_CHECKING:
    import datetime as dt

    from orchestrator.core.models import Appliance

__all__ = ["Certificate", "Presented", "read_certificate"]

_HTTPS_PORT = 443


@dataclass(frozen=True)
class Certificate:
    """What people check before trusting a certificate."""

    fingerprint: str  # sha256:HEX of the DER bytes: the pin
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    names: tuple[str, ...]  # subject alternative names (DNS and IP)

    @property
    def self_signed(self) -> bool:
        """Whether it names itself as its issuer (as appliances ship)."""
        return self.subject == self.issuer

    def validity(self, now: dt.datetime) -> str:
        """`2025-11-29 to 2026-11-29`, with EXPIRED or NOT YET VALID when it is."""
        text = f"{self.not_before:%Y-%m-%d} to {self.not_after:%Y-%m-%d}"
        if now > self.not_after:
            return f"{text} (EXPIRED)"
        if now < self.not_before:
            return f"{text} (NOT YET VALID)"
        return text

    @classmethod
    def from_der(cls, der: bytes) -> Certificate:
        """Parse a DER certificate."""
        cert = x509.load_der_x509_certificate(der)
        try:
            extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            san = extension.value
            ips = (str(ip) for ip in san.get_values_for_type(x509.IPAddress))
            names = (*san.get_values_for_type(x509.DNSName), *ips)
        except x509.ExtensionNotFound:
            names = ()
        return cls(
            fingerprint=fingerprint(der),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            names=tuple(names),
        )


@dataclass(frozen=True)
class Presented:
    """An appliance's certificate, and why verifying it by CA fails (None: it passes)."""

    certificate: Certificate
    ca_problem: str | None


async def read_certificate(appliance: Appliance, *, seconds: float) -> Presented:
    """The certificate `appliance` presents, each handshake within `seconds`; TransportError."""
    parts = urlsplit(appliance.url)
    host, port = parts.hostname or "", parts.port or _HTTPS_PORT
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    der = await _handshake(appliance.name, host, port, unverified, seconds)
    if der is None:
        raise TransportError(appliance.name, f"{host}:{port} presented no certificate")
    return Presented(Certificate.from_der(der), await _ca_problem(appliance, host, port, seconds))


async def _ca_problem(appliance: Appliance, host: str, port: int, seconds: float) -> str | None:
    try:
        await _handshake(appliance.name, host, port, ca_context(appliance), seconds)
    except TransportError as exc:
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLCertVerificationError):
            return certificate_problem(cause, host)[0]
        return exc.message
    return None


async def _handshake(
    name: str, host: str, port: int, context: ssl.SSLContext, seconds: float
) -> bytes | None:
    """One TLS handshake; the peer's DER certificate. Foreign errors become TransportError."""
    try:
        async with asyncio.timeout(seconds):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host, ssl_handshake_timeout=seconds
            )
    except TimeoutError as exc:
        raise RequestTimeout(name, f"timed out connecting to {host}:{port}") from exc
    except ssl.SSLError as exc:
        reason = exc.reason or type(exc).__name__
        message = f"no TLS handshake with {host}:{port} ({reason}); is it an https:// port?"
        raise TransportError(name, message) from exc
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
        raise TransportError(name, f"cannot connect to {host}:{port} ({why})") from exc
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return bytes(der) if der else None
