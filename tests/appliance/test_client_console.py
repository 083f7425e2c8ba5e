"""The real ApplianceClient speaking to a simulated console over TLS: its list, its upgrades."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core import errors
from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, CloudFirmware, ConsoleFirmware, Role
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from orchestrator.core.consolelist import ConsoleJob

TARGET = "9.9.1.100"
FAST = Settings(requests_per_second=1000, retry_attempts=2, retry_timeout=5)
OLD = "9.8.0.100"


def fleet_of(**faults: dict[str, Any]) -> Scenario:
    """A console with a Discover and a Trace appliance connected to it."""
    names = (("eca1", "command"), ("eda1", "discover"), ("eta1", "trace"))
    return Scenario.model_validate(
        {
            "time_scale": 0.001,
            "available_versions": [TARGET],
            "defaults": {"job_duration": 100, "download_duration": 50, "restart_downtime": 200},
            "appliances": [
                {"name": name, "role": role, "version": OLD, "faults": faults.get(name, {})}
                for name, role in names
            ],
        }
    )


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[ApplianceClient, SimulatedFleet]]:
    """A client of the console eca1, trusting the fleet's CA."""
    async with SimulatedFleet(fleet_of(eta1={"job_result": "FAILED"}), tls=True) as fleet:
        ca = tmp_path / "ca.pem"
        ca.write_bytes(fleet.ca_pem or b"")
        appliance = Appliance(
            name="eca1",
            url=fleet.url("eca1"),
            role=Role.COMMAND,
            firmware=CloudFirmware(cloud_version=TARGET),
            api_key=SecretStr(fleet.api_key("eca1")),
            ca_bundle=ca,
        )
        async with open_session(FAST) as session:
            yield ApplianceClient(session, appliance, FAST), fleet


async def test_list_appliances_reads_the_console_and_its_connected_appliances(
    console: tuple[ApplianceClient, SimulatedFleet],
) -> None:
    """Ids, platforms, versions, addresses and reachability as the console reports them."""
    client, fleet = console
    listed = await client.list_appliances()
    assert [(a.id, a.display_name, a.platform, a.firmware_version) for a in listed] == [
        (0, "eca1", "command", OLD),
        (1, "eda1", "discover", OLD),
        (2, "eta1", "trace", OLD),
    ]
    assert all(f"https://{a.hostname}" == fleet.url(a.display_name) for a in listed)
    assert all(a.online for a in listed)


async def test_console_upgrade_is_followed_through_each_remote_job(
    console: tuple[ApplianceClient, SimulatedFleet],
) -> None:
    """The console job's remote_jobs show one appliance done and one failed, as they ended."""
    client, fleet = console
    assert await client.console_firmware_next([1]) == [
        {"release": "9.9", "versions": [{"version": TARGET, "system_ids": [1]}]}
    ]
    job_id = await client.console_upgrade([1, 2], TARGET)
    assert job_id is not None
    job = await _until_ended(client, job_id)
    assert job.status == "FAILED"
    eda1, eta1 = job.remote(1), job.remote(2)
    assert eda1 is not None
    assert eta1 is not None
    assert (eda1.status, eta1.status) == ("DONE", "FAILED")
    assert eta1.details == "simulated failed (fault job_result)"
    await asyncio.wait_for(_until_version(fleet, "eda1"), timeout=10)
    listed = {a.display_name: a.firmware_version for a in await client.list_appliances()}
    assert listed == {"eca1": OLD, "eda1": TARGET, "eta1": OLD}


async def test_a_refused_console_upgrade_is_an_api_error_naming_the_reason(
    console: tuple[ApplianceClient, SimulatedFleet],
) -> None:
    """An id the console does not list: ApiError 400 with the console's words, not retried."""
    client, fleet = console
    with pytest.raises(errors.ApiError, match="no connected appliance has id 7") as caught:
        await client.console_upgrade([7], TARGET)
    assert caught.value.status == 400
    assert fleet.events_of("job.created") == []


async def _until_ended(client: ApplianceClient, job_id: str) -> ConsoleJob:
    async with asyncio.timeout(10):
        while True:
            job = await client.get_console_job(job_id)
            if job.status != "RUNNING":
                return job
            await asyncio.sleep(0.02)


async def _until_version(fleet: SimulatedFleet, name: str) -> None:
    while fleet.version(name) != TARGET:  # noqa: ASYNC110 - the fleet's state, not a socket
        await asyncio.sleep(0.02)


async def test_an_appliance_without_a_key_is_never_sent_a_request(
    console: tuple[ApplianceClient, SimulatedFleet],
) -> None:
    """Console mode: asking a keyless appliance fails at once, naming the fix; nothing is sent."""
    client, fleet = console
    keyless = Appliance(
        name="eda1",
        url=fleet.url("eda1"),
        role=Role.DISCOVER,
        firmware=ConsoleFirmware(console_version=TARGET),
        api_key=None,
        console_id=1,
    )
    async with open_session(FAST) as session:
        with pytest.raises(errors.ApplianceError) as caught:
            await ApplianceClient(session, keyless, FAST).get_version()
    assert str(caught.value) == (
        "eda1: no API key (console mode): GET /extrahop/version; "
        "give it api_key_env or api_key_file in the inventory"
    )
    assert fleet.request_count("eda1") == 0
    del client
