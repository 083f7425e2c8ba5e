"""download/url as a real appliance does it: 202 for any URL, a real fetch, a job that can fail."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from orchestrator.simulator.testing import Api, Start

DOWNLOAD = "/api/v1/extrahop/firmware/download/url"
EDA = {"name": "eda1", "role": "discover", "version": "9.8.0.100"}


def image_url(api: Api, role: str = "discover", version: str = "9.9.1.100") -> str:
    return f"{api.fleet.repository_url}/firmware/{role}-{version}.tar"


async def download(api: Api, url: str, **body: Any) -> dict[str, Any]:  # noqa: ANN401
    """POST download/url (upgrade by default), wait for its job to end, return the job."""
    answer = await api.call("eda1", "POST", DOWNLOAD, json={"firmware_url": url, **body})
    assert answer.status == 202
    await api.wait_for(lambda: api.fleet.events_of("job.finished") != [])
    await api.wait_for(lambda: api.fleet.appliance("eda1").up)  # back from a restart, if any
    job: dict[str, Any] = (await api.call("eda1", "GET", answer.headers["Location"])).json()
    return job


@contextlib.asynccontextmanager
async def junk_server() -> AsyncIterator[str]:
    """A local web server whose every file is not a firmware image; yields its base URL."""

    async def junk(request: web.Request) -> web.Response:
        del request
        return web.Response(body=b"<html>a login page</html>\n" * 100)

    app = web.Application()
    app.router.add_get("/{name}", junk)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}"
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_the_image_is_fetched_for_real_and_installed(start: Start, *, tls: bool) -> None:
    """The appliance downloads the whole image from the repository, then installs its version."""
    api = await start(EDA, tls=tls, image_size=300_000)
    job = await download(api, image_url(api), upgrade=True)
    assert (job["type"], job["status"]) == ("download_url", "DONE")
    completed = api.fleet.events_of("download.completed")[0].data
    assert completed["bytes"] == 300_000
    assert completed["version"] == "9.9.1.100"
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert api.fleet.version("eda1") == "9.9.1.100"


async def test_without_upgrade_the_download_is_staged_for_latest_upgrade(start: Start) -> None:
    """upgrade: false only stages the downloaded image; latest/upgrade then installs it."""
    api = await start(EDA)
    assert (await download(api, image_url(api)))["status"] == "DONE"
    assert api.fleet.version("eda1") == "9.8.0.100"
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 202
    await api.wait_for(lambda: api.fleet.version("eda1") == "9.9.1.100")


async def test_any_well_formed_url_is_accepted_and_the_job_fails(start: Start) -> None:
    """A URL with no version in it answers 202; the job, not the POST, fails on the download."""
    api = await start(EDA)
    job = await download(api, "https://repo.example.net/eta/9.9.tar", upgrade=True)
    assert job["status"] == "FAILED"
    assert "download failed: cannot reach repo.example.net" in job["details"]
    assert api.fleet.events_of("restart.started") == []


async def test_an_unreachable_url_fails_the_job_with_the_download_error(start: Start) -> None:
    """Nothing listening at the URL: the job ends FAILED saying the connection was refused."""
    api = await start(EDA)
    port = closed_port()
    job = await download(api, f"http://127.0.0.1:{port}/discover-9.9.1.100.tar", upgrade=True)
    assert job["status"] == "FAILED"
    assert job["details"] == (
        f"download failed: cannot connect to 127.0.0.1:{port} (Connection refused)"
    )
    assert api.fleet.events_of("download.failed")[0].data["reason"] == job["details"]
    assert api.fleet.version("eda1") == "9.8.0.100"


async def test_a_missing_image_fails_the_job_with_the_http_status(start: Start) -> None:
    """A URL the server answers 404 fails the job with that status."""
    api = await start(EDA)
    job = await download(api, f"{api.fleet.repository_url}/firmware/no-such.tar", upgrade=True)
    assert job["status"] == "FAILED"
    assert job["details"] == "download failed: the server answered HTTP 404 Not Found"


async def test_a_file_that_is_not_an_image_fails_the_job(start: Start) -> None:
    """A download that is not an ExtraHop image (a login page) fails the job, nothing installed."""
    api = await start(EDA)
    async with junk_server() as base:
        job = await download(api, f"{base}/discover-9.9.1.100.tar", upgrade=True)
    assert job["status"] == "FAILED"
    assert job["details"] == "the downloaded file is not an ExtraHop firmware image"


async def test_an_image_for_another_platform_fails_the_job(start: Start) -> None:
    """A Trace image downloaded by a Discover appliance fails the job, naming both."""
    api = await start(EDA)
    job = await download(api, image_url(api, role="trace"), upgrade=True)
    assert job["status"] == "FAILED"
    assert job["details"] == "the firmware is for trace appliances, not for discover"


async def test_a_downgrade_fails_the_job_unless_forced(start: Start) -> None:
    """An older image fails the job unless `force` is sent, as the API's compatibility check."""
    api = await start(EDA)
    job = await download(api, image_url(api, version="9.7.0.100"), upgrade=True)
    assert job["status"] == "FAILED"
    assert job["details"] == (
        "firmware 9.7.0.100 is older than the running 9.8.0.100; set force to downgrade"
    )
    forced = await start(EDA)
    job = await download(forced, image_url(forced, version="9.7.0.100"), upgrade=True, force=True)
    assert job["status"] == "DONE"
    await forced.wait_for(lambda: forced.fleet.version("eda1") == "9.7.0.100")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https:///firmware/discover-9.9.1.100.tar", id="no-host"),
        pytest.param("file:///tmp/discover-9.9.1.100.tar", id="file-scheme"),
        pytest.param("https://127.0.0.1:99999/x.tar", id="bad-port"),
        pytest.param("discover-9.9.1.100.tar", id="not-a-url"),
    ],
)
async def test_a_malformed_url_is_refused_at_once(start: Start, url: str) -> None:
    """Only an http, https or ftp URL with a host (and a valid port) starts a job."""
    api = await start(EDA)
    answer = await api.call("eda1", "POST", DOWNLOAD, json={"firmware_url": url})
    assert answer.status == 400
    assert "firmware_url" in answer.json()["error_message"]
    assert api.fleet.events_of("job.created") == []


async def test_ftp_urls_are_accepted_but_not_simulated(start: Start) -> None:
    """An ftp:// URL is well formed (202); the simulated download fails and says why."""
    api = await start(EDA)
    job = await download(api, "ftp://127.0.0.1/discover-9.9.1.100.tar", upgrade=True)
    assert job["status"] == "FAILED"
    assert "ftp is not simulated" in job["details"]
