"""How one appliance's TLS is checked, as aiohttp's per-request `ssl=` setting.

By its pin when it has one (exactly that certificate, whoever signed it); else verified
against its `ca_bundle` or this machine's CAs; or, with `verify_tls: false`, not at all.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import aiohttp

from orchestrator.core.errors import PreconditionFailed
from orchestrator.core.tls import fingerprint_bytes

if TYPE_CHECKING:
    from orchestrator.core.models import Appliance

__all__ = ["TlsSetting", "ca_context", "tls_setting"]

TlsSetting = ssl.SSLContext | bool | aiohttp.Fingerprint


def tls_setting(appliance: Appliance) -> TlsSetting:
    """The `ssl=` of every request to `appliance` (PreconditionFailed: ca_bundle unreadable)."""
    if appliance.pin is not None:
        # Exactly the pinned certificate: checked after the handshake, whoever signed it.
        return aiohttp.Fingerprint(fingerprint_bytes(appliance.pin))
    if not appliance.verify_tls:
        return False
    return True if appliance.ca_bundle is None else ca_context(appliance)


def ca_context(appliance: Appliance) -> ssl.SSLContext:
    """A verifying context: the appliance's ca_bundle, else this machine's CAs."""
    bundle = appliance.ca_bundle
    if bundle is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(bundle))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        message = f"cannot load ca_bundle {bundle}: {reason}"
        raise PreconditionFailed(appliance.name, message) from exc
