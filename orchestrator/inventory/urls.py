"""Appliance base URLs: checked and written one canonical way (inventories, saved plans)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["is_loopback", "normalise_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")
_MAX_PORT = 65535


def normalise_url(text: str) -> str:
    """`text` as a canonical base URL; raises ValueError saying what to write instead."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("must start with https:// (or http:// for a local simulator)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain user:password@; the API key authenticates")
    host = parts.hostname
    if not host or not _valid_host(host):
        raise ValueError("has no valid host; write https://eda1.example.net or https://10.0.0.5")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 0 < port <= _MAX_PORT:
        raise ValueError("has a bad port; write https://HOST:PORT with PORT from 1 to 65535")
    if parts.query or parts.fragment:
        raise ValueError("must not have a ?query or #fragment; write the appliance's base URL")
    path = parts.path.rstrip("/")
    api = (path.lower() + "/").find("/api/")  # the client adds /api/v1/... itself
    if api >= 0:
        raise ValueError(f"must be the appliance's base URL; remove {path[api:]}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path}"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _valid_host(host: str) -> bool:
    return _ip(host) is not None or _HOST.fullmatch(host) is not None


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine (localhost, 127.0.0.0/8, ::1)."""
    address = _ip(host)
    return host == "localhost" or (address is not None and address.is_loopback)
