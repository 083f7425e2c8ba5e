"""Gates as an operator meets them: a run started elsewhere, released or stopped from here.

Real processes against the simulator: the waiting run in one, `orchestrator continue` in
another (or the answer typed at the run's own terminal), the simulator's event log as the
ground truth of what was touched while the run waited.
"""

from __future__ import annotations

import json
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest
from fleetcheck import assert_fleet_finished_cleanly, wait_for
from simproc import Sim, Terminal, orchestrator, start_orchestrator

from orchestrator.core.about import operator
from orchestrator.core.statehome import default_state_db
from orchestrator.journal.gates import GateRow, GateStore

if TYPE_CHECKING:
    import subprocess

pytestmark = pytest.mark.slow

STAGES = ["discover", "explore-managers", "explore-data", "trace"]
FIRST = ["eca1", "eda1", "exa-m1", "exa-d1", "eta1"]  # the small lab fleet, stage by stage
CHANGING = {"upload.started", "job.created"}


def open_gate(proc: subprocess.Popen[str] | None = None, timeout: float = 60) -> GateRow:
    """Block until the run waits at a gate; that gate."""
    deadline = time.monotonic() + timeout
    while True:
        if default_state_db().exists():
            store = GateStore(default_state_db())
            try:
                rows = store.conn.execute("SELECT run_id FROM runs").fetchall()
                waiting = store.waiting(rows[-1][0]) if rows else None
            finally:
                store.close()
            if waiting is not None:
                return waiting
        assert proc is None or proc.poll() is None, "the run ended without waiting"
        assert time.monotonic() < deadline, "no gate opened"
        time.sleep(0.05)


def ingest_changes(events: list[dict[str, Any]]) -> list[bool]:
    """Each change of the cluster's ingest, in order: False halted, True enabled."""
    return [e["data"]["enabled"] for e in events if e["kind"] == "ingest.changed"]


def touched(sim: Sim) -> set[str]:
    return {e["appliance"] for e in sim.events() if e["kind"] in CHANGING}


def report(sim: Sim) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((sim.dir / "run.json").read_text())
    return document


def test_a_gate_is_released_from_a_second_process(sim: Sim) -> None:
    """The run waits before each stage touching nothing new; `orchestrator continue` frees it."""
    run = start_orchestrator(
        "apply", str(sim.inventory), "--yes", "--pause-after", "stage",
        "--report", str(sim.dir / "run.json"), cwd=sim.dir,
    )  # fmt: skip
    for index, stage in enumerate(STAGES):
        gate = open_gate(run)
        assert gate.gate == stage
        # Waiting: every earlier stage was changed, nothing of this one or any later one.
        assert touched(sim) == set(FIRST[: index + 1])
        if index == 0:  # `status` tells whoever is on call what the run waits for
            status = orchestrator("status", "--format", "json", cwd=sim.dir)
            assert status.returncode == 5
            document = json.loads(status.stdout)
            assert document["waiting_at"] == "discover"
            assert document["next"].startswith("orchestrator continue ")
        released = orchestrator("continue", cwd=sim.dir)
        assert released.returncode == 0, released.stderr
        assert f"the gate before {stage} released (by {operator()})" in released.stdout
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert_fleet_finished_cleanly(sim)
    gates = report(sim)["gates"]
    assert [(g["gate"], g["answer"], g["by"]) for g in gates] == [
        (stage, "continue", operator()) for stage in STAGES
    ]
    opened = [json.loads(line) for line in err.splitlines() if '"gate.opened"' in line]
    assert [o["gate"] for o in opened] == STAGES
    assert opened[0]["finished"] == {"eca1": "done"}
    assert opened[0]["release"] == f"orchestrator continue {report(sim)['run_id'][:8]}"


def test_stop_at_a_gate_ends_the_run_and_resume_waits_there_again(sim: Sim) -> None:
    """`stop`: nothing behind the gate starts, exit 3; `resume` waits at the same gate."""
    args = ("--pause-after", "stage", "--report", str(sim.dir / "run.json"))
    run = start_orchestrator("apply", str(sim.inventory), "--yes", *args, cwd=sim.dir)
    assert open_gate(run).gate == "discover"
    assert orchestrator("stop", cwd=sim.dir).returncode == 0
    _, err = run.communicate(timeout=60)
    assert run.returncode == 3, err
    assert touched(sim) == {"eca1"}
    assert report(sim)["counts"]["cancelled"] == 4
    nothing = orchestrator("continue", cwd=sim.dir)
    assert nothing.returncode == 2
    assert "is not waiting at a gate; nothing was changed" in nothing.stderr
    resumed = start_orchestrator("resume", "--report", str(sim.dir / "run.json"), cwd=sim.dir)
    for stage in STAGES:
        assert open_gate(resumed).gate == stage
        assert orchestrator("continue", cwd=sim.dir).returncode == 0
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert_fleet_finished_cleanly(sim)
    answers = [(g["gate"], g["answer"]) for g in report(sim)["gates"]]
    assert answers == [(stage, "continue") for stage in STAGES]


def test_ctrl_c_at_a_gate_inside_the_ingest_bracket_restores_ingest(sim: Sim) -> None:
    """Interrupted while waiting between the Explore stages: exit 3, ingest enabled again."""
    run = start_orchestrator(
        "apply", str(sim.inventory), "--yes", "--pause-after", "stage", cwd=sim.dir
    )
    for stage in STAGES[:2]:
        assert open_gate(run).gate == stage
        assert orchestrator("continue", cwd=sim.dir).returncode == 0
    assert open_gate(run).gate == "explore-data"
    assert ingest_changes(sim.events()) == [
        False
    ]  # waiting with the cluster halted: its manager is upgraded
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 3, err
    wait_for(sim, lambda events: ingest_changes(events) == [False, True])
    assert "exa-d1" not in touched(sim)


def test_the_gate_is_answered_at_the_runs_own_terminal(sim: Sim) -> None:
    """On a terminal the live view says the run waits and how to answer; `c` continues it."""
    term = Terminal(
        "apply", str(sim.inventory), "--yes", "--pause-after", "stage", "--batches", "1",
        "--report", str(sim.dir / "run.json"), cwd=sim.dir, columns=100,
    )  # fmt: skip
    for stage in STAGES:
        term.wait_for_text(f"waiting at the gate before {stage}")
        term.type("c\n")
        open_gate_passed(stage)
    assert term.wait() == 0, term.text()[-2000:]
    shown = term.text()
    assert "continue: type c and Enter, or run `orchestrator continue" in shown
    gates = report(sim)["gates"]
    assert [(g["gate"], g["by"]) for g in gates] == [(stage, operator()) for stage in STAGES]


def open_gate_passed(stage: str, timeout: float = 30) -> None:
    """Block until the gate before `stage` has an answer."""
    deadline = time.monotonic() + timeout
    while True:
        store = GateStore(default_state_db())
        try:
            row = store.conn.execute(
                "SELECT answer FROM gates WHERE gate = ? AND answer IS NOT NULL", (stage,)
            ).fetchone()
        finally:
            store.close()
        if row is not None:
            return
        assert time.monotonic() < deadline, f"the gate before {stage} was never answered"
        time.sleep(0.05)
