"""Fact gathering for `plan`: real clients against a simulated fleet, one appliance at fault."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import stamina
from fleetrun import fast_settings
from pydantic import SecretStr

from orchestrator import workflow
from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core.config import Settings
from orchestrator.core.consolelist import ListedAppliance
from orchestrator.core.errors import DriftError, TransportError
from orchestrator.core.models import (
    Appliance,
    ApplianceInfo,
    ClusterInfo,
    FileFirmware,
    JobState,
    Role,
)
from orchestrator.engine.facts import gather_facts
from orchestrator.inventory import load_inventory
from orchestrator.plan import Action
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from collections.abc import Iterator

SETTINGS = Settings(requests_per_second=1000, retry_attempts=2, retry_timeout=5)
SCENARIO = Scenario.model_validate(
    {
        "time_scale": 0.001,
        "clusters": {"exa": {"ingest_enabled": False}},
        "appliances": [
            {"name": "eca1", "role": "command", "version": "9.9.1.100", "api_key": "k-eca1"},
            {"name": "eda1", "role": "discover", "version": "9.8.0.100", "api_key": "k-eda1"},
            {
                "name": "exa1",
                "role": "explore",
                "version": "9.8.0.200",
                "cluster": "exa",
                "node": "manager",
                "api_key": "k-exa1",
            },
            {
                "name": "eta1",
                "role": "trace",
                "version": "9.8.0.100",
                "api_key": "k-eta1",
                "faults": {"revoked_key": True},
            },
        ],
    }
)


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def appliance(
    name: str, url: str, key: str, role: Role | None = None, target: str | None = None
) -> Appliance:
    return Appliance(
        name=name,
        url=url,
        role=role,
        firmware=FileFirmware(file=Path(f"{name}.tar"), version=target),
        api_key=SecretStr(key),
    )


def fleet_appliances(
    fleet: SimulatedFleet, roles: dict[str, Role | None] | None = None
) -> list[Appliance]:
    roles = roles or {}
    return [
        appliance(name, fleet.url(name), fleet.api_key(name), roles.get(name))
        for name in fleet.names
    ]


async def gather(appliances: list[Appliance], concurrency: int = 4) -> dict[str, Any]:
    async with open_session(SETTINGS) as session:
        clients = [ApplianceClient(session, a, SETTINGS) for a in appliances]
        return await gather_facts(clients, appliances, concurrency=concurrency)


async def test_versions_platforms_and_ingest_are_read() -> None:
    """Each appliance's version, platform and role are read, and ingest for Explore nodes."""
    async with SimulatedFleet(SCENARIO) as fleet:
        facts = await gather(fleet_appliances(fleet)[:3])
    assert {n: (f.version, f.platform, f.role) for n, f in facts.items()} == {
        "eca1": ("9.9.1.100", "command", Role.COMMAND),
        "eda1": ("9.8.0.100", "discover", Role.DISCOVER),
        "exa1": ("9.8.0.200", "explore", Role.EXPLORE),
    }
    assert facts["exa1"].ingest_enabled is False
    assert facts["eda1"].ingest_enabled is None
    assert all(f.error is None for f in facts.values())


async def test_one_bad_appliance_does_not_stop_the_others() -> None:
    """A revoked key and an unreachable address are reported per appliance; the rest are read."""
    async with SimulatedFleet(SCENARIO) as fleet:
        appliances = fleet_appliances(fleet)
        appliances.append(appliance("gone", "http://127.0.0.1:9", "k-gone"))
        facts = await gather(appliances)
    assert list(facts) == ["eca1", "eda1", "exa1", "eta1", "gone"]
    assert facts["eda1"].version == "9.8.0.100"
    assert facts["eta1"].error is not None
    assert "401" in facts["eta1"].error
    assert "revoked" in facts["eta1"].error
    assert facts["gone"].error is not None
    assert "127.0.0.1:9" in facts["gone"].error
    for fact in (facts["eta1"], facts["gone"]):
        assert fact.version is None
        assert "\n" not in (fact.error or "")
        assert "k-" not in (fact.error or "")


async def test_role_contradicting_the_platform_is_reported() -> None:
    """An inventory role the platform contradicts is an error naming both."""
    async with SimulatedFleet(SCENARIO) as fleet:
        appliances = fleet_appliances(fleet, {"eda1": Role.TRACE, "eca1": Role.COMMAND})
        facts = await gather(appliances[:2])
    assert facts["eda1"].error == "platform says discover but the inventory says role trace"
    assert facts["eda1"].version == "9.8.0.100"
    assert facts["eca1"].error is None


class FakeSource:
    """A FactsSource that answers from memory, counting how many calls run at once."""

    def __init__(self, name: str, platform: str, tracker: list[int]) -> None:
        self.name = name
        self.platform = platform
        self.tracker = tracker  # [running now, most at once]

    async def get_info(self) -> ApplianceInfo:
        """Answer after a pause, recording concurrency."""
        self.tracker[0] += 1
        self.tracker[1] = max(self.tracker[1], self.tracker[0])
        await asyncio.sleep(0.01)
        self.tracker[0] -= 1
        if self.platform == "unreachable":
            raise TransportError(self.name, "GET /api/v1/extrahop failed:\nrefused")
        return ApplianceInfo(version="9.8.0.100", platform=self.platform)

    async def get_cluster(self) -> ClusterInfo:
        """Ingest is on."""
        return ClusterInfo(ingest_enabled=True)

    async def list_jobs(self) -> list[JobState]:
        """No jobs."""
        return []

    async def list_appliances(self) -> list[ListedAppliance]:
        """Itself alone: nothing connected."""
        return [ListedAppliance(id=0, platform=self.platform)]


async def test_concurrency_is_bounded() -> None:
    """No more than `concurrency` appliances are asked at once."""
    tracker = [0, 0]
    sources = [FakeSource(f"eda{i}", "discover", tracker) for i in range(12)]
    appliances = [appliance(s.name, "http://unused", "k") for s in sources]
    facts = await gather_facts(sources, appliances, concurrency=3)
    assert len(facts) == 12
    assert tracker[1] == 3


async def test_unknown_platform_needs_a_role() -> None:
    """A platform that names no role is an error unless the inventory gives the role."""
    tracker = [0, 0]
    sources = [FakeSource("a", "mystery", tracker), FakeSource("b", "mystery", tracker)]
    appliances = [appliance("a", "http://unused", "k"), appliance("b", "http://u", "k", Role.TRACE)]
    facts = await gather_facts(sources, appliances, concurrency=2)
    assert facts["a"].error == "platform 'mystery' is not a known role; set role in the inventory"
    assert (facts["b"].role, facts["b"].error) == (Role.TRACE, None)


async def test_errors_are_one_line() -> None:
    """A multi-line error from an appliance is folded into one line."""
    source = FakeSource("x", "unreachable", [0, 0])
    facts = await gather_facts([source], [appliance("x", "http://u", "k")], concurrency=1)
    assert facts["x"].error == "GET /api/v1/extrahop failed: refused"


async def test_mismatched_lists_are_refused() -> None:
    """Passing a different number of clients and appliances is a programming error."""
    with pytest.raises(ValueError, match="one client per appliance"):
        await gather_facts([], [appliance("x", "http://u", "k")], concurrency=1)


# --- a job already running there (another run of the tool, from another state database) ---

TARGET = "9.9.1.100"
BUSY = Scenario.model_validate(
    {
        "time_scale": 0.001,
        "target_version": TARGET,
        "appliances": [
            {"name": "eca1", "role": "command", "version": TARGET, "api_key": "k-eca1"},
            {"name": "eda1", "role": "discover", "version": "9.8.0.100", "api_key": "k-eda1"},
            {
                "name": "eda2",
                "role": "discover",
                "version": "9.8.0.100",
                "api_key": "k-eda2",
                "download_duration": 600_000,  # its job runs for the whole test
            },
            {
                "name": "eta1",
                "role": "trace",
                "version": "9.8.0.100",
                "api_key": "k-eta1",
                "faults": {"no_job_location": True},
            },
        ],
    }
)


async def test_a_running_job_is_read_below_the_target_only() -> None:
    """GET /jobs names a running job (none before 8.5); an appliance at its target is not asked."""
    async with SimulatedFleet(BUSY) as fleet:
        appliances = [
            appliance(n, fleet.url(n), fleet.api_key(n), target=TARGET) for n in fleet.names
        ]
        async with open_session(SETTINGS) as session:
            other_run = ApplianceClient(session, appliances[2], SETTINGS)
            job = await other_run.download_url(
                f"{fleet.repository_url}/firmware/discover-{TARGET}.tar"
            )
        before = {n: fleet.request_count(n) for n in fleet.names}
        facts = await gather(appliances)
        asked = {n: fleet.request_count(n) - before[n] for n in fleet.names}
    assert job is not None
    assert {n: (f.running_job, f.error) for n, f in facts.items()} == {
        "eca1": (None, None),
        "eda1": (None, None),
        "eda2": (job, None),
        "eta1": (None, None),  # 404: firmware before 8.5 has no jobs to collide with
    }
    # A Discover appliance is also asked which Explore and Trace appliances it lists.
    assert asked == {"eca1": 1, "eda1": 3, "eda2": 3, "eta1": 2}


async def test_a_fleet_busy_with_another_run_is_refused_at_plan_time(tmp_path: Path) -> None:
    """A plan refuses an appliance running a job; a saved plan names it as drift at apply."""
    async with SimulatedFleet(BUSY) as fleet:
        inventory = load_inventory(fleet.write_inventory(tmp_path / "fleet.yaml", mode="url"))
        settings = fast_settings(tmp_path)
        saved = await workflow.make_plan(inventory, settings, offline=False)
        assert not saved.refused
        async with open_session(settings) as session:
            other_run = workflow.clients_for(session, inventory, settings)("eda2")
            job = await other_run.download_url(
                f"{fleet.repository_url}/firmware/discover-{TARGET}.tar"
            )
        fresh = await workflow.make_plan(inventory, settings, offline=False)
        with pytest.raises(DriftError) as drift:
            await workflow.prepare_saved_plan(saved, inventory, settings)
    assert fresh.refused
    line = fresh.by_name("eda2")
    assert (line.action, line.reason) == (
        Action.REFUSED,
        (
            f"job {job} is running on it: wait for the job to end, then plan again "
            "(it may be another run of this tool, using another state database)"
        ),
    )
    assert drift.value.drifts == [
        f"eda2 now has job {job} running (another run of this tool, using another state database?)"
    ]
