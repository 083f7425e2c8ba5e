"""Tests for orchestrator.report.notify against a real local HTTP receiver."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import stamina
import structlog

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import ApplianceResult, Outcome, RunReport
from orchestrator.report.document import summary_payload
from orchestrator.report.notify import ATTEMPTS, check_url, notify, redact_url

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers with `statuses` in turn (then 200) and records requests."""

    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                receiver.requests.append(
                    Received("POST", self.path, dict(self.headers.items()), body)
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            answer = b'{"ok": true}'
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: object) -> None:
            """Keep the test output quiet."""

    return Handler


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    """No backoff sleeps in tests, with the module's own number of attempts."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not be sent through a proxy from the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A ThreadingHTTPServer on 127.0.0.1, on a free port, serving in a thread."""
    state = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/upgrade"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def payload() -> dict[str, Any]:
    """A real summary payload."""
    moment = dt.datetime(2025, 3, 1, 22, 0, tzinfo=dt.UTC)
    report = RunReport(
        run_id="run-42",
        started_at=moment,
        finished_at=moment + dt.timedelta(minutes=5),
        exit_code=0,
        results=(ApplianceResult(name="eda1", outcome=Outcome.DONE),),
    )
    return summary_payload(report)


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def test_posts_the_summary_as_json(receiver: Receiver, payload: dict[str, Any]) -> None:
    """The receiver gets one POST whose JSON body equals summary_payload."""
    with structlog.testing.capture_logs() as logs:
        await notify(receiver.url, payload)
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/upgrade"
    assert json.loads(request.body) == payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("orchestrator/")
    assert [e["event"] for e in logs if e["event"].startswith("notify.")] == ["notify.sent"]


async def test_retries_server_errors(receiver: Receiver, payload: dict[str, Any]) -> None:
    """A receiver answering 500 twice and then 200 gets the payload on the third try."""
    receiver.statuses = [500, 500]
    with structlog.testing.capture_logs() as logs:
        await notify(receiver.url, payload)
    assert len(receiver.requests) == 3
    assert all(json.loads(r.body) == payload for r in receiver.requests)
    sent = [e for e in logs if e["event"] == "notify.sent"]
    assert sent == [
        {"event": "notify.sent", "log_level": "info", "url": receiver.url, "status": 200}
    ]


async def test_gives_up_after_the_attempts(receiver: Receiver, payload: dict[str, Any]) -> None:
    """A receiver that keeps failing gets ATTEMPTS tries, then a notify.failed warning."""
    receiver.statuses = [503] * 10
    with structlog.testing.capture_logs() as logs:
        await notify(receiver.url, payload)
    assert len(receiver.requests) == ATTEMPTS
    [failed] = [e for e in logs if e["event"] == "notify.failed"]
    assert failed["error"] == "HTTP 503"


@pytest.mark.parametrize("status", [pytest.param(400, id="400"), pytest.param(404, id="404")])
async def test_client_errors_are_not_retried(
    receiver: Receiver, payload: dict[str, Any], status: int
) -> None:
    """A 4xx answer is final: one request, then notify.failed."""
    receiver.statuses = [status]
    with structlog.testing.capture_logs() as logs:
        await notify(receiver.url, payload)
    assert len(receiver.requests) == 1
    assert [e["error"] for e in logs if e["event"] == "notify.failed"] == [f"HTTP {status}"]


async def test_redirects_are_not_followed(receiver: Receiver, payload: dict[str, Any]) -> None:
    """A 302 is a failure, not a silent re-send as a GET without the body."""
    receiver.statuses = [302]
    with structlog.testing.capture_logs() as logs:
        await notify(receiver.url, payload)
    assert [r.path for r in receiver.requests] == ["/hooks/upgrade"]
    assert [e["error"] for e in logs if e["event"] == "notify.failed"] == ["HTTP 302"]


async def test_dead_port_logs_a_failure(payload: dict[str, Any]) -> None:
    """Nothing listening means no exception, just a notify.failed warning naming the URL."""
    url = dead_url()
    with structlog.testing.capture_logs() as logs:
        await notify(url, payload, timeout=2.0)
    [failed] = [e for e in logs if e["event"] == "notify.failed"]
    assert failed["log_level"] == "warning"
    assert failed["url"] == url
    assert "refused" in failed["error"].lower()


async def test_userinfo_becomes_basic_auth_and_is_not_logged(
    receiver: Receiver, payload: dict[str, Any]
) -> None:
    """user:password in the URL is sent as Basic auth; neither it nor the query is logged."""
    url = receiver.url.replace("http://", "http://hook:s3cret@") + "?token=t0ken"
    with structlog.testing.capture_logs() as logs:
        await notify(url, payload)
    [request] = receiver.requests
    assert request.path == "/hooks/upgrade?token=t0ken"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"hook:s3cret").decode()
    logged = repr(logs)
    assert "s3cret" not in logged
    assert "t0ken" not in logged
    assert receiver.url in logged


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ftp://hooks.example.net/x", id="ftp"),
        pytest.param("file:///etc/passwd", id="file"),
        pytest.param("hooks.example.net/x", id="no-scheme"),
        pytest.param("https://", id="no-host"),
        pytest.param("http://hooks.example.net:99999/", id="bad-port"),
        pytest.param("http://hooks.example.net:0/x", id="port-zero"),
        pytest.param("http://hooks.example.net/a b", id="space"),
    ],
)
async def test_malformed_url_is_a_config_error(url: str, payload: dict[str, Any]) -> None:
    """A URL that is not http(s) with a host raises ConfigError before anything is sent."""
    with pytest.raises(ConfigError, match="--notify-url"):
        await notify(url, payload)


async def test_config_error_does_not_leak_secrets(payload: dict[str, Any]) -> None:
    """The ConfigError message carries the redacted URL only."""
    with pytest.raises(ConfigError) as caught:
        await notify("ftp://user:s3cret@hooks.example.net/x?token=t0ken", payload)
    assert "s3cret" not in str(caught.value)
    assert "t0ken" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        pytest.param(
            "https://a:b@h.example.net:8443/p?q=1#f", "https://h.example.net:8443/p", id="all"
        ),
        pytest.param("http://[::1]:8080/hook", "http://[::1]:8080/hook", id="ipv6"),
        pytest.param("https://h.example.net", "https://h.example.net", id="bare"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    """Userinfo, query and fragment are removed; host, port and path stay."""
    assert redact_url(url) == redacted


async def test_verify_tls_off_still_posts(receiver: Receiver, payload: dict[str, Any]) -> None:
    """verify_tls=False builds an unverified TLS opener and plain http still works with it."""
    await notify(receiver.url, payload, verify_tls=False)
    assert len(receiver.requests) == 1


def test_check_url_validates_up_front() -> None:
    """check_url returns the redacted URL for a good one and raises ConfigError for a bad one."""
    assert check_url("https://u:p@hooks.example.net/x?token=t") == "https://hooks.example.net/x"
    with pytest.raises(ConfigError):
        check_url("ftp://hooks.example.net/x")


def test_port_zero_says_which_ports_work() -> None:
    """Port 0 cannot be connected to: refused up front, saying what to write."""
    with pytest.raises(
        ConfigError, match=r"--notify-url http://hooks\.example\.net:0/x: .*1 to 65535"
    ):
        check_url("http://hooks.example.net:0/x")
