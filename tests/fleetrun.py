"""Test helpers: build a simulated fleet, plan it and apply it the way `orchestrator apply` does."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

import yaml
from simproc import own_ports

from orchestrator import workflow
from orchestrator.core.config import Settings
from orchestrator.engine.logs import LogObserver
from orchestrator.inventory import load_inventory
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.plan import Plan, WaveKind
    from orchestrator.simulator import Event

TARGET = "9.9.1.100"
OLD = "9.8.0.100"
# Simulated seconds -> wall seconds: a 600 s job takes 0.6 s, a 240 s restart 0.24 s.
TIME_SCALE = 0.001


def lab(
    faults: dict[str, dict[str, Any]] | None = None,
    *,
    versions: dict[str, str] | None = None,
    ingest_enabled: bool = True,
    small: bool = False,
    connected: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The lab-sim fleet as a scenario dict (1 ECA, 3 EDA, 3+3 EXA, 2 ETA), with faults.

    `connected`: what a console or Discover appliance lists as connected to it, by its name
    (default: a Discover appliance every Explore and Trace appliance).
    """
    names: list[dict[str, Any]] = [{"name": "eca1", "role": "command"}]
    names += [{"name": f"eda{i}", "role": "discover"} for i in (1, 2, 3)]
    for node, prefix in (("manager", "exa-m"), ("data", "exa-d")):
        names += [
            {"name": f"{prefix}{i}", "role": "explore", "cluster": "exa", "node": node}
            for i in ((1,) if small else (1, 2, 3))
        ]
    names += [{"name": f"eta{i}", "role": "trace"} for i in ((1,) if small else (1, 2))]
    if small:
        names = [n for n in names if n["name"] not in {"eda2", "eda3"}]
    for spec in names:
        spec["version"] = (versions or {}).get(spec["name"], OLD)
        spec["api_key"] = f"secret-key-{spec['name']}-0123456789"
        if faults and spec["name"] in faults:
            spec["faults"] = faults[spec["name"]]
        if connected and spec["name"] in connected:
            spec["connected"] = connected[spec["name"]]
    return {
        "time_scale": TIME_SCALE,
        "target_version": TARGET,
        "image_size": 256 * 1024,
        "available_versions": [TARGET],
        "defaults": {
            "upload_throughput": 0,
            "job_steps": 3,
            "job_duration": 600,
            "download_duration": 60,
            "restart_downtime": 240,
        },
        "clusters": {"exa": {"ingest_enabled": ingest_enabled}},
        "appliances": names,
    }


def fast_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings that poll quickly enough for the scaled-down simulator."""
    values: dict[str, Any] = {
        "state_db": tmp_path / "state.db",
        "concurrency": 3,
        "poll_interval": 0.03,
        "poll_interval_max": 0.1,
        "job_deadline": 20.0,
        "reboot_deadline": 20.0,
        "retry_timeout": 10.0,
        "requests_per_second": 100.0,
        "upgrade_duration": 0.6,
        "reboot_duration": 0.24,
        "download_duration": 0.06,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclasses.dataclass
class RunResult:
    """What a test run produced: the report, the plan and the simulator's view."""

    report: RunReport
    plan: Plan
    inventory: Inventory
    fleet: SimulatedFleet

    @property
    def events(self) -> list[Event]:
        """The simulator's event log."""
        return list(self.fleet.events)

    def outcome(self, name: str) -> str:
        """How one appliance ended."""
        return next(r.outcome.value for r in self.report.results if r.name == name)

    def error(self, name: str) -> str:
        """Why one appliance ended as it did."""
        return next(r.error or "" for r in self.report.results if r.name == name)


async def apply_scenario(
    scenario: dict[str, Any],
    tmp_path: Path,
    *,
    mode: str = "file",
    settings: Settings | None = None,
    stop_when: Callable[[SimulatedFleet], bool] | None = None,
    after_plan: Callable[[Plan], None] | None = None,
    tls: bool = False,
    edit_inventory: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Serve `scenario` (over HTTPS with `tls`), write its inventory, plan and apply.

    `edit_inventory(data)` may change the written inventory (as parsed YAML) before it is read;
    `stop_when(fleet)` may interrupt; `after_plan(plan)` runs between the plan and the apply
    (to change the world meanwhile).
    """
    # Ports below the kernel's ephemeral range: a restarting appliance's port cannot be taken
    # meanwhile by another test's fleet, which would then answer for it (simproc.own_ports).
    fleet = SimulatedFleet(Scenario.model_validate(own_ports(scenario)), tls=tls)
    async with fleet:
        path = fleet.write_inventory(tmp_path / "fleet.yaml", mode=mode)  # type: ignore[arg-type]
        if edit_inventory is not None:
            data = yaml.safe_load(path.read_text())
            edit_inventory(data)
            path.write_text(yaml.safe_dump(data))
        inventory = load_inventory(path)
        chosen = settings or fast_settings(tmp_path)
        plan = await workflow.make_plan(inventory, chosen, offline=False)
        if after_plan is not None:
            after_plan(plan)
        stop = asyncio.Event()
        watcher = None
        if stop_when is not None:
            watcher = asyncio.create_task(_watch(fleet, stop, stop_when))
        report = await workflow.execute(plan, inventory, chosen, observer=LogObserver(), stop=stop)
        if watcher is not None:
            watcher.cancel()
        return RunResult(report=report, plan=plan, inventory=inventory, fleet=fleet)


async def _watch(
    fleet: SimulatedFleet, stop: asyncio.Event, condition: Callable[[SimulatedFleet], bool]
) -> None:
    while not condition(fleet):  # noqa: ASYNC110 - polling a test condition on the simulator
        await asyncio.sleep(0.01)
    stop.set()


MUTATING = {"upload.started", "job.created"}


def first_change(events: list[Event], name: str) -> float | None:
    """When the orchestrator first changed `name` (upload or job start)."""
    times = [e.t for e in events if e.appliance == name and e.kind in MUTATING]
    return min(times) if times else None


def came_back(events: list[Event], name: str) -> float | None:
    """When `name` last finished a restart."""
    times = [e.t for e in events if e.appliance == name and e.kind == "restart.finished"]
    return max(times) if times else None


def wave_members(plan: Plan) -> dict[WaveKind, list[str]]:
    """Appliance names per wave."""
    return {w.kind: [a.name for a in w.appliances] for w in plan.waves}
