"""A simulated appliance downloading firmware (download/url): for real, from this machine only.

A URL on a loopback address is fetched (the fleet's own repository, or any server a test
runs); the appliance reads the image's header and counts its bytes. Anything else fails the
way a download fails on an appliance, as one line for the job's `details`: a simulator never
sends traffic off this machine.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from orchestrator.simulator.images import HEADER_LIMIT
from orchestrator.simulator.jobs import Fetched

if TYPE_CHECKING:
    import ssl

__all__ = ["fetch"]

_CHUNK = 256 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)
_OK = 200


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch(
    session: aiohttp.ClientSession, url: str, *, trust: ssl.SSLContext | None
) -> Fetched:
    """Download `url` (https verified against `trust`, else this machine's CAs)."""
    parts = urlsplit(url)
    refusal = _refusal(parts.scheme.lower(), parts.hostname or "")
    if refusal is not None:
        return Fetched(error=refusal)
    try:
        async with session.get(
            url, ssl=trust or True, timeout=_TIMEOUT, allow_redirects=False
        ) as response:
            if response.status != _OK:
                return Fetched(
                    error=f"the server answered HTTP {response.status} {response.reason}"
                )
            return await _read(response)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Fetched(error=_explain(exc, parts.hostname or ""))


def _refusal(scheme: str, host: str) -> str | None:
    """Why this URL is not fetched at all, if it is not."""
    if not _local(host):
        return (
            f"cannot reach {host}: a simulated appliance downloads only from this machine "
            "(127.0.0.1); `orchestrator simulate --mode url` serves the images there"
        )
    if scheme == "ftp":
        return "ftp is not simulated; serve the image over http or https"
    return None


def _explain(exc: aiohttp.ClientError | TimeoutError, host: str) -> str:
    """A failed download in a few words, as an appliance's job details."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = getattr(exc.certificate_error, "verify_message", None) or "verify failed"
        return f"the TLS certificate of {host} is not trusted ({reason})"
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = os.strerror(exc.os_error.errno) if exc.os_error.errno else str(exc.os_error)
        return f"cannot connect to {exc.host}:{exc.port} ({why})"
    if isinstance(exc, TimeoutError):
        return f"timed out downloading from {host}"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


async def _read(response: aiohttp.ClientResponse) -> Fetched:
    """The header and size of the image the response carries."""
    head, size = b"", 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        if len(head) < HEADER_LIMIT:
            head += chunk[: HEADER_LIMIT - len(head)]
        size += len(chunk)
    return Fetched(head, size)
