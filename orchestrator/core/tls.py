"""How an appliance's TLS certificate is checked, and certificate fingerprints as text.

A pin is the SHA-256 fingerprint of an appliance's certificate (its DER bytes), written
`sha256:` and 64 lowercase hexadecimal digits. `orchestrator trust` records pins; the client
then accepts exactly that certificate, whoever signed it.
"""

from __future__ import annotations

import enum
import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "TLS_ORDER",
    "TlsCheck",
    "fingerprint",
    "fingerprint_bytes",
    "fingerprint_text",
    "group_by_check",
    "normalise_fingerprint",
    "tls_check_text",
]

_PREFIX = "sha256:"
_HEX = re.compile(r"[0-9a-f]{64}")


class TlsCheck(enum.StrEnum):
    """How the orchestrator verifies an appliance it talks to (plan and report show it)."""

    CA = "ca"  # the certificate chains to ca_bundle (or this machine's CAs) and names the host
    PIN = "pin"  # the certificate is exactly the one pinned by `orchestrator trust`
    NONE = "none"  # verify_tls: false: any certificate is accepted (warned)
    HTTP = "http"  # an http:// URL (a local simulator): no TLS at all


_TEXT = {
    TlsCheck.CA: "verified by CA",
    TlsCheck.PIN: "verified by pin",
    TlsCheck.NONE: "NOT verified (verify_tls: false)",
    TlsCheck.HTTP: "no TLS (http://)",
}
# The order plans and reports list them in; None: a plan or run older than the TLS fields.
TLS_ORDER: tuple[TlsCheck | None, ...] = (*TlsCheck, None)


def tls_check_text(check: TlsCheck | None) -> str:
    """How people read it: `verified by CA`, `verified by pin`, `NOT verified (...)`, ..."""
    return _TEXT[check] if check is not None else "not recorded"


def group_by_check(items: Iterable[tuple[str, TlsCheck | None]]) -> list[tuple[str, list[str]]]:
    """(text, names) for each kind of check that `(name, check)` items use, in TLS_ORDER."""
    groups: dict[TlsCheck | None, list[str]] = {}
    for name, check in items:
        groups.setdefault(check, []).append(name)
    return [(tls_check_text(check), groups[check]) for check in TLS_ORDER if check in groups]


def fingerprint(der: bytes) -> str:
    """The pin of a certificate given as DER bytes: `sha256:` and 64 hex digits."""
    return fingerprint_text(hashlib.sha256(der).digest())


def fingerprint_text(digest: bytes) -> str:
    """A SHA-256 digest as a pin: `sha256:` and 64 hex digits."""
    return _PREFIX + digest.hex()


def normalise_fingerprint(text: str) -> str | None:
    """`sha256:HEX` from what people paste (openssl's `AB:CD:...` too), or None if it is not one."""
    value = text.strip().lower()
    if not value.startswith(_PREFIX):
        return None
    digits = value.removeprefix(_PREFIX).replace(":", "")
    return _PREFIX + digits if _HEX.fullmatch(digits) else None


def fingerprint_bytes(pin: str) -> bytes:
    """The 32 digest bytes of a normalised pin (for aiohttp's Fingerprint)."""
    return bytes.fromhex(pin.removeprefix(_PREFIX))
