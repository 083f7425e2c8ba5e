"""What a certificate failure means, in an operator's words: what failed, and the fix.

OpenSSL says why it refused a certificate as a verify code; the five an operator meets on a
fleet (self-signed, unknown CA, name mismatch, expired, not yet valid) each get their own
words and their own fix. A pinned certificate that changed gets the old and the new
fingerprints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.tls import fingerprint_text

if TYPE_CHECKING:
    import ssl

__all__ = ["TRUST_HINT", "certificate_problem", "pin_mismatch"]

TRUST_HINT = "`orchestrator trust INVENTORY`"

# OpenSSL's X509_V_ERR_* codes, grouped by what an operator can do about them.
_SELF_SIGNED = frozenset({18})  # DEPTH_ZERO_SELF_SIGNED_CERT
_UNKNOWN_CA = frozenset({2, 19, 20, 21})  # no trusted issuer, or a self-signed root sent
_EXPIRED = frozenset({10})  # CERT_HAS_EXPIRED
_NOT_YET_VALID = frozenset({9})  # CERT_NOT_YET_VALID
_NAME_MISMATCH = frozenset({62, 64})  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH


def certificate_problem(error: ssl.SSLCertVerificationError, host: str) -> tuple[str, str]:
    """(what failed, what to do) for a certificate the client refused."""
    code = getattr(error, "verify_code", None)  # set by OpenSSL; absent on one made by hand
    if code in _SELF_SIGNED:
        return (
            "its certificate is self-signed",
            f"pin it with {TRUST_HINT}, or add that certificate to ca_bundle",
        )
    if code in _UNKNOWN_CA:
        return (
            "its certificate is signed by an unknown CA",
            f"set ca_bundle to the CA that signed it, or pin it with {TRUST_HINT}",
        )
    if code in _EXPIRED:
        return (
            "its certificate has expired",
            f"renew the appliance's certificate, or pin it as it is with {TRUST_HINT}",
        )
    if code in _NOT_YET_VALID:
        return (
            "its certificate is not valid yet",
            f"check the clock here and on the appliance, or pin it with {TRUST_HINT}",
        )
    if code in _NAME_MISMATCH:
        return (
            f"its certificate is not issued for {host} (name mismatch)",
            (
                "write the name the certificate was issued for in the inventory's url, "
                f"or pin it with {TRUST_HINT}"
            ),
        )
    said = getattr(error, "verify_message", None) or getattr(error, "reason", None)
    reason = " ".join(str(said or "verify failed").split())
    return (
        f"its certificate was refused ({reason})",
        f"set ca_bundle to the CA that signed it, or pin it with {TRUST_HINT}",
    )


def pin_mismatch(expected: bytes, got: bytes) -> str:
    """The sentence for a pinned appliance whose certificate is no longer the pinned one."""
    return (
        f"its certificate changed since it was pinned (pinned {fingerprint_text(expected)}, "
        f"now {fingerprint_text(got)}); if the appliance's certificate was replaced on "
        f"purpose, check the new fingerprint and re-pin it with {TRUST_HINT}"
    )
