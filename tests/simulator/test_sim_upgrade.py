"""Upgrade jobs: upload, install, restart with refused connections, new version."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import aiohttp
import pytest

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Api, ImageFactory, Start


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


async def upgraded(api: Api, name: str = "eda1", body: bytes = b"") -> str:
    """Upload an image and start the upgrade; return the job path."""
    assert (await api.upload(name, body)).status == 201
    answer = await api.call(name, "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 202
    location: str = answer.headers["Location"]
    return location


SLOW_JOB = {"name": "eda1", "role": "discover", "version": "9.8.0.100", "job_duration": 500}


async def test_upgrade_runs_a_job_restarts_and_serves_the_new_version(
    start: Start, image: ImageFactory
) -> None:
    """An upgrade job runs, the port refuses connections while restarting, then shows 9.9.1.100."""
    api = await start(SLOW_JOB)
    location = await upgraded(api, body=image())
    assert location.startswith("/api/v1/jobs/")
    job = (await api.call("eda1", "GET", location)).json()
    assert job["status"] == "RUNNING"
    assert (job["step_number"], job["total_steps"]) == (1, 4)
    assert job["type"] == "upgrade"
    assert job["step_description"]
    url = api.fleet.url("eda1")
    await api.wait_for(lambda: refuses(url))
    assert api.fleet.version("eda1") == "9.8.0.100"
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert not refuses(url)
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).json()["version"] == "9.9.1.100"
    assert (await api.call("eda1", "GET", location)).json()["status"] == "DONE"


async def test_events_tell_the_upgrade_in_order(api: Api, image: ImageFactory) -> None:
    """The event log tells upload, job, steps, finish and restart in the order they happened."""
    await upgraded(api, body=image())
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    kinds = [e.kind for e in api.fleet.events_for("eda1")]
    assert kinds == [
        "upload.started",
        "upload.completed",
        "job.created",
        "job.step",
        "job.step",
        "job.step",
        "job.step",
        "job.finished",
        "restart.started",
        "restart.finished",
    ]
    steps = [e.data["step_number"] for e in api.fleet.events_of("job.step")]
    assert steps == [1, 2, 3, 4]
    assert api.fleet.events_of("restart.finished")[0].data == {"version": "9.9.1.100"}
    times = [e.t for e in api.fleet.events]
    assert times == sorted(times)


async def test_job_progress_follows_the_clock_not_the_polls(api: Api, image: ImageFactory) -> None:
    """A job finishes on time even if nobody polls it, so polls cost only what the client sends."""
    location = await upgraded(api, body=image())
    before = api.fleet.request_count("eda1")
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert api.fleet.request_count("eda1") == before
    assert (await api.call("eda1", "GET", location)).json()["status"] == "DONE"


async def test_restart_drops_keep_alive_connections(api: Api, image: ImageFactory) -> None:
    """A pooled keep-alive connection does not survive the restart: the next request fails."""
    await upgraded(api, body=image())
    await api.wait_for(lambda: api.fleet.events_of("restart.started") != [])
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.call("eda1", "GET", "/api/v1/extrahop")


async def test_second_upgrade_while_a_job_runs_is_409(start: Start, image: ImageFactory) -> None:
    """Starting an upgrade while one runs answers 409 with an error_message."""
    api = await start(SLOW_JOB)
    await upgraded(api, body=image())
    assert (await api.upload("eda1", image())).status == 409
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 409
    assert "already running" in answer.json()["error_message"]


async def test_upgrade_without_an_uploaded_image_is_400(api: Api) -> None:
    """latest/upgrade with nothing uploaded answers 400."""
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 400
    assert "no firmware image" in answer.json()["error_message"]


async def test_restart_after_false_installs_without_restarting(
    api: Api, image: ImageFactory
) -> None:
    """With restart_after false the job ends DONE but the new version waits for a restart."""
    assert (await api.upload("eda1", image())).status == 201
    answer = await api.call(
        "eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade", json={"restart_after": False}
    )
    await api.wait_for(lambda: api.fleet.events_of("job.finished") != [])
    assert (await api.call("eda1", "GET", answer.headers["Location"])).json()["status"] == "DONE"
    assert api.fleet.events_of("restart.started") == []
    assert api.fleet.version("eda1") == "9.8.0.100"
    assert (await api.call("eda1", "POST", "/api/v1/extrahop/restart")).status == 202
    await api.wait_for(lambda: api.fleet.version("eda1") == "9.9.1.100")


async def test_download_version_stages_then_latest_upgrade_installs(api: Api) -> None:
    """A cloud download without upgrade only stages; latest/upgrade then installs it."""
    path = "/api/v1/extrahop/firmware/download/version"
    answer = await api.call("eda1", "POST", path, json={"version": "9.9.1.100"})
    assert answer.status == 202
    await api.wait_for(lambda: api.fleet.events_of("job.finished") != [])
    assert api.fleet.events_of("restart.started") == []
    assert api.fleet.version("eda1") == "9.8.0.100"
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 202
    await api.wait_for(lambda: api.fleet.version("eda1") == "9.9.1.100")


async def test_download_version_unknown_to_the_cloud_is_400(api: Api) -> None:
    """Asking the cloud for a version it does not offer answers 400."""
    path = "/api/v1/extrahop/firmware/download/version"
    answer = await api.call("eda1", "POST", path, json={"version": "1.2.3.4"})
    assert answer.status == 400


async def test_rollback_restores_the_previous_version(api: Api, image: ImageFactory) -> None:
    """After an upgrade, previous shows the old version and a rollback restarts into it."""
    await upgraded(api, body=image())
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    previous = await api.call("eda1", "GET", "/api/v1/extrahop/firmware/previous")
    assert previous.json()["version"] == "9.8.0.100"
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/previous/rollback")
    assert answer.status == 202
    await api.wait_for(lambda: len(api.fleet.events_of("restart.finished")) == 2)
    assert api.fleet.version("eda1") == "9.8.0.100"


async def test_jobs_lists_every_job(api: Api, image: ImageFactory) -> None:
    """GET /jobs returns an array with the job just created."""
    location = await upgraded(api, body=image())
    jobs = (await api.call("eda1", "GET", "/api/v1/jobs")).json()
    assert [job["id"] for job in jobs] == [location.rsplit("/", 1)[1]]
    assert jobs[0]["remote_jobs"] == []
    await asyncio.sleep(0)
