"""Each scripted fault does what the scenario says, and is recorded when it fires."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

if TYPE_CHECKING:
    from orchestrator.simulator import Event
    from orchestrator.simulator.testing import Answer, Api, ImageFactory, Start

UPGRADE = "/api/v1/extrahop/firmware/latest/upgrade"


def eda1(**faults: object) -> dict[str, object]:
    return {"name": "eda1", "role": "discover", "version": "9.8.0.100", "faults": faults}


def fired(api: Api, fault: str) -> list[Event]:
    return [e for e in api.fleet.events_of("fault.injected") if e.data == {"fault": fault}]


async def upload_and_upgrade(api: Api, image: ImageFactory) -> Answer:
    assert (await api.upload("eda1", image())).status == 201
    return await api.call("eda1", "POST", UPGRADE)


@pytest.mark.parametrize("result", ["FAILED", "TIMEOUT"])
async def test_job_result_fault_ends_the_job_without_upgrading(
    start: Start, image: ImageFactory, result: str
) -> None:
    """job_result makes the job end FAILED or TIMEOUT; the version stays and nothing restarts."""
    api = await start(eda1(job_result=result))
    location = (await upload_and_upgrade(api, image)).headers["Location"]
    await api.wait_for(lambda: api.fleet.events_of("job.finished") != [])
    job = (await api.call("eda1", "GET", location)).json()
    assert job["status"] == result
    assert "job_result" in job["details"]
    assert api.fleet.events_of("restart.started") == []
    assert api.fleet.version("eda1") == "9.8.0.100"
    assert api.fleet.events_of("job.finished")[0].data["status"] == result
    assert fired(api, "job_result")


async def test_version_unchanged_fault_restarts_into_the_old_version(
    start: Start, image: ImageFactory
) -> None:
    """version_unchanged: the job is DONE and the appliance restarts, but still runs 9.8.0.100."""
    api = await start(eda1(version_unchanged=True))
    location = (await upload_and_upgrade(api, image)).headers["Location"]
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert (await api.call("eda1", "GET", location)).json()["status"] == "DONE"
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).json()["version"] == "9.8.0.100"
    assert api.fleet.events_of("restart.finished")[0].data == {"version": "9.8.0.100"}
    assert fired(api, "version_unchanged")


async def test_http_5xx_fault_answers_503_then_recovers(start: Start) -> None:
    """http_5xx: 2 makes the next two requests of any kind answer 503, then all is normal."""
    api = await start(eda1(http_5xx=2))
    statuses = [(await api.call("eda1", "GET", "/api/v1/extrahop")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert len(fired(api, "http_5xx")) == 2


async def test_rate_limit_fault_answers_429_with_retry_after(start: Start) -> None:
    """rate_limit answers 429 with the scenario's Retry-After, `count` times."""
    api = await start(eda1(rate_limit={"count": 2, "retry_after": 0.25}))
    answers = [await api.call("eda1", "GET", "/api/v1/extrahop/version") for _ in range(3)]
    assert [a.status for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "0.25"
    assert answers[0].json()["error_message"]


async def test_drop_upload_fault_cuts_the_first_upload_only(
    start: Start, image: ImageFactory
) -> None:
    """drop_upload_at: 0.5 drops the first upload's connection midway; the retry succeeds."""
    api = await start(eda1(drop_upload_at=0.5))
    with pytest.raises(aiohttp.ClientError):
        await api.upload("eda1", image(size=4 * 1024 * 1024))
    await api.wait_for(lambda: api.fleet.events_of("upload.failed") != [])
    assert api.fleet.events_of("upload.completed") == []
    assert fired(api, "drop_upload_at")
    assert (await api.upload("eda1", image(size=4 * 1024 * 1024))).status == 201


async def test_revoked_key_fault_refuses_everything(start: Start) -> None:
    """revoked_key: even the right key answers 401."""
    api = await start(eda1(revoked_key=True))
    answer = await api.call("eda1", "GET", "/api/v1/extrahop")
    assert answer.status == 401
    assert "revoked" in answer.json()["error_message"]


async def test_no_job_location_fault_upgrades_without_a_job_to_poll(
    start: Start, image: ImageFactory
) -> None:
    """no_job_location (pre-8.5): 202 without Location, no /jobs, yet the upgrade happens."""
    api = await start(eda1(no_job_location=True))
    answer = await upload_and_upgrade(api, image)
    assert answer.status == 202
    assert "Location" not in answer.headers
    assert (await api.call("eda1", "GET", "/api/v1/jobs")).status == 404
    assert api.fleet.events_of("job.created")[0].data["job_id"] is None
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert api.fleet.version("eda1") == "9.9.1.100"


async def test_busy_fault_answers_409_to_the_first_job_requests(
    start: Start, image: ImageFactory
) -> None:
    """busy: 2 answers 409 to the first two upgrade POSTs; the third starts the job."""
    api = await start(eda1(busy=2))
    assert (await api.upload("eda1", image())).status == 201
    statuses = [(await api.call("eda1", "POST", UPGRADE)).status for _ in range(3)]
    assert statuses == [409, 409, 202]
    assert len(fired(api, "busy")) == 2


async def test_slow_restart_fault_multiplies_the_downtime(
    start: Start, image: ImageFactory
) -> None:
    """slow_restart: 4 keeps the appliance down four times longer than restart_downtime."""
    appliance = {**eda1(slow_restart=4), "restart_downtime": 100}
    api = await start(appliance)
    await upload_and_upgrade(api, image)
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    began = api.fleet.events_of("restart.started")[0].t
    ended = api.fleet.events_of("restart.finished")[0].t
    assert ended - began >= 0.38
    assert fired(api, "slow_restart")


ROLLBACK = "/api/v1/extrahop/firmware/previous/rollback"


async def test_rollback_fails_fault_answers_500_and_changes_nothing(start: Start) -> None:
    """rollback_fails: the rollback is refused with an error message; no restart, same version."""
    api = await start({**eda1(rollback_fails=True), "previous_version": "9.7.0.100"})
    answer = await api.call("eda1", "POST", ROLLBACK)
    assert answer.status == 500
    assert "rollback" in answer.json()["error_message"]
    assert api.fleet.events_of("restart.started") == []
    assert api.fleet.version("eda1") == "9.8.0.100"
    assert fired(api, "rollback_fails")


async def test_rollback_version_fault_comes_back_on_another_version(start: Start) -> None:
    """rollback_version: the appliance restarts, but into that version, not the previous one."""
    scripted = eda1(rollback_version="9.6.0.100")
    api = await start({**scripted, "previous_version": "9.7.0.100"})
    assert (await api.call("eda1", "POST", ROLLBACK)).status == 202
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])
    assert api.fleet.version("eda1") == "9.6.0.100"
    assert fired(api, "rollback_version")
    (started,) = api.fleet.events_of("rollback.started")
    assert started.data == {"from_version": "9.8.0.100", "to_version": "9.7.0.100"}
