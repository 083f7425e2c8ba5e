"""Crash safety, proven on real processes: SIGKILL, Ctrl-C, concurrent runs, bad state files.

The simulator runs in its own process and outlives the orchestrator; its event log is the
ground truth for what each appliance went through.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import signal
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest
from fleetcheck import (
    NAMES,
    Event,
    assert_fleet_finished_cleanly,
    has,
    kill,
    slow_lab,
    wait_for,
)
from fleetrun import TARGET, lab
from simproc import Sim, orchestrator, start_orchestrator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(has("upload.started", "eda1"), id="during-upload"),
        pytest.param(has("job.created", "eda1"), id="during-job"),
        pytest.param(has("job.created", "exa-m1"), id="ingest-halted"),
        pytest.param(has("restart.finished", "exa-d1"), id="between-explore-and-trace"),
        pytest.param(has("restart.started", "eca1"), id="during-restart"),
    ],
)
def test_sigkill_then_resume_finishes_the_fleet_without_doing_anything_twice(
    sim: Sim, moment: Callable[[list[Event]], bool]
) -> None:
    """Killed at any point, `resume` finishes the fleet: same order, ingest on, nothing twice."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, moment)
    kill(proc)
    status = orchestrator("status", cwd=sim.dir)
    assert status.returncode == 3  # incomplete: `resume` continues it
    assert "`orchestrator resume` continues it" in status.stdout
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim)


def test_a_kill_as_the_appliance_accepts_an_upload_never_starts_a_job_twice(sim: Sim) -> None:
    """Killed as eda1 accepts its image: `resume` may send the image again, never the job."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("upload.completed", "eda1"))
    kill(proc)
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim, may_upload_again="eda1")


def test_restore_ingest_after_a_kill_while_halted(sim: Sim) -> None:
    """After a kill with ingest halted, restore-ingest re-enables the cluster."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("ingest.changed", enabled=False))
    kill(proc)
    result = orchestrator("restore-ingest", str(sim.inventory), cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    assert "restored on cluster exa" in result.stdout
    assert "closed the interrupted run started " in result.stdout
    assert "it will not be resumed; plan afresh for what it left undone" in result.stdout
    ingest = [e["data"]["enabled"] for e in sim.events() if e["kind"] == "ingest.changed"]
    assert ingest[-1] is True
    assert orchestrator("resume", cwd=sim.dir).returncode == 2  # closed: nothing to resume


def test_one_interrupt_finishes_running_work_restores_ingest_and_exits_3(sim: Sim) -> None:
    """The first SIGINT starts nothing new, lets the running node finish, then `resume` ends it."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3, stderr[-2000:]
    events = sim.events()
    assert has("restart.finished", "exa-m1")(events)
    assert not has("upload.started", "exa-d1")(events)
    ingest = [e["data"]["enabled"] for e in events if e["kind"] == "ingest.changed"]
    assert ingest == [False, True]
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim)


def with_long_job(tmp_path: Path, name: str) -> Sim:
    """The small lab fleet with `name`'s firmware job taking 8 s: room for a process to start.

    A run writes its reports (the HTML one too) on its way out; under load that and a
    command's start take longer than the lab's usual sub-second job.
    """
    scenario = slow_lab()
    next(a for a in scenario["appliances"] if a["name"] == name)["job_duration"] = 8000
    return Sim(tmp_path, scenario)


@pytest.fixture
def exa_m1_long(tmp_path: Path) -> Iterator[Sim]:
    fleet = with_long_job(tmp_path, "exa-m1")
    yield fleet
    fleet.stop()


def test_two_interrupts_stop_at_once_and_resume_reattaches(exa_m1_long: Sim) -> None:
    """A second SIGINT exits 3 at once, leaving a journal that `resume` completes."""
    sim = exa_m1_long
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert not has("restart.finished", "exa-m1")(sim.events())
    ingest = [e["data"]["enabled"] for e in sim.events() if e["kind"] == "ingest.changed"]
    assert ingest == [False], "ingest stays off while exa-m1 is mid-upgrade without us"
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim)


def test_a_second_concurrent_run_is_refused_naming_the_holder(long_sim: Sim) -> None:
    """While one apply runs, another on the same state database exits 2 naming its pid."""
    first = start_orchestrator("apply", str(long_sim.inventory), "--yes", cwd=long_sim.dir)
    try:
        wait_for(long_sim, has("upload.started"))
        second = orchestrator("apply", str(long_sim.inventory), "--yes", cwd=long_sim.dir)
        assert second.returncode == 2
        assert f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        status = orchestrator("status", cwd=long_sim.dir)  # the run is going: not "interrupted"
        assert f"a run holds the state database: pid {first.pid} (orchestrator apply" in (
            status.stdout
        )
        assert "continues it" not in status.stdout
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database at all" * 100, id="corrupt"),
        pytest.param(None, id="foreign-sqlite"),
    ],
)
def test_unusable_state_database_gets_one_clear_line(tmp_path: Path, content: bytes | None) -> None:
    """A corrupt or foreign state database is named in one line, exit 2."""
    path = tmp_path / "state.db"
    if content is None:
        with sqlite3.connect(path) as conn:
            conn.execute("create table photos (id integer)")
        conn.close()
    else:
        path.write_bytes(content)
    result = orchestrator("status", "--state-db", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "state.db" in result.stderr
    assert "--state-db" in result.stderr


def test_resume_refuses_when_the_inventory_changed(sim: Sim) -> None:
    """Resume will not continue a run whose inventory changed since it began."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "eda1"))
    kill(proc)
    sim.inventory.write_text(sim.inventory.read_text() + "\n# edited\n")
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 2
    assert "changed since the run began" in result.stderr


def test_new_apply_over_an_interrupted_run_is_refused_until_resumed_or_closed(sim: Sim) -> None:
    """After a kill, apply refuses (exit 2, nothing changed); restore-ingest closes the old run."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    kill(proc)
    changes = len(sim.events("job.created"))
    again = orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    assert again.returncode == 2
    assert "orchestrator resume" in again.stderr
    assert len(sim.events("job.created")) == changes
    wait_for(sim, has("restart.finished", "exa-m1"))
    closed = orchestrator("restore-ingest", str(sim.inventory), cwd=sim.dir)
    assert closed.returncode == 0, closed.stderr
    fresh = orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert_fleet_finished_cleanly(sim)


@pytest.fixture
def slow_manager_sim(tmp_path: Path) -> Iterator[Sim]:
    """The slow lab fleet whose Explore manager takes several seconds to restart."""
    scenario = slow_lab()
    for spec in scenario["appliances"]:
        if spec["name"] == "exa-m1":
            spec["faults"] = {"slow_restart": 15.0}
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


def test_kill_during_an_explore_restart_then_resume_waits_for_it(slow_manager_sim: Sim) -> None:
    """Resumed while the halting node is still down, the run follows it and ends cleanly."""
    sim = slow_manager_sim
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("restart.started", "exa-m1"))
    kill(proc)
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim)


def test_a_run_killed_on_a_host_since_renamed_is_unlocked_then_resumed(
    sim: Sim, state_home: Path
) -> None:
    """A lock naming another host is never taken over; `unlock` releases it on the user's word."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "eda1"))
    kill(proc)
    conn = sqlite3.connect(state_home / "orchestrator" / "state.db")
    with conn:  # the laptop got another name from the network after the crash
        conn.execute("UPDATE lock SET hostname = 'night-laptop.old'")
    conn.close()
    refused = orchestrator("resume", cwd=sim.dir)
    assert refused.returncode == 2
    assert "on host night-laptop.old" in refused.stderr
    assert "`orchestrator unlock` releases it" in refused.stderr
    unattended = orchestrator("unlock", cwd=sim.dir)
    assert unattended.returncode == 2
    assert "run unlock with --yes once you know that run is gone" in unattended.stderr
    assert orchestrator("resume", cwd=sim.dir).returncode == 2  # still locked
    released = orchestrator("unlock", "--yes", cwd=sim.dir)
    assert released.returncode == 0, released.stderr
    assert "locked by pid " in released.stdout
    assert "on host night-laptop.old (orchestrator apply, started " in released.stdout
    assert "`orchestrator resume` continues it" in released.stdout
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_fleet_finished_cleanly(sim)


def test_the_report_of_a_resumed_run_covers_the_whole_run(sim: Sim) -> None:
    """`resume --report` writes the run from its start: work done before the kill included."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("restart.finished", "exa-d1"))  # ingest halted and restored by now
    kill(proc)
    result = orchestrator("resume", "--report", "run.json", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((sim.dir / "run.json").read_text())
    appliances = {a["name"]: a for a in report["appliances"]}
    assert list(appliances) == NAMES
    for name, line in appliances.items():
        assert (line["outcome"], line["version_after"]) == ("done", TARGET), name
        assert line["started_at"] is not None, name
    assert [a["action"] for a in report["ingest"]] == ["halt_requested", "halted", "restored"]
    assert report["started_at"] <= appliances["eca1"]["started_at"]  # the run's own start
    span = dt.datetime.fromisoformat(appliances["eta1"]["finished_at"]) - dt.datetime.fromisoformat(
        appliances["eca1"]["started_at"]
    )
    assert report["duration_seconds"] >= span.total_seconds()


@pytest.fixture
def three_cluster_sim(tmp_path: Path) -> Iterator[Sim]:
    """The lab fleet with clusters a, b and c of a manager and a data node each (1, 2, 3)."""
    scenario = lab()
    for spec in scenario["appliances"]:
        if spec["role"] == "explore":
            spec["cluster"] = "abc"[int(spec["name"][-1]) - 1]
    scenario["clusters"] = {}
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


def first_halts(events: list[Event]) -> dict[str, float]:
    """When each cluster's ingest was first halted (by the node of its number), sim clock."""
    halted: dict[str, float] = {}
    for event in events:
        if event["kind"] == "ingest.changed" and not event["data"]["enabled"]:
            halted.setdefault(event["appliance"][-1], event["t"])
    return halted


def test_sigkill_with_clusters_started_as_they_fit_then_resume(three_cluster_sim: Sim) -> None:
    """`--cluster-starts fit` on three slots, killed once a second cluster is halted.

    `resume` finishes with the plan's choice: every cluster halted only after the one halted
    before it restarted its manager, each appliance upgraded once, every cluster's ingest on.
    """
    sim = three_cluster_sim
    flags = ("--yes", "--concurrency", "3", "--cluster-starts", "fit")
    proc = start_orchestrator("apply", str(sim.inventory), *flags, cwd=sim.dir)
    wait_for(sim, lambda events: len(first_halts(events)) >= 2)
    kill(proc)
    result = orchestrator("resume", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-3000:]
    events = sim.events()
    jobs = collections.Counter(e["appliance"] for e in events if e["kind"] == "job.created")
    assert len(jobs) == 12
    assert max(jobs.values()) == 1
    restarted = {e["appliance"]: e["t"] for e in events if e["kind"] == "restart.finished"}
    halted = first_halts(events)
    order = sorted(halted, key=halted.__getitem__)
    assert len(order) == 3
    for before, after in itertools.pairwise(order):
        assert halted[after] > restarted[f"exa-m{before}"]
    last = {
        e["appliance"][-1]: e["data"]["enabled"] for e in events if e["kind"] == "ingest.changed"
    }
    assert last == dict.fromkeys("123", True)
