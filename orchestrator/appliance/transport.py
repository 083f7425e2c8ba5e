"""The boundary where aiohttp, OSError and JSON errors become the orchestrator's own.

Everything foreign that a request can raise is translated in `map_aiohttp_errors`; HTTP
error answers become `ApiError`/`AuthError` in `http_error`; the retry policies decide, from
the translated error and its cause, whether a request may be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import json
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pydantic

from orchestrator.appliance.tlswords import certificate_problem, pin_mismatch
from orchestrator.core.errors import (
    ApiError,
    AuthError,
    OrchestratorError,
    RequestTimeout,
    TransportError,
    is_transient,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "Answer",
    "http_error",
    "idempotent_retry",
    "is_tls_failure",
    "map_aiohttp_errors",
    "parse_retry_after",
    "unprocessed_retry",
]

_MAX_MESSAGE = 300  # characters of an appliance's error_message worth showing
_TLS_ERRORS = (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch, ssl.SSLError)
# OpenSSL's reasons when the server answered the TLS handshake in plain text (plain HTTP):
# "wrong version number" (OpenSSL 1.1-3.1), "record layer failure" and "packet length too long"
# (3.2+), "unknown protocol" (LibreSSL and older OpenSSL).
_PLAIN_TEXT_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)
_TIMEOUTS = (aiohttp.ServerTimeoutError, asyncio.TimeoutError)
# Raised before a single byte of the request went out: the appliance surely did nothing.
_NOTHING_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
_UNPROCESSED_STATUSES = frozenset({429, 503})  # the appliance says it did not act
_AUTH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read in full while the connection was open."""

    status: int
    reason: str
    body: bytes
    location: str | None = None
    retry_after: str | None = None


@contextlib.contextmanager
def map_aiohttp_errors(appliance_name: str, *, request: str = "request") -> Iterator[None]:
    """Translate every aiohttp, OSError, timeout and decoding error into the exception tree."""
    try:
        yield
    except OrchestratorError:
        raise
    except _TLS_ERRORS as exc:
        raise TransportError(appliance_name, _tls_message(exc, request)) from exc
    except _TIMEOUTS as exc:
        kind = "connecting" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "waiting"
        raise RequestTimeout(appliance_name, f"timed out {kind} for {request}") from exc
    except aiohttp.ClientResponseError as exc:
        raise _response_error(appliance_name, exc) from exc
    except (aiohttp.ClientError, OSError) as exc:
        if isinstance(exc.__cause__, OrchestratorError):  # raised by our own request body
            raise exc.__cause__ from None
        raise TransportError(appliance_name, f"{request} failed: {_explain(exc)}") from exc
    except (ValueError, pydantic.ValidationError) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too.
        message = f"unexpected answer to {request}: {_describe_value_error(exc)}"
        raise TransportError(appliance_name, message) from exc


def _tls_message(exc: BaseException, request: str) -> str:
    """What went wrong with TLS, and the fix: the URL's scheme, the CA, or a pin."""
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return f"TLS refused for {request}: {pin_mismatch(exc.expected, exc.got)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) and isinstance(
        exc.certificate_error, ssl.SSLCertVerificationError
    ):
        what, fix = certificate_problem(exc.certificate_error, exc.host)
        return f"TLS verification failed for {request}: {what}; {fix}"
    error: BaseException = exc
    where = ""
    if isinstance(exc, aiohttp.ClientConnectorError):
        error, where = exc.os_error, f" on {exc.host}:{exc.port}"
    if getattr(error, "reason", None) in _PLAIN_TEXT_REASONS:
        return (
            f"{request} failed: the appliance does not speak TLS{where} ({_describe(error)}); "
            "use an http:// URL for a plain-HTTP appliance such as the simulator, or the port "
            "the appliance serves HTTPS on"
        )
    return (
        f"TLS failed for {request} ({_describe(exc)}); set ca_bundle to the CA that signed "
        "the appliance's certificate, or pin it with `orchestrator trust INVENTORY`"
    )


def _response_error(appliance_name: str, exc: aiohttp.ClientResponseError) -> ApiError:
    reason = exc.message or "no reason given"
    kind = AuthError if exc.status in _AUTH_STATUSES else ApiError
    return kind(appliance_name, exc.status, _one_line(reason))


def _explain(exc: BaseException) -> str:
    """Plain words for the connection failures operators meet most, else the class and text."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve {exc.host}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        why = os.strerror(error.errno) if error.errno else error.strerror or type(error).__name__
        return f"cannot connect to {exc.host}:{exc.port} ({why})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the appliance closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut short"
    return _describe(exc)


def _describe(exc: BaseException) -> str:
    """The class and text of a foreign exception, on one line."""
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe_value_error(exc: ValueError) -> str:
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{where}: {first['msg']}"  # never the input, which could be anything
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON ({exc.msg} at character {exc.pos})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return _describe(exc)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"


def http_error(appliance_name: str, answer: Answer, *, secret: str) -> ApiError:
    """The ApiError (AuthError for 401/403) for an HTTP error answer."""
    message = _error_message(answer) or answer.reason or f"HTTP {answer.status}"
    if secret:
        message = message.replace(secret, "<redacted>")  # in case an appliance echoes the key
    if answer.status in _AUTH_STATUSES:
        return AuthError(appliance_name, answer.status, message)
    retry_after = parse_retry_after(answer.retry_after)
    return ApiError(appliance_name, answer.status, message, retry_after=retry_after)


def _error_message(answer: Answer) -> str:
    try:
        data = json.loads(answer.body)
    except ValueError:
        return ""
    message = data.get("error_message") if isinstance(data, dict) else None
    return _one_line(message) if isinstance(message, str) else ""


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    with contextlib.suppress(ValueError):
        return max(0.0, float(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _cause(exc: Exception) -> BaseException | None:
    return exc.__cause__


def is_tls_failure(exc: Exception) -> bool:
    """Whether a translated error came from TLS: retrying will not fix a certificate."""
    return isinstance(_cause(exc), _TLS_ERRORS)


def _wait(exc: Exception, max_wait: float) -> bool | float:
    """Retry after the appliance's Retry-After when it gave one; give up if that is too long."""
    if isinstance(exc, ApiError) and exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= max_wait else False
    return True


def idempotent_retry(max_wait: float) -> Callable[[Exception], bool | float]:
    """Retry hook (stamina `on=`) for requests safe to repeat: any transient fault, except TLS."""

    def hook(exc: Exception) -> bool | float:
        if not is_transient(exc) or is_tls_failure(exc):
            return False
        return _wait(exc, max_wait)

    return hook


def unprocessed_retry(max_wait: float) -> Callable[[Exception], bool | float]:
    """Retry hook (stamina `on=`) for POSTs: retry only when the appliance surely did not act."""

    def hook(exc: Exception) -> bool | float:
        if isinstance(exc, ApiError):
            unprocessed = exc.status in _UNPROCESSED_STATUSES
        else:
            unprocessed = isinstance(exc, TransportError) and _nothing_sent(exc)
        return _wait(exc, max_wait) if unprocessed else False

    return hook


def _nothing_sent(exc: Exception) -> bool:
    cause: Any = _cause(exc)
    return isinstance(cause, _NOTHING_SENT) and not isinstance(cause, _TLS_ERRORS)
