"""A run outlives its terminal, lives in one state home, and can be watched from anywhere.

Real processes against the simulator in its own process; its event log is the ground truth.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
from typing import TYPE_CHECKING

import pytest
from fleetcheck import assert_fleet_finished_cleanly, has, kill, wait_for
from simproc import Terminal, orchestrator, start_orchestrator

if TYPE_CHECKING:
    from pathlib import Path

    from simproc import Sim

pytestmark = pytest.mark.slow


def runs_of(state_home: Path) -> list[Path]:
    """The run folders in the state home."""
    folder = state_home / "orchestrator" / "runs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_closing_the_terminal_after_the_ingest_halt_does_not_stop_the_run(
    sim: Sim, state_home: Path
) -> None:
    """SIGHUP (the window closed) mid-run: the run finishes, ingest on, report in its folder."""
    term = Terminal("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("ingest.changed", enabled=False))
    term.hang_up()
    assert term.wait() == 0
    assert_fleet_finished_cleanly(sim)
    (folder,) = runs_of(state_home)
    report = json.loads((folder / "report.json").read_text())
    assert report["exit_code"] == 0
    assert report["counts"]["done"] == 5
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert "terminal.lost" in names  # the run's log says the terminal went away
    assert names[-1] == "run.finished"
    assert events[-1]["exit_code"] == 0
    assert names.count("appliance.state_changed") >= 5 * 6  # every state of every appliance


def test_watch_from_another_directory_follows_the_run_and_exits_with_its_code(
    sim: Sim, tmp_path: Path
) -> None:
    """`orchestrator watch`, run elsewhere while an apply goes on, ends with the apply's code."""
    run = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("upload.started", "eda1"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    watched = orchestrator("watch", cwd=elsewhere, timeout=120)
    run.communicate(timeout=60)
    assert run.returncode == 0
    assert watched.returncode == 0, watched.stderr
    assert "5 done — exit 0" in watched.stdout
    assert "Ctrl-C stops watching; the run goes on" in watched.stderr


def test_watch_on_a_terminal_draws_the_run_and_ctrl_c_only_stops_watching(
    long_sim: Sim, tmp_path: Path
) -> None:
    """In a terminal, `watch` draws the live view; Ctrl-C stops watching (130), not the run."""
    run = start_orchestrator("apply", str(long_sim.inventory), "--yes", cwd=long_sim.dir)
    wait_for(long_sim, has("upload.started", "eda1"))
    os.kill(run.pid, signal.SIGSTOP)  # the run holds still while it is watched: no race
    try:
        term = Terminal("watch", cwd=tmp_path, columns=100, rows=30)
        term.wait_for_text("Ctrl-C stops watching, not the run")
        term.wait_for_text("eda1")
        term.type("\x03")
        assert term.wait() == 130
    finally:
        os.kill(run.pid, signal.SIGCONT)
    assert "stopped watching run" in term.text()
    assert "it goes on" in term.text()
    run.communicate(timeout=60)
    assert run.returncode == 0
    assert_fleet_finished_cleanly(long_sim)


def test_an_interrupted_run_is_found_from_another_directory(sim: Sim, tmp_path: Path) -> None:
    """Killed with ingest halted in one folder: elsewhere status, plan and apply all know it."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    wait_for(sim, has("job.created", "exa-m1"))
    kill(proc)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    status = orchestrator("status", cwd=elsewhere)
    assert "this run was interrupted: `orchestrator resume` continues it" in status.stdout
    assert "state database: " in status.stdout
    plan = orchestrator("plan", str(sim.inventory), cwd=elsewhere)
    assert "was disabled by a run of this tool that did not finish" in plan.stdout
    assert "left off" not in plan.stdout
    changes = len(sim.events("job.created"))
    again = orchestrator("apply", str(sim.inventory), "--yes", cwd=elsewhere)
    assert again.returncode == 2
    assert "holds an interrupted run" in again.stderr
    assert len(sim.events("job.created")) == changes
    resumed = orchestrator("resume", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_fleet_finished_cleanly(sim)


def test_detach_starts_the_run_in_the_background_and_the_printed_watch_works(
    sim: Sim, state_home: Path, tmp_path: Path
) -> None:
    """`apply --detach` returns at once with a watch command that, pasted, follows the run."""
    started = orchestrator("apply", str(sim.inventory), "--yes", "--detach", cwd=sim.dir)
    assert started.returncode == 0, started.stderr
    hint = re.search(r"watch it:\s+orchestrator (watch \w+)", started.stdout)
    assert hint is not None, started.stdout
    assert not has("restart.finished", "eta1")(sim.events())  # it returned before the end
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    watched = orchestrator(*hint.group(1).split(), cwd=elsewhere, timeout=120)
    assert watched.returncode == 0, watched.stderr
    assert "5 done — exit 0" in watched.stdout
    assert_fleet_finished_cleanly(sim)
    (folder,) = runs_of(state_home)
    assert {p.name for p in folder.iterdir()} >= {
        "plan.json",
        "events.jsonl",
        "report.json",
        "report.md",
        "output.log",
    }


def test_state_home_and_run_folders_are_private_and_hold_no_webhook_secret(
    sim: Sim, state_home: Path
) -> None:
    """The state database is 0600, run folders 0700; a webhook's credentials are stored nowhere."""
    url = "http://alice:s3cr3t-pass@127.0.0.1:9/hook?token=t0ken-value"
    result = orchestrator("apply", str(sim.inventory), "--yes", "--notify-url", url, cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-2000:]
    home = state_home / "orchestrator"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state.db").stat().st_mode) == 0o600
    (folder,) = runs_of(state_home)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in [*home.iterdir(), *folder.iterdir()]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            data = path.read_bytes()
            assert b"s3cr3t-pass" not in data, path
            assert b"t0ken-value" not in data, path


def test_status_on_an_empty_file_writes_nothing(tmp_path: Path) -> None:
    """A read-only command never writes: `status` on an empty file leaves it empty."""
    empty = tmp_path / "empty.db"
    empty.touch()
    result = orchestrator("status", "--state-db", str(empty), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no run recorded yet" in result.stdout
    assert empty.stat().st_size == 0


def test_an_old_state_database_in_the_folder_is_pointed_at(sim: Sim, state_home: Path) -> None:
    """`./orchestrator-state.db` of the old default: an interrupted run there is never missed."""
    legacy = sim.dir / "orchestrator-state.db"
    proc = start_orchestrator(
        "apply", str(sim.inventory), "--yes", "--state-db", str(legacy), cwd=sim.dir
    )
    wait_for(sim, has("job.created", "eda1"))
    kill(proc)
    status = orchestrator("status", cwd=sim.dir)
    assert "orchestrator-state.db here" in status.stderr
    assert "holds an interrupted run" in status.stderr
    assert "`orchestrator resume --state-db orchestrator-state.db`" in status.stderr
    resumed = orchestrator("resume", "--state-db", "orchestrator-state.db", cwd=sim.dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    once = orchestrator("status", cwd=sim.dir)
    assert "(said once)" in once.stderr
    assert "older orchestrator" not in orchestrator("status", cwd=sim.dir).stderr
    assert legacy.exists()


def test_a_reader_that_goes_away_never_stops_the_run(sim: Sim, state_home: Path) -> None:
    """Standard output and error piped to a reader that quits (EPIPE): the run goes on."""
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir)
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # as `orchestrator apply ... | head -1` once head has its line
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0
    assert_fleet_finished_cleanly(sim)
    (folder,) = runs_of(state_home)
    last = json.loads((folder / "events.jsonl").read_text().splitlines()[-1])
    assert (last["event"], last["exit_code"]) == ("run.finished", 0)
