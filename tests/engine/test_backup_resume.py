"""Backup and post-check across an interrupted run, with the engine on appliances in memory."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import TARGET, lab
from memrun import MemoryRun, fast

from orchestrator.core.models import Outcome
from orchestrator.engine.ports import StepNoted

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from orchestrator.engine.ports import StateChanged


def quick_lab(faults: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The small lab fleet, a whole run in about a second."""
    return lab(faults, small=True) | {"time_scale": 0.00005}


async def planned(tmp_path: Path, scenario: dict[str, Any]) -> MemoryRun:
    return await MemoryRun.planned(scenario, tmp_path, fast())


AFTER_BACKUP = [Outcome.BACKING_UP, Outcome.UPLOADING, Outcome.REBOOTING, Outcome.POSTCHECKING]


def stop_at(name: str, state: Outcome, *, cut: bool = False) -> Any:  # noqa: ANN401 - a trigger
    """Stop the run (Ctrl-C) as `name` enters `state`; `cut`: cancel it there (a second one)."""

    def trigger(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        if event.appliance == name and event.state is state and not stop.is_set():
            stop.set()
            if cut:
                task.cancel()

    return trigger


@pytest.mark.parametrize("state", AFTER_BACKUP, ids=str)
async def test_a_resumed_run_never_backs_an_appliance_up_twice(
    tmp_path: Path, state: Outcome
) -> None:
    """Stopped as eda1 enters any state from its backup on, resumed: one backup each."""
    run = await planned(tmp_path, quick_lab())
    assert (await run.run(trigger=stop_at("eda1", state))).exit_code == 3
    assert (await run.run()).exit_code == 0
    assert {a.version for a in run.fleet.appliances.values()} == {TARGET}
    assert collections.Counter(run.kinds("job.created")) == dict.fromkeys(run.fleet.appliances, 1)
    backups = collections.Counter(run.kinds("backup.created"))
    assert backups == dict.fromkeys(run.fleet.appliances, 1)
    assert {name for name, _ in run.backups.files} == set(run.fleet.appliances)
    run.fleet.close()


async def test_a_resumed_run_compares_the_license_saved_before_the_change(tmp_path: Path) -> None:
    """Stopped while eda1 restarts, resumed: the license changed by the upgrade still fails it."""
    run = await planned(tmp_path, quick_lab({"eda1": {"license_changes": True}}))
    assert (await run.run(trigger=stop_at("eda1", Outcome.REBOOTING, cut=True))).exit_code == 3
    report = await run.run()
    eda1 = next(r for r in report.results if r.name == "eda1")
    assert eda1.outcome is Outcome.FAILED
    assert "license changed during the upgrade" in (eda1.error or "")
    run.fleet.close()


async def test_without_backups_a_resumed_run_says_it_cannot_compare_the_license(
    tmp_path: Path,
) -> None:
    """--no-backup, cut while eda1 restarts: its precheck's license is gone; the run says so."""
    scenario = quick_lab({"eda1": {"license_changes": True}})
    run = await MemoryRun.planned(scenario, tmp_path, fast(backup=False))
    assert (await run.run(trigger=stop_at("eda1", Outcome.REBOOTING, cut=True))).exit_code == 3
    report = await run.run()
    assert report.exit_code == 0
    assert run.kinds("backup.created") == []
    notes = [e for e in run.observers[-1].events if isinstance(e, StepNoted)]
    assert any("license not compared" in n.detail for n in notes if n.appliance == "eda1")
    run.fleet.close()
