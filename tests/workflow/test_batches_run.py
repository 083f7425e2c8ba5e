"""Batches as the fleet sees them: real processes, the simulator's event log as the ground truth.

The whole lab fleet has three Discover appliances: with `--batches 1` the first is the canary,
and each of the others goes alone after it.
"""

from __future__ import annotations

import collections
import itertools
import json
from typing import TYPE_CHECKING, Any

import pytest
from fleetcheck import has, kill, wait_for
from fleetrun import TARGET, lab
from simproc import Sim, orchestrator, start_orchestrator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

DISCOVER = ("eda1", "eda2", "eda3")
CHANGING = {"upload.started", "job.created"}


def spans(events: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Each appliance's first change and the end of its last restart, by the simulator's clock."""
    result = {}
    for name in names:
        mine = [e for e in events if e["appliance"] == name]
        start = min(e["t"] for e in mine if e["kind"] in CHANGING)
        end = max(e["t"] for e in mine if e["kind"] == "restart.finished")
        result[name] = (start, end)
    return result


@pytest.fixture
def canary_fails(tmp_path: Path) -> Iterator[Sim]:
    """The whole lab fleet whose first Discover appliance's firmware job fails."""
    fleet = Sim(tmp_path, lab({"eda1": {"job_result": "FAILED"}}))
    yield fleet
    fleet.stop()


@pytest.fixture
def whole_lab(tmp_path: Path) -> Iterator[Sim]:
    """The whole lab fleet: three Discover appliances, uploads slow enough to interrupt."""
    scenario = lab()
    scenario["defaults"]["upload_throughput"] = 400
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


def test_a_failing_canary_leaves_the_rest_of_its_stage_untouched(canary_fails: Sim) -> None:
    """`--batches 1`: eda1 fails, so eda2 and eda3 are blocked with the reason, never touched."""
    result = orchestrator(
        "apply",
        str(canary_fails.inventory),
        "--yes",
        "--batches",
        "1",
        "--report",
        "run.json",
        cwd=canary_fails.dir,
    )
    assert result.returncode == 1, result.stderr
    touched = {e["appliance"] for e in canary_fails.events() if e["kind"] in CHANGING}
    assert "eda1" in touched
    assert not touched & {"eda2", "eda3"}
    report = json.loads((canary_fails.dir / "run.json").read_text())
    outcomes = {a["name"]: a for a in report["appliances"]}
    for name in ("eda2", "eda3"):
        assert outcomes[name]["outcome"] == "blocked"
        assert "batch 1 of wave discover did not finish: eda1" in outcomes[name]["error"]


def test_resume_across_a_batch_boundary_keeps_the_batches_apart(whole_lab: Sim) -> None:
    """Killed in the second batch, resumed: every job once, no batch began before the last ended."""
    run = start_orchestrator(
        "apply", str(whole_lab.inventory), "--yes", "--batches", "1", cwd=whole_lab.dir
    )
    wait_for(whole_lab, has("job.created", "eda2"))
    kill(run)
    resumed = orchestrator("resume", cwd=whole_lab.dir, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    events = whole_lab.events()
    jobs = collections.Counter(e["appliance"] for e in events if e["kind"] == "job.created")
    assert max(jobs.values()) == 1, f"a job started twice: {jobs}"
    finished = {
        e["appliance"]: e["data"]["version"] for e in events if e["kind"] == "restart.finished"
    }
    assert all(finished[name] == TARGET for name in DISCOVER)
    times = spans(events, DISCOVER)
    for earlier, later in itertools.pairwise(DISCOVER):
        assert times[earlier][1] <= times[later][0], f"{later} began before {earlier} was back"
