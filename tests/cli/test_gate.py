"""The gate, the voice and the hints, as an operator (or a script) meets them.

The confirmation says what will happen before it asks, and asks for the count on a larger
fleet; without a terminal every line on standard error is a JSON object carrying the run id;
and every "what next" command the tool prints works when pasted.
"""

from __future__ import annotations

import json
import re
import signal
from typing import TYPE_CHECKING, Any

import pytest
from fleetcheck import assert_fleet_finished_cleanly, has, kill, wait_for
from fleetrun import TARGET, lab
from simproc import Sim, in_terminal, orchestrator, start_orchestrator

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

HINT = re.compile(r"`(orchestrator [^`]+)`")


@pytest.fixture
def lab12(tmp_path: Path) -> Iterator[Sim]:
    """The full lab fleet: twelve appliances, above the typed-confirmation threshold."""
    sim = Sim(tmp_path, lab())
    yield sim
    sim.stop()


def test_a_larger_fleet_is_confirmed_by_typing_its_count(lab12: Sim) -> None:
    """Twelve appliances: `y` is not enough; what was asked, and why, is said first (exit 4)."""
    code, shown = in_terminal(
        "apply", str(lab12.inventory), answer="y", cwd=lab12.dir, prompt="appliances: "
    )
    assert code == 4, shown
    before = shown.split("Type 12 to upgrade these 12 appliances:")[0]
    assert "12 appliances: 12 to upgrade (+), 0 already current (=)" in before
    assert "Explore ingest halted while upgrading: exa (6 nodes)" in before
    assert "declined: nothing was changed" in shown
    assert not lab12.events("upload.started")


def test_typing_the_count_upgrades_the_fleet(lab12: Sim) -> None:
    """Typing 12 at the prompt runs the upgrade."""
    code, shown = in_terminal(
        "apply",
        str(lab12.inventory),
        answer="12",
        cwd=lab12.dir,
        prompt="appliances: ",
        timeout=120,
    )
    assert code == 0, shown[-3000:]
    assert "12 done — exit 0" in shown


def test_nothing_to_do_is_said_and_nothing_is_asked(tmp_path: Path) -> None:
    """A fleet already on its target: `no changes`, exit 0, no question, no run."""
    scenario = lab(small=True)
    for spec in scenario["appliances"]:
        spec["version"] = TARGET
    sim = Sim(tmp_path, scenario)
    try:
        code, shown = in_terminal("apply", str(sim.inventory), answer="y", cwd=sim.dir)
    finally:
        sim.stop()
    assert code == 0, shown
    assert "no changes: every appliance is already at its target" in shown
    assert "[y/N]" not in shown
    assert not sim.events("upload.started")


def test_yes_still_says_what_was_approved(sim: Sim) -> None:
    """`--yes` asks nothing but leaves the plan and its summary in the log."""
    result = orchestrator(
        "apply", str(sim.inventory), "--yes", "--log-format", "console", cwd=sim.dir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "5 appliances: 5 to upgrade (+), 0 already current (=)" in result.stderr
    assert "Upgrade plan: ready to apply" in result.stdout  # the plan itself, on stdout


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of `stderr` as a JSON object (fails on any line that is not one)."""
    events = []
    for line in stderr.splitlines():
        event = json.loads(line)
        assert isinstance(event, dict), line
        assert "event" in event, line
        events.append(event)
    return events


def test_without_a_terminal_every_stderr_line_is_json_with_the_run_id(sim: Sim) -> None:
    """A run interrupted once, then resumed: only JSON objects on stderr, all with the run id.

    And a `run.started`, and a `run.finished` with the exit code and the counts.
    """
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3
    events = json_lines(stderr)
    run_ids = {event.get("run_id") for event in events}
    assert len(run_ids) == 1, run_ids  # every event, planning too, carries the run's id
    assert None not in run_ids
    names = [event["event"] for event in events]
    assert "run.started" in names
    assert "run.interrupted" in names
    finished = [event for event in events if event["event"] == "run.finished"]
    assert finished[-1]["exit_code"] == 3
    assert finished[-1]["counts"]["done"] >= 3
    resumed = orchestrator("resume", cwd=sim.dir)
    assert resumed.returncode == 0
    events = json_lines(resumed.stderr)
    assert {event.get("run_id") for event in events if event["event"].startswith("run.")} == (
        run_ids
    )


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("apply", "--frobnicate"), id="usage"),
        pytest.param(("validate", "missing.yaml"), id="inventory"),
        pytest.param(("plan", "fleet.yaml", "--concurrency", "0"), id="setting"),
    ],
)
def test_errors_are_json_too(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Bad input without a terminal: one JSON error event, exit 2, nothing else on stderr."""
    result = orchestrator(*args, cwd=tmp_path)
    assert result.returncode == 2
    (event,) = json_lines(result.stderr)
    assert event["level"] == "error"
    assert event["message"].startswith("error: ")


def hints(*results: subprocess.CompletedProcess[str]) -> list[str]:
    """Every `orchestrator ...` command the outputs tell the user to run."""
    found: list[str] = []
    for result in results:
        for text in (result.stdout, result.stderr):
            found += [hint for hint in HINT.findall(text) if hint not in found]
    return found


def run_hint(hint: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Paste `hint` (it starts with `orchestrator`)."""
    return orchestrator(*hint.split()[1:], "--log-format", "console", cwd=cwd)


@pytest.mark.parametrize("remedy", ["resume", "restore-ingest"])
def test_every_hint_works_when_pasted(sim: Sim, tmp_path: Path, remedy: str) -> None:
    """After a kill, every command the tool suggests runs as printed and does what it says.

    The run has a state database of its own, and the hints are pasted in another folder.
    """
    db = tmp_path / "team" / "state.db"
    db.parent.mkdir()
    proc = start_orchestrator(
        "apply", str(sim.inventory), "--yes", "--state-db", str(db), cwd=sim.dir
    )
    wait_for(sim, has("job.created", "exa-m1"))
    kill(proc)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    said = [
        orchestrator("status", "--state-db", str(db), "--log-format", "console", cwd=elsewhere),
        orchestrator(
            "apply",
            str(sim.inventory),
            "--yes",
            "--state-db",
            str(db),
            "--log-format",
            "console",
            cwd=elsewhere,
        ),
    ]
    pasted = hints(*said)
    assert any(h.startswith("orchestrator resume") for h in pasted), pasted
    assert any(h.startswith("orchestrator restore-ingest") for h in pasted), pasted
    for hint in pasted:
        assert f"--state-db {db}" in hint, hint  # it names the database it is about
    chosen = next(h for h in pasted if h.startswith(f"orchestrator {remedy}"))
    if remedy == "restore-ingest":
        wait_for(sim, has("restart.finished", "exa-m1"))
    result = run_hint(chosen, elsewhere)
    assert result.returncode == 0, (chosen, result.stderr)
    ingest = [e["data"]["enabled"] for e in sim.events("ingest.changed")]
    assert ingest[-1] is True
    if remedy == "resume":
        assert_fleet_finished_cleanly(sim)
