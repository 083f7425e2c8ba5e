"""`orchestrator rollback RUN`: the warning, the typed confirmation, exit codes, status after.

Real processes against the simulator in its own process; its event log is the ground truth.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from fleetcheck import NAMES
from fleetrun import OLD, TARGET
from simproc import error_message, in_terminal, orchestrator

if TYPE_CHECKING:
    from pathlib import Path

    from simproc import Sim

pytestmark = pytest.mark.slow

WARNING = "resets the datastore and removes all metrics"


def upgraded_run(sim: Sim) -> str:
    """Upgrade the lab fleet; the run's id."""
    result = orchestrator("apply", str(sim.inventory), "--yes", "--log-format", "json", cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    finished = [json.loads(line) for line in result.stderr.splitlines() if "run.finished" in line]
    return str(finished[-1]["run_id"])


def test_declining_the_typed_count_changes_nothing_and_exits_4(sim: Sim) -> None:
    """The table and the vendor's warning come before the question; a wrong answer is a no."""
    run = upgraded_run(sim)
    code, shown = in_terminal(
        "rollback", run[:8], answer="y", cwd=sim.dir, prompt="to roll back these"
    )
    assert code == 4, shown
    question = shown.index("Type 5 to roll back these 5 appliances")
    assert shown.index("Rollback plan") < question
    assert shown.index("Rolling back the firmware") < question
    assert WARNING in re.sub(r"\s+", " ", shown)
    assert "nothing was changed" in shown
    assert not sim.events("rollback.started")


def test_typing_the_count_rolls_back_and_status_shows_the_rollback(sim: Sim) -> None:
    """The count typed: every appliance back on its version; `status` reads the rollback run."""
    run = upgraded_run(sim)
    code, shown = in_terminal(
        "rollback", run[:8], answer="5", cwd=sim.dir, prompt="to roll back these"
    )
    assert code == 0, shown
    started = [e["appliance"] for e in sim.events("rollback.started")]
    assert started == list(reversed(NAMES))
    versions = {e["appliance"]: e["data"]["version"] for e in sim.events("restart.finished")}
    assert set(versions.values()) == {OLD}
    status = orchestrator("status", "--format", "json", cwd=sim.dir)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)["run"]
    assert document["run_id"] != run
    assert {a["outcome"] for a in document["appliances"]} == {"done"}
    assert {a["version_before"] for a in document["appliances"]} == {TARGET}
    assert {a["version_after"] for a in document["appliances"]} == {OLD}
    assert document["origin"]["rolls_back"] == run
    history = json.loads(orchestrator("history", "--format", "json", cwd=sim.dir).stdout)
    assert [r["rolls_back"] for r in history["runs"]] == [run, None]
    table = orchestrator("status", cwd=sim.dir).stdout
    assert f"rollback  of run {run}" in table


def test_without_a_terminal_or_yes_it_refuses_and_names_the_flag(sim: Sim) -> None:
    """No terminal to ask on: exit 2, `--yes` named, nothing rolled back."""
    run = upgraded_run(sim)
    result = orchestrator("rollback", run, cwd=sim.dir)
    assert result.returncode == 2
    assert "--yes" in error_message(result)
    assert not sim.events("rollback.started")


def test_an_appliance_the_run_did_not_change_is_refused_in_one_line(
    sim: Sim, tmp_path: Path
) -> None:
    """--appliance naming one the run left alone: exit 2 and why, no traceback."""
    run = upgraded_run(sim)
    result = orchestrator("rollback", run, "--appliance", "nope", "--yes", cwd=tmp_path)
    assert result.returncode == 2
    assert error_message(result) == f"error: --appliance nope: run {run[:8]} has no appliance nope"
    assert "Traceback" not in result.stderr
