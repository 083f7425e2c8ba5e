"""Faults a real server cannot easily produce, faked with aioresponses, and the error boundary."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import pydantic
import pytest
import stamina
from aiohttp import web
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import SecretStr
from structlog.testing import capture_logs
from yarl import URL

from orchestrator.appliance.client import ApplianceClient, map_aiohttp_errors
from orchestrator.appliance.transport import parse_retry_after
from orchestrator.core import errors
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, FileFirmware, Role

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

BASE = "https://eda1.example.net"
API = f"{BASE}/api/v1"
KEY = "k-super-secret-0123456789"


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture
def settings() -> Settings:
    return Settings(requests_per_second=1000, retry_attempts=3, retry_timeout=5)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


def make_appliance(**overrides: object) -> Appliance:
    fields: dict[str, Any] = {
        "name": "eda1",
        "url": BASE,
        "role": Role.DISCOVER,
        "firmware": FileFirmware(file=Path("eda.tar")),
        "api_key": SecretStr(KEY),
    } | overrides
    return Appliance(**fields)


@pytest.fixture
def client(session: aiohttp.ClientSession, settings: Settings) -> ApplianceClient:
    return ApplianceClient(session, make_appliance(), settings)


def calls(mock: aioresponses, method: str, url: str) -> int:
    return len(mock.requests.get((method, URL(url)), []))


# --- one boundary: every foreign error is mapped --------------------------------------------


def _all_subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def _request_info() -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"ExtraHop apikey={KEY}"}))
    url = URL(f"{API}/extrahop")
    return aiohttp.RequestInfo(url, "GET", headers, url)


def _instance(cls: type[BaseException]) -> BaseException:
    """One instance of an aiohttp exception class, whatever its constructor wants."""
    key = ConnectionKey("eda1.example.net", 443, True, True, None, None, None)
    attempts: list[tuple[Any, ...]] = [
        (key, OSError(111, "Connection refused")),
        ("/run/eh.sock", key, OSError(111, "Connection refused")),
        (_request_info(), ()),
        (b"expected", b"got", "eda1.example.net", 443),
        (URL(f"{API}/x"), "bad URL"),
        ("it broke",),
        (),
    ]
    for args in attempts:
        try:
            exc = cls(*args)
            str(exc)
        except (TypeError, AttributeError, ValueError):
            continue
        if issubclass(cls, aiohttp.ClientResponseError):
            exc.status = 500  # type: ignore[attr-defined]
        return exc
    raise AssertionError(f"teach this test to build {cls.__name__}")


AIOHTTP_ERRORS = sorted(_all_subclasses(aiohttp.ClientError), key=lambda c: c.__name__)
OTHER_ERRORS = [
    OSError(104, "Connection reset by peer"),
    ConnectionResetError(),
    TimeoutError(),
    ssl.SSLCertVerificationError(1, "certificate verify failed"),
    json.JSONDecodeError("Expecting value", "<html>", 0),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
]


@pytest.mark.parametrize("exc_class", AIOHTTP_ERRORS, ids=lambda c: c.__name__)
def test_every_aiohttp_error_is_mapped(exc_class: type[BaseException]) -> None:
    """Every aiohttp exception class raised inside the boundary becomes an OrchestratorError."""
    with pytest.raises(errors.ApplianceError) as caught, map_aiohttp_errors("eda1"):
        raise _instance(exc_class)
    assert caught.value.appliance == "eda1"
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("exc", OTHER_ERRORS, ids=lambda e: type(e).__name__)
def test_os_timeout_and_decoding_errors_are_mapped(exc: Exception) -> None:
    """OSError, timeouts, TLS and JSON/UTF-8 decoding errors come out as TransportError."""
    with pytest.raises(errors.TransportError), map_aiohttp_errors("eda1"):
        raise exc


def test_validation_errors_are_mapped_without_the_input() -> None:
    """A pydantic validation failure becomes 'unexpected answer' naming the field, not the data."""

    class Model(pydantic.BaseModel):
        version: str

    with pytest.raises(errors.TransportError) as caught, map_aiohttp_errors("eda1", request="GET"):
        Model.model_validate({"version": ["secret-looking-input"]})
    assert "unexpected answer to GET" in str(caught.value)
    assert "version" in str(caught.value)
    assert "secret-looking-input" not in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(aiohttp.SocketTimeoutError(), errors.RequestTimeout, id="read-timeout"),
        pytest.param(aiohttp.ConnectionTimeoutError(), errors.RequestTimeout, id="connect-timeout"),
        pytest.param(TimeoutError(), errors.RequestTimeout, id="asyncio-timeout"),
        pytest.param(aiohttp.ServerDisconnectedError(), errors.TransportError, id="disconnected"),
        pytest.param(aiohttp.ClientPayloadError("cut"), errors.TransportError, id="payload"),
    ],
)
def test_errors_map_to_the_right_branch(exc: Exception, expected: type[Exception]) -> None:
    """Timeouts become RequestTimeout and broken connections TransportError."""
    with pytest.raises(expected), map_aiohttp_errors("eda1"):
        raise exc


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, errors.AuthError), (403, errors.AuthError), (404, errors.ApiError)],
)
def test_response_errors_keep_their_status(status: int, expected: type[Exception]) -> None:
    """An aiohttp ClientResponseError becomes ApiError (AuthError for 401/403) with its status."""
    exc = aiohttp.ClientResponseError(_request_info(), (), status=status, message="Nope")
    with pytest.raises(expected) as caught, map_aiohttp_errors("eda1"):
        raise exc
    assert isinstance(caught.value, errors.ApiError)
    assert caught.value.status == status
    assert caught.value.error_message == "Nope"


def test_orchestrator_errors_pass_through_unchanged() -> None:
    """An error already in the tree is not wrapped a second time."""
    original = errors.JobFailed("eda1", "j1", "FAILED")
    with pytest.raises(errors.JobFailed) as caught, map_aiohttp_errors("eda1"):
        raise original
    assert caught.value is original


# --- faults a server cannot produce, injected with aioresponses --------------------------
# (aioresponses 0.7.9 cannot build responses for aiohttp 3.14, so it only injects exceptions;
# odd answers come from the scripted in-process server below.)


def _refused() -> aiohttp.ClientConnectorError:
    key = ConnectionKey("eda1.example.net", 443, True, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


async def test_tls_failure_names_the_fix_and_is_not_retried(
    client: ApplianceClient, mocked: aioresponses
) -> None:
    """An unverifiable certificate fails at once, telling the operator to set ca_bundle."""
    key = ConnectionKey("eda1.example.net", 443, True, True, None, None, None)
    cert_error = aiohttp.ClientConnectorCertificateError(key, ssl.SSLCertVerificationError(1))
    mocked.get(f"{API}/extrahop/version", exception=cert_error, repeat=True)
    with pytest.raises(errors.TransportError, match=r"TLS verification failed.*ca_bundle"):
        await client.get_version()
    assert calls(mocked, "GET", f"{API}/extrahop/version") == 1


async def test_read_timeout_on_get_is_retried(
    client: ApplianceClient, mocked: aioresponses
) -> None:
    """A GET that timed out waiting for its answer is sent again, up to retry_attempts times."""
    mocked.get(f"{API}/extrahop/version", exception=aiohttp.SocketTimeoutError(), repeat=True)
    with pytest.raises(errors.RequestTimeout):
        await client.get_version()
    assert calls(mocked, "GET", f"{API}/extrahop/version") == 3


async def test_a_first_attempt_that_used_up_the_retry_budget_is_not_retried(
    client: ApplianceClient, mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    """retry_timeout counts from the first attempt: one that took all of it is not sent again."""
    clock = iter([100.0, 106.0])  # the first attempt took 6 s of the 5 s budget
    monkeypatch.setattr(
        "orchestrator.appliance.client.time", SimpleNamespace(monotonic=lambda: next(clock))
    )
    mocked.get(f"{API}/extrahop/version", exception=aiohttp.SocketTimeoutError(), repeat=True)
    with pytest.raises(errors.RequestTimeout):
        await client.get_version()
    assert calls(mocked, "GET", f"{API}/extrahop/version") == 1


async def test_read_timeout_on_upgrade_is_not_retried(
    client: ApplianceClient, mocked: aioresponses
) -> None:
    """An upgrade POST whose answer timed out is never sent twice: the appliance may have acted."""
    url = f"{API}/extrahop/firmware/latest/upgrade"
    mocked.post(url, exception=aiohttp.SocketTimeoutError(), repeat=True)
    with pytest.raises(errors.RequestTimeout):
        await client.start_upgrade()
    assert calls(mocked, "POST", url) == 1


async def test_reset_after_sending_a_download_is_not_retried(
    client: ApplianceClient, mocked: aioresponses
) -> None:
    """A connection lost after the download POST went out fails instead of starting two jobs."""
    url = f"{API}/extrahop/firmware/download/url"
    mocked.post(url, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(errors.TransportError):
        await client.download_url("https://repo.example.net/eda-9.9.1.100.tar")
    assert calls(mocked, "POST", url) == 1


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(_refused(), id="refused"),
        pytest.param(aiohttp.ConnectionTimeoutError(), id="connect-timeout"),
    ],
)
async def test_unconnected_upgrade_is_retried(
    client: ApplianceClient, mocked: aioresponses, exc: Exception
) -> None:
    """An upgrade POST that never reached the appliance is sent again, up to retry_attempts."""
    url = f"{API}/extrahop/firmware/latest/upgrade"
    mocked.post(url, exception=exc, repeat=True)
    with pytest.raises(errors.TransportError):
        await client.start_upgrade()
    assert calls(mocked, "POST", url) == 3


async def test_disabled_verification_warns_once_per_client(
    session: aiohttp.ClientSession, settings: Settings, mocked: aioresponses
) -> None:
    """verify_tls: false logs one tls.verification_disabled warning and sends ssl=False."""
    mocked.get(f"{API}/extrahop/version", exception=_refused(), repeat=True)
    with capture_logs() as logs:
        client = ApplianceClient(session, make_appliance(verify_tls=False), settings)
        for _ in range(2):
            await client.ping()
    assert logs == [
        {"event": "tls.verification_disabled", "appliance": "eda1", "log_level": "warning"}
    ]
    sent = mocked.requests[("GET", URL(f"{API}/extrahop/version"))]
    assert [call.kwargs["ssl"] for call in sent] == [False, False]


SYSTEM_CA = next(
    (p for p in [Path(ssl.get_default_verify_paths().openssl_cafile)] if p.is_file()), None
)


async def test_ca_bundle_is_used_to_verify(
    session: aiohttp.ClientSession, settings: Settings, mocked: aioresponses
) -> None:
    """With a ca_bundle, requests verify against an SSL context that trusts that bundle."""
    bundle = SYSTEM_CA
    if bundle is None:
        pytest.skip("no system CA file to use as a bundle")
    client = ApplianceClient(session, make_appliance(ca_bundle=bundle), settings)
    mocked.get(f"{API}/extrahop/version", exception=_refused())
    assert await client.ping() is False
    sent = mocked.requests[("GET", URL(f"{API}/extrahop/version"))][0]
    context = sent.kwargs["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 0


async def test_requests_carry_key_timeouts_and_verification(
    session: aiohttp.ClientSession, mocked: aioresponses
) -> None:
    """Each request sends the key header, verifies TLS and uses the configured timeouts."""
    settings = Settings(connect_timeout=3, read_timeout=40, requests_per_second=1000)
    client = ApplianceClient(session, make_appliance(), settings)
    mocked.get(f"{API}/extrahop/version", exception=_refused())
    await client.ping()
    sent = mocked.requests[("GET", URL(f"{API}/extrahop/version"))][0].kwargs
    assert sent["ssl"] is True
    assert sent["headers"]["Authorization"] == f"ExtraHop apikey={KEY}"
    assert sent["headers"]["Accept"] == "application/json"
    timeout = sent["timeout"]
    assert (timeout.sock_connect, timeout.sock_read, timeout.total) == (3, 40, None)


async def test_bad_ca_bundle_fails_once_naming_the_file(
    session: aiohttp.ClientSession, settings: Settings, tmp_path: Path, mocked: aioresponses
) -> None:
    """A ca_bundle that cannot be loaded fails the appliance with the path, without retrying."""
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("not a certificate")
    client = ApplianceClient(session, make_appliance(ca_bundle=bundle), settings)
    with pytest.raises(errors.PreconditionFailed, match=r"corp-ca\.pem"):
        await client.get_version()
    assert not mocked.requests


# --- odd answers, from a scripted in-process server -----------------------------------


class Script:
    """Canned answers per path, served in order by a real aiohttp server."""

    def __init__(self) -> None:
        self.answers: dict[str, list[web.StreamResponse | float]] = {}
        self.seen: list[str] = []
        self.requests: list[tuple[dict[str, str], int]] = []  # headers and body size

    def add(self, path: str, *answers: web.StreamResponse | float) -> None:
        """Queue answers for `path`; the last one repeats."""
        self.answers.setdefault(path, []).extend(answers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request and give the next canned answer."""
        self.seen.append(f"{request.method} {request.path}")
        self.requests.append((dict(request.headers), len(await request.read())))
        queue = self.answers.get(request.path) or [web.Response(status=404, reason="Not Found")]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, float):  # a delay longer than the read timeout
            await asyncio.sleep(answer)
            return web.json_response({"version": "late"})
        return answer


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        yield script, str(server.make_url("")).rstrip("/")


@pytest.fixture
def scripted(
    script: tuple[Script, str], session: aiohttp.ClientSession, settings: Settings
) -> tuple[Script, ApplianceClient]:
    recorder, url = script
    return recorder, ApplianceClient(session, make_appliance(url=url), settings)


def json_answer(data: object, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


VERSION = "/api/v1/extrahop/version"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>maintenance</html>", id="html"),
        pytest.param(b"", id="empty"),
        pytest.param(b'["9.8"]', id="wrong-shape"),
        pytest.param(b'{"version": 9.8}', id="wrong-type"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
async def test_garbage_answer_is_an_unexpected_answer(
    scripted: tuple[Script, ApplianceClient], body: bytes
) -> None:
    """A 200 whose body is not the JSON expected is reported as an unexpected answer."""
    script, client = scripted
    script.add(VERSION, web.Response(body=body, content_type="text/html"))
    with pytest.raises(errors.TransportError, match="unexpected answer to GET /api/v1/extrahop"):
        await client.get_version()


async def test_job_without_status_is_an_unexpected_answer(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """A job answer missing its status fails validation and says which field is wrong."""
    script, client = scripted
    script.add("/api/v1/jobs/j1", json_answer({"id": "j1", "step_number": 1}))
    with pytest.raises(errors.TransportError, match="status"):
        await client.get_job("j1")


async def test_extra_and_null_fields_are_tolerated(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """Fields the model does not know, and nulls, do not break reading an appliance."""
    script, client = scripted
    body = {"version": "9.8.0.100", "platform": "discover", "hostname": None, "x": 1}
    script.add("/api/v1/extrahop", json_answer(body))
    info = await client.get_info()
    assert (info.version, info.platform, info.hostname) == ("9.8.0.100", "discover", "")


async def test_slow_answer_is_a_timeout(
    script: tuple[Script, str], session: aiohttp.ClientSession
) -> None:
    """An appliance slower than read_timeout raises RequestTimeout after the retries."""
    recorder, url = script
    settings = Settings(read_timeout=0.1, requests_per_second=1000, retry_attempts=2)
    client = ApplianceClient(session, make_appliance(url=url), settings)
    recorder.add(VERSION, 0.5)
    with pytest.raises(errors.RequestTimeout, match="timed out waiting for GET"):
        await client.get_version()
    assert recorder.seen == [f"GET {VERSION}"] * 2


async def test_redirect_is_not_followed(scripted: tuple[Script, ApplianceClient]) -> None:
    """A redirect is reported as an error instead of carrying the key to another address."""
    script, client = scripted
    script.add(VERSION, web.Response(status=302, headers={"Location": "/elsewhere"}))
    with pytest.raises(errors.ApiError) as caught:
        await client.get_version()
    assert caught.value.status == 302
    assert script.seen == [f"GET {VERSION}"]


async def test_unrecognised_location_gives_no_job_id(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """A Location that is not a job URL yields None, so the caller polls the version instead."""
    script, client = scripted
    path = "/api/v1/extrahop/firmware/latest/upgrade"
    script.add(path, web.Response(status=202, headers={"Location": "/somewhere/else"}))
    with capture_logs() as logs:
        assert await client.start_upgrade() is None
    assert [e["event"] for e in logs] == ["job.location_unrecognised"]


async def test_absolute_location_gives_the_job_id(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """A job Location given as a full URL still yields the job id."""
    script, client = scripted
    path = "/api/v1/extrahop/firmware/download/version"
    location = "https://eda1.example.net/api/v1/jobs/7f3e"
    script.add(path, web.Response(status=202, headers={"Location": location}))
    assert await client.download_version("9.9.1.100") == "7f3e"


async def test_long_retry_after_is_not_waited(scripted: tuple[Script, ApplianceClient]) -> None:
    """A 429 asking to wait longer than the retry budget fails at once, saying how long."""
    script, client = scripted
    script.add(VERSION, json_answer({}, 429, **{"Retry-After": "3600"}))
    with pytest.raises(errors.ApiError) as caught:
        await client.get_version()
    assert caught.value.retry_after == 3600
    assert script.seen == [f"GET {VERSION}"]


async def test_error_message_falls_back_to_the_reason(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """An error without a JSON error_message is described by its HTTP reason phrase."""
    script, client = scripted
    script.add(VERSION, web.Response(status=404, reason="Not Found", text="<html/>"))
    with pytest.raises(errors.ApiError, match="HTTP 404: Not Found"):
        await client.get_version()


async def test_ping_reports_a_busy_appliance_without_retrying(
    scripted: tuple[Script, ApplianceClient],
) -> None:
    """Ping answers False on a 5xx or 429 and True on a 200, one request each."""
    script, client = scripted
    script.add(
        VERSION,
        json_answer({"error_message": "starting"}, 503),
        json_answer({}, 429, **{"Retry-After": "1"}),
        json_answer({"version": "9.9.1.100"}),
    )
    assert [await client.ping() for _ in range(3)] == [False, False, True]
    assert len(script.seen) == 3


async def test_ping_raises_on_auth_errors(scripted: tuple[Script, ApplianceClient]) -> None:
    """Ping still raises AuthError: a revoked key will not fix itself while waiting."""
    script, client = scripted
    script.add(VERSION, json_answer({"error_message": "revoked"}, 401))
    with pytest.raises(errors.AuthError, match="revoked"):
        await client.ping()


async def test_ping_reports_an_unreachable_appliance(
    session: aiohttp.ClientSession, settings: Settings
) -> None:
    """Nothing listening means ping is False and a read fails saying the connection was refused."""
    client = ApplianceClient(session, make_appliance(url="http://127.0.0.1:9"), settings)
    assert await client.ping() is False
    with pytest.raises(errors.TransportError) as caught:
        await client.get_version()
    assert caught.value.message == (
        "GET /api/v1/extrahop/version failed: cannot connect to 127.0.0.1:9 (Connection refused)"
    )


# --- Retry-After parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("7", 7.0, id="seconds"),
        pytest.param("0.5", 0.5, id="fraction"),
        pytest.param("-3", 0.0, id="negative"),
        pytest.param("Tue, 24 Nov 2026 05:00:30 GMT", 30.0, id="http-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_is_parsed(header: str | None, expected: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date, and ignored when unreadable."""
    now = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
    assert parse_retry_after(header, now=now) == expected


# --- secrets -----------------------------------------------------------------------------


def _secret_answers() -> list[web.StreamResponse | float]:
    return [
        json_answer({"error_message": f"key {KEY} revoked"}, 401),
        json_answer({"error_message": "forbidden"}, 403),
        json_answer({"error_message": "a job is already running"}, 409),
        json_answer({}, 429, **{"Retry-After": "999"}),
        web.Response(status=500, text=KEY),
        web.Response(text="not json"),
        0.5,
    ]


async def _all_error_types(
    script: tuple[Script, str], session: aiohttp.ClientSession, tmp_path: Path
) -> list[errors.ApplianceError]:
    recorder, url = script
    settings = Settings(read_timeout=0.1, requests_per_second=1000, retry_attempts=2)
    client = ApplianceClient(session, make_appliance(url=url), settings)
    caught: list[errors.ApplianceError] = []
    for answer in _secret_answers():
        recorder.answers[VERSION] = [answer]
        with pytest.raises(errors.ApplianceError) as info:
            await client.get_version()
        caught.append(info.value)
    unreachable = ApplianceClient(session, make_appliance(url="http://127.0.0.1:9"), settings)
    bad_bundle = tmp_path / "ca.pem"
    bad_bundle.write_text("nope")
    no_ca = ApplianceClient(session, make_appliance(url=url, ca_bundle=bad_bundle), settings)
    for call in (
        unreachable.get_version(),
        no_ca.get_version(),
        client.upload_firmware(tmp_path / "absent.tar"),
    ):
        with pytest.raises(errors.ApplianceError) as info:
            await call
        caught.append(info.value)
    with pytest.raises(errors.TransportError) as tls, map_aiohttp_errors("eda1"):
        raise aiohttp.ClientConnectorCertificateError(
            ConnectionKey("eda1", 443, True, True, None, None, None),
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
        )
    return [*caught, tls.value]


async def test_the_key_never_appears_in_errors_or_logs(
    script: tuple[Script, str], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """No error type, its repr, the client's repr or a log event ever contains the API key."""
    with capture_logs() as logs:
        caught = await _all_error_types(script, session, tmp_path)
    kinds = {type(exc) for exc in caught}
    assert kinds == {
        errors.AuthError,
        errors.ApiError,
        errors.TransportError,
        errors.RequestTimeout,
        errors.PreconditionFailed,
    }
    for exc in caught:
        assert KEY not in str(exc), exc
        assert KEY not in repr(exc), exc
        assert KEY not in str(vars(exc)), exc
    assert any(event["event"] == "request.retried" for event in logs)
    assert KEY not in repr(logs)


def test_cancellation_is_not_swallowed() -> None:
    """Cancelling a request inside the boundary stays a cancellation, not an appliance error."""
    with pytest.raises(asyncio.CancelledError), map_aiohttp_errors("eda1"):
        raise asyncio.CancelledError


async def test_ping_raises_on_tls_failure(client: ApplianceClient, mocked: aioresponses) -> None:
    """Pinging raises on a certificate failure, which waiting for a reboot would never fix."""
    key = ConnectionKey("eda1.example.net", 443, True, True, None, None, None)
    cert_error = aiohttp.ClientConnectorCertificateError(key, ssl.SSLCertVerificationError(1))
    mocked.get(f"{API}/extrahop/version", exception=cert_error)
    with pytest.raises(errors.TransportError, match="ca_bundle"):
        await client.ping()


async def test_upload_declares_its_length_and_type(
    scripted: tuple[Script, ApplianceClient], tmp_path: Path
) -> None:
    """The image is sent raw with its Content-Length and the firmware type, as the vendor does."""
    script, client = scripted
    image = tmp_path / "eda.tar"
    image.write_bytes(b"x" * 300_000)
    script.add("/api/v1/extrahop/firmware", web.Response(status=201))
    await client.upload_firmware(image)
    headers, size = script.requests[0]
    assert headers["Content-Type"] == "application/vnd.extrahop.firmware"
    assert headers["Content-Length"] == "300000"
    assert "Transfer-Encoding" not in headers
    assert size == 300_000
