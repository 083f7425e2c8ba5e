"""The engine through its ports, against appliances in memory: no socket, no timing luck.

Resume phases, the ingest bracket, the failure budget, the window and a stop or a hard cancel
at every step of the procedure, each checked on the simulator's own event list.
"""

from __future__ import annotations

import collections
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import TARGET, lab
from memrun import MemoryRun, assert_each_once_in_order, assert_while_ingest_off, cut_at, fast

from orchestrator.core.models import Outcome
from orchestrator.core.procedure import PHASE_OF

if TYPE_CHECKING:
    from pathlib import Path


EXPLORE = ("exa-m1", "exa-d1")


def quick_lab(faults: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> dict[str, Any]:  # noqa: ANN401
    """The small lab fleet on a clock fast enough for a whole run in about a second."""
    scenario = lab(faults, small=True, **kwargs)
    scenario["time_scale"] = 0.00005  # a 600 s job takes 0.03 s
    return scenario


async def planned(tmp_path: Path, scenario: dict[str, Any], **settings: Any) -> MemoryRun:  # noqa: ANN401
    return await MemoryRun.planned(scenario, tmp_path, fast(**settings))


def assert_clean(run: MemoryRun) -> None:
    """Every appliance on the target, each job started once after its prerequisites, ingest on."""
    assert_each_once_in_order(run, version=TARGET, kind="job.created")
    assert_explore_inside_the_bracket(run)


def assert_explore_inside_the_bracket(run: MemoryRun) -> None:
    """Every Explore job started while its cluster's ingest was off."""
    assert_while_ingest_off(run, "job.created", EXPLORE)


async def test_a_fleet_upgrades_through_the_ports_alone(tmp_path: Path) -> None:
    """Planned and run in memory: every appliance done, in the vendor's order, ingest restored."""
    run = await planned(tmp_path, quick_lab())
    report = await run.run()
    assert report.exit_code == 0
    assert {r.outcome for r in report.results} == {Outcome.DONE}
    assert_clean(run)
    assert [verb.value for _, _, verb, _ in run.journal.ingest] == [
        "halt_requested",
        "halted",
        "restored",
    ]


async def test_the_failure_budget_blocks_what_has_not_started(tmp_path: Path) -> None:
    """Past --max-failures, nothing new starts: the rest of the wave is blocked, not failed."""
    scenario = lab({"eda1": {"job_result": "FAILED"}})
    scenario["time_scale"] = 0.00005
    run = await planned(tmp_path, scenario, concurrency=1, max_failures="0")
    report = await run.run()
    outcomes = {r.name: r for r in report.results}
    assert outcomes["eda1"].outcome is Outcome.FAILED
    assert {outcomes[n].outcome for n in ("eda2", "eda3")} == {Outcome.BLOCKED}
    assert "failure budget 0 exceeded" in (outcomes["eda2"].error or "")
    assert run.kinds("job.created") == ["eca1", "eda1"]
    assert report.exit_code == 1


async def test_the_window_defers_what_would_not_finish(tmp_path: Path) -> None:
    """A window too short for any appliance: nothing is started, everything deferred (exit 3)."""
    window = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)
    run = await planned(tmp_path, quick_lab(), window_end=window, upgrade_duration=60)
    report = await run.run()
    assert report.exit_code == 3
    assert {r.outcome for r in report.results} == {Outcome.DEFERRED}
    assert run.kinds("upload.started") == []
    assert run.journal.ingest == []  # nothing to halt ingest for


STEPS = [state for state in PHASE_OF if state is not Outcome.PENDING]


@pytest.mark.parametrize("name", ["eda1", "exa-m1", "exa-d1"])
@pytest.mark.parametrize("state", STEPS, ids=str)
@pytest.mark.parametrize("how", ["stop", "cancel"])
async def test_a_run_stopped_at_any_step_resumes_without_doing_anything_twice(
    tmp_path: Path, name: str, state: Outcome, how: str
) -> None:
    """Stopped or cut as an appliance enters any state, resumed: the fleet ends clean.

    Stopped: a Ctrl-C; cut: a second one. Nothing is done twice, and ingest is never on
    under an Explore job.
    """
    run = await planned(tmp_path, quick_lab())
    first = await run.run(trigger=cut_at(name, state, how=how))
    # Stopped as the last appliance finishes, the first run may have finished the fleet.
    finished = all(r.outcome in {Outcome.DONE, Outcome.SKIPPED} for r in first.results)
    assert first.exit_code == (0 if finished else 3)
    second = await run.run()
    assert second.exit_code == 0, [(r.name, r.outcome, r.error) for r in second.results]
    assert_clean(run)
    uploads = collections.Counter(run.kinds("upload.started"))
    assert set(uploads.values()) == {1}  # in memory an upload and its journal never split
    run.fleet.close()
