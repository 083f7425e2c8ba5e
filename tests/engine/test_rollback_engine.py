"""A rollback through the engine's ports, in memory: stopped or cut at any step, then resumed.

The same runner as an upgrade; the rollback is sent once, in the reverse of the vendor's
order, each Explore node inside its cluster's ingest bracket (the simulator's event list).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from fleetrun import OLD, TARGET, lab
from memrun import (
    MemoryJournal,
    MemoryRun,
    assert_each_once_in_order,
    assert_while_ingest_off,
    cut_at,
    fast,
)

from orchestrator.core.models import Outcome
from orchestrator.plan.rollback import Observed, build_rollback_plan

if TYPE_CHECKING:
    from pathlib import Path


EXPLORE = ("exa-m1", "exa-d1")
STAGES = [["eta1"], ["exa-d1"], ["exa-m1"], ["eda1"], ["eca1"]]
# The states a rollback passes through (no upload, and no job to follow).
STEPS = [Outcome.PRECHECKED, Outcome.UPGRADING, Outcome.REBOOTING, Outcome.VERIFYING]


async def upgraded(tmp_path: Path) -> MemoryRun:
    """The small lab fleet in memory, upgraded to the target, ready to be rolled back."""
    scenario = lab(small=True)
    scenario["time_scale"] = 0.00005  # a 600 s job takes 0.03 s
    run = await MemoryRun.planned(scenario, tmp_path, fast())
    assert (await run.run()).exit_code == 0
    return run


def rollback_of(run: MemoryRun) -> MemoryRun:
    """A fresh run of the rollback plan of `run`, on the same fleet, with its own journal."""
    fleet = run.fleet
    observed = {
        name: Observed(
            name=name,
            version=a.version,
            previous=a.previous,
            ingest_enabled=a.cluster.ingest_enabled if a.cluster else None,
        )
        for name, a in fleet.appliances.items()
    }
    changed = dict.fromkeys(fleet.appliances, OLD)
    now = dt.datetime.now(dt.UTC)
    plan = build_rollback_plan(run.plan, "ab" * 16, changed, observed, run.settings, now=now)
    return MemoryRun(fleet, plan, run.settings, journal=MemoryJournal())


def assert_rolled_back_once_in_order(run: MemoryRun) -> None:
    """Every appliance on its old version, each rollback sent once, stages one after another."""
    assert_each_once_in_order(run, version=OLD, kind="rollback.started", stages=STAGES)
    assert set(run.kinds("rollback.started")) == set(run.fleet.appliances)


def assert_explore_rolled_back_with_ingest_off(run: MemoryRun) -> None:
    """Every Explore rollback was sent while its cluster's ingest was off."""
    assert_while_ingest_off(run, "rollback.started", EXPLORE)


async def test_a_rollback_runs_through_the_same_engine(tmp_path: Path) -> None:
    """Reverse order, each sent once, inside the ingest bracket; every appliance verified."""
    run = rollback_of(await upgraded(tmp_path))
    report = await run.run()
    assert report.exit_code == 0
    assert {r.outcome for r in report.results} == {Outcome.DONE}
    assert {r.version_after for r in report.results} == {OLD}
    assert_rolled_back_once_in_order(run)
    assert_explore_rolled_back_with_ingest_off(run)
    run.fleet.close()


@pytest.mark.parametrize("name", ["eda1", "exa-m1", "exa-d1"])
@pytest.mark.parametrize("state", STEPS, ids=str)
@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_rollback_stopped_at_any_step_resumes_without_sending_it_twice(
    tmp_path: Path, name: str, state: Outcome, how: str
) -> None:
    """Stopped (Ctrl-C) or cut (a second one) as an appliance enters a state, then resumed."""
    run = rollback_of(await upgraded(tmp_path))
    first = await run.run(trigger=cut_at(name, state, how=how))
    assert first.exit_code == 3
    assert run.fleet.appliances["eca1"].version == TARGET  # Command goes last: not yet
    second = await run.run()
    assert second.exit_code == 0, [(r.name, r.outcome, r.error) for r in second.results]
    assert_rolled_back_once_in_order(run)
    assert_explore_rolled_back_with_ingest_off(run)
    run.fleet.close()
