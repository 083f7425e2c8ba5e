"""Console mode over real TLS: discover, validate, plan and apply through the Command appliance."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from discovering import ca, complete
from fleetrun import TARGET, fast_settings, lab

from orchestrator import workflow
from orchestrator.core.models import Outcome
from orchestrator.engine.logs import LogObserver
from orchestrator.inventory import load_inventory
from orchestrator.inventory.discovered import key_variable
from orchestrator.plan import Action
from orchestrator.plan.console import key_lines
from orchestrator.simulator import Scenario, SimulatedFleet
from orchestrator.workflow.discover import Request, discover

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.plan import Plan

THROUGH = ("eda1", "exa-m1", "exa-d1", "eta1")  # what the console upgrades in the small lab


def keys(fleet: SimulatedFleet) -> dict[str, str]:
    """Only the console's key, and one Explore node's (to halt ingest): nothing else exported."""
    return {
        "EXTRAHOP_API_KEY": fleet.api_key("eca1"),
        key_variable("exa-m1"): fleet.api_key("exa-m1"),
    }


async def discovered(fleet: SimulatedFleet, tmp_path: Path, settings: Settings) -> Inventory:
    """Discover the fleet, fill in the clusters, switch its firmware to console mode, load it."""
    request = Request(
        fleet.url("eca1"),
        out=tmp_path / "fleet.yaml",
        ca_bundle=ca(fleet, tmp_path),
        version=TARGET,
    )
    result = await discover(request, settings, keys(fleet))
    complete(result.path)
    text = result.path.read_text().replace("cloud_version", "console_version")
    result.path.write_text(text)
    return load_inventory(result.path, env=keys(fleet))


async def plan_and_apply(
    scenario: dict[str, Any], tmp_path: Path
) -> tuple[Plan, RunReport, SimulatedFleet]:
    """Serve `scenario` over TLS, discover it in console mode, plan it and apply the plan."""
    settings = fast_settings(tmp_path)
    async with SimulatedFleet(Scenario.model_validate(scenario), tls=True) as fleet:
        inventory = await discovered(fleet, tmp_path, settings)
        plan = await workflow.make_plan(inventory, settings, offline=False)
        report = await workflow.execute(
            plan, inventory, settings, observer=LogObserver(), stop=asyncio.Event()
        )
    return plan, report, fleet


async def test_the_console_upgrades_the_fleet_with_only_its_key_and_one_explore_key(
    tmp_path: Path,
) -> None:
    """Every appliance reaches the target; the keyless ones were never sent a request."""
    plan, report, fleet = await plan_and_apply(lab(small=True), tmp_path)
    lines = {line.name: line for line in plan.appliances()}
    assert lines["eca1"].action is Action.CLOUD
    assert {name: lines[name].action for name in THROUGH} == dict.fromkeys(THROUGH, Action.CONSOLE)
    assert {lines[name].console for name in THROUGH} == {"eca1"}
    assert [b.via for b in plan.ingest] == ["exa-m1"]
    assert key_lines(plan)[:2] == [
        "eca1: the console, upgrades 4 appliances",
        "exa-m1: halts and restores ingest on cluster exa",
    ]
    assert report.exit_code == 0, report.results
    assert {r.name: r.outcome for r in report.results} == dict.fromkeys(fleet.names, Outcome.DONE)
    assert all(fleet.version(name) == TARGET for name in fleet.names)
    started = [e for e in fleet.events if e.kind == "console.upgrade_started"]
    assert sorted(tuple(e.data["system_ids"]) for e in started) == [(1,), (2,), (3,), (4,)]
    assert [fleet.request_count(name) for name in ("eda1", "exa-d1", "eta1")] == [0, 0, 0]
    assert fleet.ingest_enabled("exa")


async def test_a_failing_remote_job_fails_its_appliance_and_blocks_the_waves_after_it(
    tmp_path: Path,
) -> None:
    """eda1's remote job fails: eda1 FAILED with the console's words, later waves blocked."""
    _, report, fleet = await plan_and_apply(
        lab(small=True, faults={"eda1": {"job_result": "FAILED"}}), tmp_path
    )
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes["eca1"] is Outcome.DONE
    assert outcomes["eda1"] is Outcome.FAILED
    assert {outcomes[name] for name in ("exa-m1", "exa-d1", "eta1")} == {Outcome.BLOCKED}
    assert report.exit_code == 1
    assert "ended FAILED" in next(r.error or "" for r in report.results if r.name == "eda1")
    assert fleet.version("exa-m1") != TARGET
    assert fleet.ingest_enabled("exa")
