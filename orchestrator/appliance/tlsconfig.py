"""How one appliance's TLS is checked, as aiohttp's per-request `ssl=` setting.

By its pin when it has one (exactly that certificate, whoever signed it); else verified
against its `ca_bundle` or this machine's CAs; or, with `verify_tls: false`, not at all.

Appliances that name the same CA share one SSLContext (a fleet of 10,000 would otherwise load
its bundle 10,000 times and keep as many contexts); a bundle changed on disk gets a new one.
"""

from __future__ import annotations

import functools
import ssl
from typing import TYPE_CHECKING, NamedTuple

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


class _Bundle(NamedTuple):
    """A CA bundle file as it is now: a change to it (new inode, size or time) is a new key."""

    path: str
    device: int
    inode: int
    size: int
    modified_ns: int


def ca_context(appliance: Appliance) -> ssl.SSLContext:
    """A verifying context: the appliance's ca_bundle, else this machine's CAs (shared)."""
    bundle = appliance.ca_bundle
    if bundle is None:
        return _context(None)
    try:
        found = bundle.stat()
        key = _Bundle(str(bundle), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)
        return _context(key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        message = f"cannot load ca_bundle {bundle}: {reason}"
        raise PreconditionFailed(appliance.name, message) from exc


@functools.lru_cache(maxsize=64)
def _context(bundle: _Bundle | None) -> ssl.SSLContext:
    """One verifying context per CA bundle (None: this machine's CAs), made once."""
    if bundle is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=bundle.path)
