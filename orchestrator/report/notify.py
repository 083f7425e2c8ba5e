"""POST the run's JSON summary to a webhook (`--notify-url`) with the standard library.

Only `client.py` and the simulator may import aiohttp, so the request goes through
`urllib.request` in a worker thread. Transient failures are retried with stamina; a webhook
that still fails is logged (`notify.failed`) and never changes the run's exit code.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.client
import importlib.metadata
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import stamina
import structlog

from orchestrator.core.errors import ConfigError

__all__ = ["ATTEMPTS", "check_url", "notify", "redact_url"]

ATTEMPTS = 4  # one try and three retries, with jittered backoff between them

_DISTRIBUTION = "extrahop-orchestrator"
_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500

_log = structlog.get_logger(__name__)


class _TransientError(Exception):
    """Delivery failed in a way a later attempt may fix: connection trouble, 5xx, 429."""


class _RejectedError(Exception):
    """The receiver refused the payload for good (a 4xx other than 429, or a redirect)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would replay a POST as a bodiless GET and carry auth along."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        """Decline every redirect, so the 3xx surfaces as an HTTPError."""
        return


@dataclass(frozen=True)
class _Target:
    """Where to POST: the URL without userinfo, its redacted form, and Basic auth if any."""

    url: str
    redacted: str
    authorization: str | None


@functools.cache
def _user_agent() -> str:
    """`orchestrator/<installed version>`."""
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"orchestrator/{version}"


def _netloc(parts: urllib.parse.SplitResult) -> str:
    """Host and port of a split URL, without any user name or password."""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


def redact_url(url: str) -> str:
    """The URL without userinfo, query or fragment, safe to log (webhook tokens hide there)."""
    try:
        parts = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit((parts.scheme, _netloc(parts), parts.path, "", ""))
    except ValueError:
        return "<unparsable URL>"


def _basic_auth(parts: urllib.parse.SplitResult) -> str | None:
    """An Authorization header for user:password in the URL (urllib ignores userinfo)."""
    if parts.username is None:
        return None
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def check_url(url: str) -> str:
    """Validate a `--notify-url` up front (ConfigError if unusable); return it redacted for logs."""
    return _parse_target(url).redacted


def _parse_target(url: str) -> _Target:
    """Check the webhook URL (http or https with a host); ConfigError otherwise."""
    redacted = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"--notify-url {redacted}: not a valid URL ({exc})") from None
    if port == 0:  # urllib accepts it, but nothing can be reached there
        raise ConfigError(f"--notify-url {redacted}: port 0; write a port from 1 to 65535")
    if any(char.isspace() or not char.isprintable() for char in url.strip()):
        raise ConfigError(f"--notify-url {redacted}: contains spaces or control characters")
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"--notify-url {redacted}: expected an http:// or https:// URL with a host, "
            "such as https://hooks.example.net/orchestrator"
        )
    bare = urllib.parse.urlunsplit(
        (parts.scheme, _netloc(parts), parts.path or "/", parts.query, "")
    )
    return _Target(url=bare, redacted=redacted, authorization=_basic_auth(parts))


def _request(target: _Target, payload: dict[str, Any]) -> urllib.request.Request:
    """The POST request carrying `payload` as JSON."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "*/*",
        "User-Agent": _user_agent(),
    }
    if target.authorization:
        headers["Authorization"] = target.authorization
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    # The scheme was checked by _parse_target: only http and https get here.
    return urllib.request.Request(target.url, data=body, headers=headers, method="POST")  # noqa: S310


def _opener(*, verify_tls: bool) -> urllib.request.OpenerDirector:
    """An opener that never follows redirects and verifies TLS unless told not to."""
    context = ssl.create_default_context()
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))


def _post(
    request: urllib.request.Request, timeout: float, opener: urllib.request.OpenerDirector
) -> int:
    """Send the request once (blocking); return the HTTP status or raise a classified error."""
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response body open
        if exc.code == _TOO_MANY_REQUESTS or exc.code >= _SERVER_ERROR:
            raise _TransientError(f"HTTP {exc.code}") from None
        raise _RejectedError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ssl.SSLCertVerificationError):  # retrying will not fix it
            raise _RejectedError(str(exc.reason)) from None
        raise _TransientError(str(exc.reason)) from None
    except OSError as exc:
        raise _TransientError(f"{type(exc).__name__}: {exc}") from None
    except http.client.HTTPException as exc:  # a garbled answer; its text may quote the URL
        raise _TransientError(type(exc).__name__) from None


async def _deliver(
    request: urllib.request.Request, per_try: float, opener: urllib.request.OpenerDirector
) -> int:
    """POST with retries on transient failures; return the final HTTP status."""
    status = 0
    async for attempt in stamina.retry_context(
        on=_TransientError, attempts=ATTEMPTS, timeout=None, wait_initial=0.5, wait_max=5.0
    ):
        with attempt:
            status = await asyncio.to_thread(_post, request, per_try, opener)
    return status


async def notify(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 — per-request timeout of the blocking urllib call
    verify_tls: bool = True,
) -> None:
    """POST `payload` as JSON to `url`; log `notify.sent`, or `notify.failed` and return.

    Raises ConfigError for a URL that is not http(s); delivery failures never raise.
    """
    target = _parse_target(url)
    request = _request(target, payload)
    try:
        status = await _deliver(request, timeout, _opener(verify_tls=verify_tls))
    except (_TransientError, _RejectedError) as exc:
        _log.warning("notify.failed", url=target.redacted, error=str(exc))
        return
    _log.info("notify.sent", url=target.redacted, status=status)
