"""Explore is never upgraded with ingest on, nor ingest silently left off, whatever happens.

Real processes against the simulator in its own process; its event log is the ground truth.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from fleetcheck import assert_fleet_finished_cleanly, has, kill, slow_lab, wait_for
from simproc import Sim, Terminal, orchestrator, start_orchestrator

from orchestrator.journal import Journal

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

Event = dict[str, Any]
EXPLORE = ("exa-m1", "exa-d1")
MUTATING = ("upload.started", "job.created", "ingest.changed")


def with_faults(scenario: dict[str, Any], faults: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`scenario` with `faults` for the named appliances."""
    for spec in scenario["appliances"]:
        if spec["name"] in faults:
            spec["faults"] = faults[spec["name"]]
    return scenario


@pytest.fixture
def fleet(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Sim]:
    """The small lab fleet, with the faults (and ingest state) the test's marker names."""
    marker = request.node.get_closest_marker("scenario")
    faults: dict[str, dict[str, Any]] = marker.kwargs.get("faults", {}) if marker else {}
    scenario = with_faults(slow_lab(), faults)
    if marker and marker.kwargs.get("ingest_off"):
        scenario["clusters"]["exa"]["ingest_enabled"] = False
    sim = Sim(tmp_path, scenario)
    yield sim
    sim.stop()


def assert_explore_only_with_ingest_off(events: list[Event], *, initially: bool = True) -> None:
    """Every Explore job started while the cluster's ingest was off (as last changed)."""
    enabled = initially
    for event in sorted(events, key=lambda e: e["t"]):
        if event["kind"] == "ingest.changed":
            enabled = event["data"]["enabled"]
        if event["kind"] == "job.created" and event["appliance"] in EXPLORE:
            assert not enabled, f"{event['appliance']} upgraded with ingest on"


def mutations(sim: Sim) -> list[Event]:
    """Every event that changed an appliance."""
    return [e for e in sim.events() if e["kind"] in MUTATING]


@pytest.mark.scenario(faults={"exa-m1": {"halt_unavailable": {"count": 2, "retry_after": 3}}})
def test_a_crash_while_the_halt_is_retried_never_upgrades_explore_with_ingest_on(
    fleet: Sim,
) -> None:
    """Killed while the halt PATCH waits to be retried: resume halts again before any node."""
    env = {"ORCHESTRATOR_RETRY_TIMEOUT": "30"}
    proc = start_orchestrator("apply", str(fleet.inventory), "--yes", cwd=fleet.dir, env=env)
    wait_for(fleet, has("fault.injected", "exa-m1", fault="halt_unavailable"))
    kill(proc)
    status = orchestrator("status", cwd=fleet.dir)
    assert "ingest on exa: halt requested via exa-m1" in status.stdout
    assert "exa: halted" not in status.stdout  # never acknowledged: not claimed
    resumed = orchestrator("resume", "--report", "run.json", cwd=fleet.dir, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_explore_only_with_ingest_off(fleet.events())
    assert_fleet_finished_cleanly(fleet)
    report = json.loads((fleet.dir / "run.json").read_text())
    actions = [a["action"] for a in report["ingest"]]
    assert actions == ["halt_requested", "halt_requested", "halted", "restored"]


@pytest.mark.scenario(faults={name: {"halt_refused": True} for name in EXPLORE})
def test_a_halt_every_node_refuses_is_not_reported_as_ingest_left_disabled(fleet: Sim) -> None:
    """Every node refuses the halt: Explore is not upgraded, and ingest was never changed."""
    result = orchestrator(
        "apply", str(fleet.inventory), "--yes", "--report", "r.json", cwd=fleet.dir
    )
    assert result.returncode == 1
    assert not has("ingest.changed")(fleet.events())
    assert not [e for e in fleet.events("job.created") if e["appliance"] in EXPLORE]
    assert "INGEST IS STILL DISABLED" not in result.stdout
    assert "halt failed (ingest unchanged)" in result.stdout
    report = json.loads((fleet.dir / "r.json").read_text())
    assert [a["action"] for a in report["ingest"]] == ["halt_requested", "halt_failed"]
    plan = orchestrator("plan", str(fleet.inventory), cwd=fleet.dir)
    assert "disabled by a run of this tool" not in plan.stdout  # nothing to restore
    again = orchestrator("apply", str(fleet.inventory), "--yes", cwd=fleet.dir)
    assert "never re-enabled" not in again.stderr


@pytest.mark.scenario(ingest_off=True)
def test_an_offline_plan_never_turns_on_ingest_found_off(fleet: Sim) -> None:
    """Planned offline (ingest not observed), found off at run time: kept off."""
    planned = orchestrator(
        "plan", str(fleet.inventory), "--offline", "--out", "p.json", cwd=fleet.dir
    )
    assert planned.returncode == 0, planned.stderr
    result = orchestrator("apply", "--plan", "p.json", "--yes", "--report", "r.json", cwd=fleet.dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not has("ingest.changed")(fleet.events())
    report = json.loads((fleet.dir / "r.json").read_text())
    assert [a["action"] for a in report["ingest"]] == ["left_off"]
    assert "found disabled when the run began; kept off" in report["ingest"][0]["error"]


@pytest.mark.scenario(ingest_off=True)
def test_ingest_found_off_needs_a_choice_without_a_terminal(fleet: Sim) -> None:
    """Without a terminal and without --ingest-found-off: exit 2, nothing changed."""
    result = orchestrator("apply", str(fleet.inventory), "--yes", cwd=fleet.dir)
    assert result.returncode == 2
    assert "--ingest-found-off keep" in result.stderr
    assert "nothing was changed" in result.stderr
    assert mutations(fleet) == []


@pytest.mark.parametrize(("answer", "enabled_after"), [("keep", False), ("enable", True)])
@pytest.mark.scenario(ingest_off=True)
def test_ingest_found_off_is_asked_at_the_terminal_and_honoured(
    fleet: Sim, answer: str, *, enabled_after: bool
) -> None:
    """On a terminal apply asks keep or enable, repeats it before the confirmation, obeys."""
    term = Terminal("apply", str(fleet.inventory), cwd=fleet.dir, columns=120, rows=50)
    term.wait_for_text("[keep/enable]")
    term.type(answer + "\n")
    term.wait_for_text("[y/N]")
    assert "already disabled" in term.text()
    term.type("y\n")
    assert term.wait() == 0
    changes = [e["data"]["enabled"] for e in fleet.events("ingest.changed")]
    assert changes == ([False, True] if enabled_after else [])
    assert_explore_only_with_ingest_off(fleet.events(), initially=False)
    word = "enabled after the upgrade" if enabled_after else "kept off"
    assert f"found disabled; {word} as chosen" in term.text()


def tamper(plan: dict[str, Any], how: str) -> None:
    """Edit a saved plan the way the reliability campaign did."""
    waves = plan["waves"]
    by_kind = {w["kind"]: w for w in waves}
    if how == "no-ingest-bracket":
        plan["ingest"] = []
    elif how == "waves-reversed":
        waves.reverse()
    elif how == "data-node-in-command-wave":
        node = by_kind["explore-data"]["appliances"].pop()
        by_kind["command"]["appliances"].append(node)
    elif how == "discover-skipped":
        line = by_kind["discover"]["appliances"][0]
        line["action"], line["reason"] = "skip", "edited"
    elif how == "target-changed":
        by_kind["trace"]["appliances"][0]["target_version"] = "9.9.2.1"
    elif how == "duplicated":
        line = by_kind["discover"]["appliances"][0]
        by_kind["discover"]["appliances"].append(line)
    elif how == "concurrency-0":
        plan["concurrency"] = 0
    elif how == "concurrency-negative":
        plan["concurrency"] = -1


@pytest.mark.parametrize(
    "how",
    [
        "no-ingest-bracket",
        "waves-reversed",
        "data-node-in-command-wave",
        "discover-skipped",
        "target-changed",
        "duplicated",
        "concurrency-0",
        "concurrency-negative",
    ],
)
def test_an_edited_plan_file_is_refused_before_anything_changes(sim: Sim, how: str) -> None:
    """A plan file can never make the run break a vendor rule or skip an ingest bracket."""
    assert orchestrator("plan", str(sim.inventory), "--out", "p.json", cwd=sim.dir).returncode == 0
    path = sim.dir / "p.json"
    plan = json.loads(path.read_text())
    tamper(plan, how)
    path.write_text(json.dumps(plan))
    result = orchestrator("apply", "--plan", "p.json", "--yes", cwd=sim.dir, timeout=60)
    assert result.returncode == 2, (how, result.stderr)
    assert "Traceback" not in result.stderr
    assert "p.json" in result.stderr or "plan file" in result.stderr
    assert mutations(sim) == []


def seeded_run(db: Path, inventory: Path) -> str:
    """An interrupted run in `db` that halted cluster exa."""
    with Journal.open(db) as journal:
        run_id = journal.start_run(
            plan_json="{}",
            inventory_source=str(inventory),
            inventory_sha256="0",
            settings_json="{}",
        )
        journal.record_ingest(run_id, "exa", "exa-m1", "halted")
    return run_id


@pytest.mark.scenario(faults={"exa-m1": {"slow_restart": 200.0}})  # down ~48 s
def test_restore_ingest_refuses_while_a_node_is_mid_upgrade_unless_forced(fleet: Sim) -> None:
    """Killed while exa-m1 restarts: restore-ingest refuses (exit 2) unless --force."""
    proc = start_orchestrator("apply", str(fleet.inventory), "--yes", cwd=fleet.dir)
    wait_for(fleet, has("restart.started", "exa-m1"))
    kill(proc)
    refused = orchestrator("restore-ingest", str(fleet.inventory), cwd=fleet.dir)
    assert refused.returncode == 2
    assert "the journal shows exa-m1 (upgrading, job " in refused.stderr
    assert "`orchestrator resume` finishes the upgrade" in refused.stderr
    assert [e["data"]["enabled"] for e in fleet.events("ingest.changed")] == [False]
    forced = orchestrator("restore-ingest", str(fleet.inventory), "--force", cwd=fleet.dir)
    assert forced.returncode == 0, forced.stderr
    assert "re-enabled ingest while exa-m1 (upgrading, job " in forced.stderr
    assert [e["data"]["enabled"] for e in fleet.events("ingest.changed")] == [False, True]


def test_restore_ingest_goes_ahead_once_the_appliance_says_the_upgrade_is_over(
    sim: Sim,
) -> None:
    """The journal still says `upgrading`, but the job ended and the node is back: restore."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    kill(proc)
    wait_for(sim, has("restart.finished", "exa-m1"))
    result = orchestrator("restore-ingest", str(sim.inventory), cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    assert "ingest restored on cluster exa" in result.stdout
    assert [e["data"]["enabled"] for e in sim.events("ingest.changed")] == [False, True]


def test_restore_ingest_with_an_unknown_cluster_is_bad_input_and_closes_nothing(
    sim: Sim, state_home: Path
) -> None:
    """`--cluster` naming no cluster: exit 2; a filter never closes the interrupted run."""
    db = state_home / "orchestrator" / "state.db"
    db.parent.mkdir(parents=True)
    seeded_run(db, sim.inventory)
    unknown = orchestrator("restore-ingest", str(sim.inventory), "--cluster", "exz", cwd=sim.dir)
    assert unknown.returncode == 2
    assert "--cluster exz: no such Explore cluster" in unknown.stderr
    only = orchestrator("restore-ingest", str(sim.inventory), "--cluster", "exa", cwd=sim.dir)
    assert only.returncode == 0, only.stderr
    assert "ingest restored on cluster exa" in only.stdout
    assert "closed the interrupted run" not in only.stdout
    status = orchestrator("status", cwd=sim.dir)
    assert "this run was interrupted" in status.stdout
