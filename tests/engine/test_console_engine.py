"""Console mode through the engine's ports, in memory: the console upgrades the fleet.

Stopped or cut at every step, a resumed run re-attaches the console job it started and never
asks the console twice for one appliance; a failing remote job blocks the waves after it.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import TARGET, lab
from memrun import CONSOLE_KEYED, MemoryRun, fast, inventory_of

from orchestrator.core.models import Outcome
from orchestrator.engine.consolefacts import console_facts
from orchestrator.engine.ports import JobProgressed, StepNoted
from orchestrator.simulator import Scenario
from orchestrator.simulator.memory import MemoryFleet

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from orchestrator.engine.ports import RunEvent, StateChanged

THROUGH = ("eda1", "exa-m1", "exa-d1", "eta1")
STEPS = [Outcome.PRECHECKED, Outcome.UPGRADING, Outcome.REBOOTING, Outcome.VERIFYING]


async def console_run(tmp_path: Path, faults: dict[str, dict[str, Any]] | None = None) -> MemoryRun:
    """The small lab in console mode, on a clock fast enough for a run in about a second."""
    scenario = lab(faults, small=True)
    scenario["time_scale"] = 0.00005
    return await MemoryRun.planned(scenario, tmp_path, fast(), console=True)


def observed(run: MemoryRun) -> list[RunEvent]:
    """What every run told its observer, in order."""
    return [event for observer in run.observers for event in observer.events]


def upgrade_requests(run: MemoryRun) -> collections.Counter[int]:
    """How many times the console was asked to upgrade each appliance (by its id)."""
    asked = [e.data["system_ids"] for e in run.fleet.events if e.kind == "console.upgrade_started"]
    return collections.Counter(ident for ids in asked for ident in ids)


async def test_the_console_upgrades_each_appliance_once_and_follows_its_remote_job(
    tmp_path: Path,
) -> None:
    """All at the target, one console request each; the keyless ones never asked directly."""
    run = await console_run(tmp_path)
    report = await run.run()
    assert report.exit_code == 0, [(r.name, r.outcome, r.error) for r in report.results]
    appliances = run.fleet.appliances
    assert {n: a.version for n, a in appliances.items()} == dict.fromkeys(appliances, TARGET)
    assert upgrade_requests(run) == dict.fromkeys([1, 2, 3, 4], 1)
    assert [appliances[n].requests for n in THROUGH if n not in CONSOLE_KEYED] == [0, 0, 0]
    assert appliances["exa-m1"].cluster is not None
    assert appliances["exa-m1"].cluster.ingest_enabled


async def test_the_live_view_sees_each_remote_job_progress(tmp_path: Path) -> None:
    """Each appliance's remote job is reported as its job, step by step, until DONE."""
    run = await console_run(tmp_path)
    await run.run()
    seen = [e for e in observed(run) if isinstance(e, JobProgressed)]
    assert {e.appliance for e in seen} == {"eca1", *THROUGH}  # the console: its own job
    assert {e.job.status for e in seen if e.appliance == "eda1"} >= {"DONE"}


async def test_a_failing_remote_job_fails_its_appliance_and_blocks_the_next_waves(
    tmp_path: Path,
) -> None:
    """eda1's remote job fails: eda1 failed with the job's words, Explore and Trace blocked."""
    run = await console_run(tmp_path, {"eda1": {"job_result": "FAILED"}})
    report = await run.run()
    outcomes = {r.name: r.outcome for r in report.results}
    assert outcomes == {
        "eca1": Outcome.DONE,
        "eda1": Outcome.FAILED,
        "exa-m1": Outcome.BLOCKED,
        "exa-d1": Outcome.BLOCKED,
        "eta1": Outcome.BLOCKED,
    }
    assert upgrade_requests(run) == {1: 1}


@pytest.mark.parametrize("name", ["eda1", "exa-d1"])
@pytest.mark.parametrize("state", STEPS, ids=str)
@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_run_stopped_at_any_step_resumes_and_asks_the_console_once(
    tmp_path: Path, name: str, state: Outcome, how: str
) -> None:
    """Stopped or cut as an appliance enters a state, resumed: the console is asked once each.

    Stopped: a Ctrl-C; cut: a second one. Every appliance then reaches the target.
    """

    def cut(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        if event.appliance == name and event.state is state and not stop.is_set():
            stop.set()
            if how == "cancel":
                task.cancel()

    run = await console_run(tmp_path)
    first = await run.run(trigger=cut)
    # Stopped as the last appliance finishes, the first run may have finished the fleet.
    finished = all(r.outcome in {Outcome.DONE, Outcome.SKIPPED} for r in first.results)
    assert first.exit_code == (0 if finished else 3)
    second = await run.run()
    assert second.exit_code == 0, [(r.name, r.outcome, r.error) for r in second.results]
    appliances = run.fleet.appliances
    assert {n: a.version for n, a in appliances.items()} == dict.fromkeys(appliances, TARGET)
    assert upgrade_requests(run) == dict.fromkeys([1, 2, 3, 4], 1)
    run.fleet.close()


async def test_a_console_job_already_upgrading_an_appliance_refuses_it_at_plan_time(
    tmp_path: Path,
) -> None:
    """Another run's console job upgrading eda1: the plan leaves eda1 alone, naming the job."""
    scenario = lab(small=True)
    fleet = MemoryFleet(Scenario.model_validate(scenario))
    inventory, _ = inventory_of(scenario, tmp_path, console=True)
    console = fleet.client("eca1")
    job = await console.console_upgrade([1], TARGET)
    through = [a for a in inventory.appliances if a.firmware.kind == "console"]
    facts = await console_facts(console, through, fleet.client)
    assert facts["eda1"].running_job == job
    assert f"job {job} is running on it" in (facts["eda1"].refusal or "")
    assert [facts[name].refusal for name in THROUGH[1:]] == [None, None, None]
    fleet.close()


async def test_a_console_that_forgets_the_job_leaves_the_version_to_decide(
    tmp_path: Path,
) -> None:
    """The console restarts and no longer knows eda1's job (404): eda1 is done by its version."""
    run = await console_run(tmp_path)
    console = run.fleet.appliances["eca1"]

    def forget(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        del stop, task
        if event.appliance == "eda1" and event.state is Outcome.UPGRADING and event.detail:
            console.jobs.clear()

    report = await run.run(trigger=forget)
    assert report.exit_code == 0, [(r.name, r.outcome, r.error) for r in report.results]
    assert run.fleet.appliances["eda1"].version == TARGET
    notes = [e for e in observed(run) if isinstance(e, StepNoted) and "is gone" in e.detail]
    assert [e.appliance for e in notes] == ["eda1"]
    assert upgrade_requests(run) == dict.fromkeys([1, 2, 3, 4], 1)
