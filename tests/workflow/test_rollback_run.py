"""A rollback undoes a run: reverse stage order, ingest bracket, versions verified, resumable.

The real client against the simulator over sockets; its event log is the ground truth.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import OLD, TARGET, fast_settings, lab

from orchestrator import workflow
from orchestrator.core.errors import ConfigError, StateError
from orchestrator.engine.logs import LogObserver
from orchestrator.inventory import load_inventory
from orchestrator.simulator import Scenario, SimulatedFleet
from orchestrator.workflow.rollback import changed_by, find_source, plan_rollback

if TYPE_CHECKING:
    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.plan import Plan
    from orchestrator.simulator import Event

# The vendor's order undone: Trace first, Command last.
STAGES = [
    ["eta1"],
    ["exa-d1"],
    ["exa-m1"],
    ["eda1"],
    ["eca1"],
]


class Lab:
    """A served small lab fleet, upgraded once, ready to be rolled back."""

    def __init__(self, fleet: SimulatedFleet, inventory: Inventory, settings: Settings) -> None:
        self.fleet = fleet
        self.inventory = inventory
        self.settings = settings
        self.run_id = ""

    async def upgrade(self) -> RunReport:
        """Plan and apply the upgrade, as `apply` does."""
        plan = await workflow.make_plan(self.inventory, self.settings, offline=False)
        report = await workflow.execute(
            plan, self.inventory, self.settings, observer=LogObserver(), stop=asyncio.Event()
        )
        self.run_id = report.run_id
        return report

    async def plan(self, *only: str) -> Plan:
        """The rollback plan of the upgrade (of `only` those appliances)."""
        source = find_source(self.settings, self.run_id[:8])
        return await plan_rollback(source, changed_by(source, only), self.inventory, self.settings)

    async def roll_back(self, plan: Plan, stop: asyncio.Event | None = None) -> RunReport:
        """Run the rollback plan, as `rollback --yes` does."""
        return await workflow.execute(
            plan,
            self.inventory,
            self.settings,
            observer=LogObserver(),
            stop=stop or asyncio.Event(),
            command="rollback",
        )

    def since_upgrade(self, kind: str) -> list[Event]:
        """The events of `kind` in the log (every rollback event comes after the upgrade)."""
        return self.fleet.events_of(kind)


async def served_lab(tmp_path: Path, faults: dict[str, dict[str, Any]] | None = None) -> Lab:
    """Start the small lab fleet (one node per stage; exa: 1 manager, 1 data) and upgrade it."""
    fleet = SimulatedFleet(Scenario.model_validate(lab(faults, small=True)))
    await fleet.__aenter__()
    path = fleet.write_inventory(tmp_path / "fleet.yaml")
    served = Lab(fleet, load_inventory(path), fast_settings(tmp_path))
    report = await served.upgrade()
    assert report.exit_code == 0
    return served


@pytest.fixture
async def upgraded(tmp_path: Path) -> Any:  # noqa: ANN401 - an async generator fixture
    """The small lab fleet, upgraded to the target by a run."""
    served = await served_lab(tmp_path)
    yield served
    await served.fleet.__aexit__(None, None, None)


def outcomes(report: RunReport) -> dict[str, str]:
    """Each appliance's outcome in the report."""
    return {r.name: r.outcome.value for r in report.results}


async def test_rollback_goes_in_reverse_stage_order_and_restores_every_version(
    upgraded: Lab,
) -> None:
    """Trace, Explore data, Explore managers, Discover, Command: each stage after the last."""
    report = await upgraded.roll_back(await upgraded.plan())
    assert report.exit_code == 0
    assert set(outcomes(report).values()) == {"done"}
    started = [e.appliance for e in upgraded.since_upgrade("rollback.started")]
    assert started == [name for stage in STAGES for name in stage]
    back = {e.appliance: e.t for e in upgraded.since_upgrade("restart.finished")}
    begun = {e.appliance: e.t for e in upgraded.since_upgrade("rollback.started")}
    for earlier, later in itertools.pairwise(STAGES):
        assert max(back[n] for n in earlier) < min(begun[n] for n in later)
    for name in upgraded.fleet.names:
        assert upgraded.fleet.version(name) == OLD


async def test_explore_cluster_is_rolled_back_with_ingest_halted(upgraded: Lab) -> None:
    """Ingest goes off before the cluster's first rollback and on after its last restart."""
    await upgraded.roll_back(await upgraded.plan())
    upgrade_changes = 2  # the upgrade's own bracket came first
    changes = upgraded.since_upgrade("ingest.changed")[upgrade_changes:]
    assert [c.data["enabled"] for c in changes] == [False, True]
    halted, restored = changes[0].t, changes[1].t
    exa = [e for e in upgraded.fleet.events if e.appliance in {"exa-m1", "exa-d1"}]
    rolled = [e.t for e in exa if e.kind == "rollback.started"]
    back = [e.t for e in exa if e.kind == "restart.finished"][-2:]
    assert halted < min(rolled)
    assert max(back) < restored
    assert upgraded.fleet.ingest_enabled("exa")


async def test_only_the_named_appliances_are_rolled_back(upgraded: Lab) -> None:
    """--appliance: the others keep the version the run gave them."""
    report = await upgraded.roll_back(await upgraded.plan("eda1"))
    assert outcomes(report) == {"eda1": "done"}
    assert [e.appliance for e in upgraded.since_upgrade("rollback.started")] == ["eda1"]
    assert upgraded.fleet.version("eda1") == OLD
    assert upgraded.fleet.version("eca1") == TARGET


async def test_an_appliance_whose_previous_firmware_is_another_is_refused(upgraded: Lab) -> None:
    """A previous version other than the run's version-before: blocked, saying why; others go."""
    upgraded.fleet.appliance("eda1").previous = "9.7.0.100"
    plan = await upgraded.plan()
    line = plan.by_name("eda1")
    assert line.action == "refused"
    assert "9.7.0.100" in (line.reason or "")
    assert OLD in (line.reason or "")
    report = await upgraded.roll_back(plan)
    assert report.exit_code == 1
    assert outcomes(report)["eda1"] == "blocked"
    assert upgraded.fleet.version("eda1") == TARGET
    assert "eda1" not in {e.appliance for e in upgraded.since_upgrade("rollback.started")}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        pytest.param({"rollback_fails": True}, "rollback could not be started", id="refused"),
        pytest.param({"rollback_version": "9.6.0.100"}, "came back on 9.6.0.100", id="wrong"),
    ],
)
async def test_a_failed_rollback_blocks_the_later_stages(
    tmp_path: Path, fault: dict[str, Any], error: str
) -> None:
    """A Discover appliance that fails its rollback: failed with the reason, Command untouched."""
    served = await served_lab(tmp_path, {"eda1": fault})
    try:
        report = await served.roll_back(await served.plan())
        assert report.exit_code == 1
        result = next(r for r in report.results if r.name == "eda1")
        assert result.outcome.value == "failed"
        assert error in (result.error or "")
        assert outcomes(report)["eca1"] == "blocked"
        assert served.fleet.version("eca1") == TARGET
    finally:
        await served.fleet.__aexit__(None, None, None)


async def test_an_interrupted_rollback_resumes_without_rolling_back_twice(upgraded: Lab) -> None:
    """Stopped inside the Explore cluster: resume finishes it, each appliance rolled back once."""
    stop = asyncio.Event()

    async def stop_at_the_cluster() -> None:
        while not any(e.appliance == "exa-d1" for e in upgraded.since_upgrade("rollback.started")):  # noqa: ASYNC110 - polling the simulator's log
            await asyncio.sleep(0.01)
        stop.set()

    watcher = asyncio.create_task(stop_at_the_cluster())
    first = await upgraded.roll_back(await upgraded.plan(), stop)
    await watcher
    assert first.exit_code == 3
    assert upgraded.fleet.version("eca1") == TARGET
    report = await workflow.resume(
        lambda source: load_inventory(Path(source)),
        upgraded.settings,
        observer_for=lambda _plan: LogObserver(),
        stop=asyncio.Event(),
    )
    assert report.exit_code == 0
    assert report.run_id == first.run_id
    started = [e.appliance for e in upgraded.since_upgrade("rollback.started")]
    assert sorted(started) == sorted(upgraded.fleet.names)
    assert all(upgraded.fleet.version(n) == OLD for n in upgraded.fleet.names)
    assert upgraded.fleet.ingest_enabled("exa")


async def test_a_rollback_cannot_be_rolled_back(upgraded: Lab) -> None:
    """Rolling back a rollback run is refused with one line; so is an appliance it left alone."""
    report = await upgraded.roll_back(await upgraded.plan("eda1"))
    with pytest.raises(ConfigError, match="itself a rollback"):
        find_source(upgraded.settings, report.run_id)
    source = find_source(upgraded.settings, upgraded.run_id)
    with pytest.raises(ConfigError, match=r"--appliance nope: run .* has no appliance nope"):
        changed_by(source, ["nope"])
    with pytest.raises(StateError, match="no run 0000"):
        find_source(upgraded.settings, "0000")


async def test_a_previous_firmware_changed_since_the_plan_is_not_rolled_back(
    upgraded: Lab,
) -> None:
    """Read again right before the request: changed since the plan, it fails unchanged."""
    plan = await upgraded.plan()
    upgraded.fleet.appliance("eda1").previous = "9.7.0.100"
    report = await upgraded.roll_back(plan)
    result = next(r for r in report.results if r.name == "eda1")
    assert result.outcome.value == "failed"
    assert "previous firmware is now 9.7.0.100" in (result.error or "")
    assert "eda1" not in {e.appliance for e in upgraded.since_upgrade("rollback.started")}
    assert upgraded.fleet.version("eda1") == TARGET
    assert outcomes(report)["eca1"] == "blocked"
