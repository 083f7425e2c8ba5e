"""`status` says whether last night's run needs you; `history` lists every run; the HTML report.

The command line as a user runs it, against `orchestrator simulate` in its own process.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from fleetcheck import has, kill, wait_for
from fleetrun import lab
from htmlcheck import assert_self_contained, read_page
from receivers import Recorder, webhook
from simproc import Sim, orchestrator, start_orchestrator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

STATUS_KEYS = {
    "schema_version",
    "state_db",
    "state",
    "exit_code",
    "needs_attention",
    "reasons",
    "next",
    "lock_holder",
    "waiting_at",
    "report_html",
    "run",
}
LONG_JOB = {"ORCHESTRATOR_JOB_DEADLINE": "120"}  # the 25 s job must not time out
HISTORY_RUN_KEYS = {
    "run_id",
    "started_at",
    "finished_at",
    "duration_seconds",
    "inventory",
    "inventory_sha256",
    "rolls_back",
    "state",
    "exit_code",
    "counts",
    "ingest_left_disabled",
}


@pytest.fixture
def long_sim(tmp_path: Path) -> Iterator[Sim]:
    """A small fleet whose Explore data node's job takes 25 s: ingest stays halted meanwhile.

    Long enough for two `status` processes to start and read it on a loaded machine.
    """
    scenario = lab(small=True)
    next(a for a in scenario["appliances"] if a["name"] == "exa-d1")["job_duration"] = 25_000
    fleet = Sim(tmp_path, scenario)
    yield fleet
    fleet.stop()


def status_json(sim: Sim, *args: str) -> tuple[int, dict[str, Any]]:
    result = orchestrator("status", *args, "--format", "json", cwd=sim.dir)
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert set(document) == STATUS_KEYS
    assert document["exit_code"] == result.returncode
    return result.returncode, document


def history_json(sim: Sim, *args: str) -> dict[str, Any]:
    result = orchestrator("history", *args, "--format", "json", cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert set(document) == {"schema_version", "state_db", "total", "runs"}
    assert all(set(run) == HISTORY_RUN_KEYS for run in document["runs"])
    return document


def run_folder(state_home: Path, run_id: str) -> Path:
    return state_home / "orchestrator" / "runs" / run_id


def test_a_failed_run_needs_attention_and_its_report_draws_every_step(
    failing_sim: Sim, state_home: Path
) -> None:
    """Exit 1 after a failed run; the HTML has a row per appliance and a segment per step."""
    code, before = status_json(failing_sim)
    assert (code, before["state"], before["run"]) == (0, "none", None)
    result = orchestrator(
        "apply", str(failing_sim.inventory), "--yes", "--report", "run.json", cwd=failing_sim.dir
    )
    assert result.returncode == 1
    code, document = status_json(failing_sim)
    assert code == 1
    assert document["state"] == "failed"
    assert document["needs_attention"] is True
    assert "1 failed" in document["reasons"]
    run = document["run"]
    assert run["schema_version"] == 2
    eca1 = next(a for a in run["appliances"] if a["name"] == "eca1")
    assert [s["step"] for s in eca1["steps"]] == ["upload", "job", "reboot", "verify"]
    assert all(s["duration_seconds"] is not None for s in eca1["steps"])
    eda1 = next(a for a in run["appliances"] if a["name"] == "eda1")
    assert eda1["steps"][-1]["result"] == "failed"
    report = json.loads((failing_sim.dir / "run.json").read_text())
    for html in (
        failing_sim.dir / "run.html",
        run_folder(state_home, report["run_id"]) / "report.html",
    ):
        text = html.read_text()
        assert_self_contained(text)
        page = read_page(text)
        assert page.rows == [a["name"] for a in report["appliances"]]  # no cluster was halted
        for appliance in report["appliances"]:
            kinds = [s.split()[0] for s in page.segments[appliance["name"]]]
            assert kinds == [s["step"] for s in appliance["steps"]]
        for key in failing_sim.keys:
            assert key not in text
    shown = orchestrator("status", cwd=failing_sim.dir)
    assert shown.returncode == 1
    assert "needs attention: 1 failed; 3 blocked (exit 1)" in shown.stdout
    assert "report    " in shown.stdout


def test_history_lists_runs_newest_first_and_a_limit_says_what_it_leaves_out(
    failing_sim: Sim,
) -> None:
    """Two failed runs: one line each, newest first; --limit 1 shows the newest and says so."""
    for _ in range(2):  # eda1's job fails every time: the second run tries it again
        result = orchestrator("apply", str(failing_sim.inventory), "--yes", cwd=failing_sim.dir)
        assert result.returncode == 1
    history = history_json(failing_sim)
    assert history["total"] == 2
    newer, older = history["runs"]
    assert older["started_at"] < newer["started_at"]
    assert (older["state"], older["exit_code"]) == ("failed", 1)
    assert (older["counts"]["done"], older["counts"]["failed"]) == (1, 1)
    assert (newer["counts"]["skipped"], newer["counts"]["failed"]) == (1, 1)  # eca1 is current
    assert newer["inventory"] == str(failing_sim.inventory)
    table = orchestrator("history", cwd=failing_sim.dir)
    assert table.returncode == 0
    lines = [
        line
        for line in table.stdout.splitlines()
        if line[:8] in {newer["run_id"][:8], older["run_id"][:8]}
    ]
    assert [line[:8] for line in lines] == [newer["run_id"][:8], older["run_id"][:8]]
    assert all(" failed " in line and "fleet.yaml" in line for line in lines)
    newest = orchestrator("history", "--limit", "1", cwd=failing_sim.dir)
    assert newest.returncode == 0
    assert newer["run_id"][:8] in newest.stdout
    assert older["run_id"][:8] not in newest.stdout
    assert "1 of 2 runs shown; --limit 2 shows them all" in newest.stdout


def test_status_says_going_interrupted_and_done_by_its_exit_code_and_history_lists_runs(
    long_sim: Sim,
) -> None:
    """5 while the run goes on, 3 once killed, 0 once resumed; history lists each run."""
    sim = long_sim
    proc = start_orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir, env=LONG_JOB)
    try:
        wait_for(sim, has("job.created", "exa-d1"))  # ingest is halted for its 25 s job
        code, going = status_json(sim)
        assert code == 5
        assert going["state"] == "running"
        assert going["run"]["exit_code"] is None
        assert going["run"]["status"] == "running"
        assert going["next"].startswith("orchestrator watch ")
        text = orchestrator("status", cwd=sim.dir)
        assert text.returncode == 5
        assert "— going on now" in text.stdout
        assert "exit 3" not in text.stdout
    finally:
        kill(proc)
    code, interrupted = status_json(sim)
    assert code == 3
    assert interrupted["state"] == "incomplete"
    assert interrupted["next"] == "orchestrator resume"
    assert "ingest on exa is still disabled" in interrupted["reasons"]
    (listed,) = history_json(sim)["runs"]
    assert listed["state"] == "incomplete"
    assert listed["ingest_left_disabled"] == ["exa"]
    assert orchestrator("resume", cwd=sim.dir, env=LONG_JOB).returncode == 0
    assert status_json(sim)[0] == 0
    (done,) = history_json(sim)["runs"]
    assert done["state"] == "succeeded"
    assert done["counts"]["done"] == 5
    assert done["ingest_left_disabled"] == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["status", "ffff0000"], "no run ffff0000", id="unknown-run"),
        pytest.param(["history", "--limit", "0"], "--limit", id="zero-limit"),
        pytest.param(["status", "--format", "xml"], "--format", id="bad-format"),
    ],
)
def test_bad_input_to_status_and_history_is_one_line_and_exit_2(
    sim: Sim, args: list[str], needle: str
) -> None:
    """An unknown run, a limit of 0, a format that does not exist: one line, exit 2."""
    assert orchestrator("apply", str(sim.inventory), "--yes", cwd=sim.dir).returncode == 0
    result = orchestrator(*args, cwd=sim.dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [
        json.loads(line)["message"]  # without a terminal, standard error is JSON events
        for line in result.stderr.splitlines()
        if line.startswith("{") and json.loads(line).get("level") == "error"
    ]
    assert len(errors) == 1, result.stderr
    assert needle in errors[0]


class _Receiver(Recorder):
    bodies: ClassVar[list[bytes]] = []


def test_a_reviewed_plan_is_traced_from_its_picture_to_the_run_s_report(
    sim: Sim, state_home: Path
) -> None:
    """`plan --out` writes plan.html with the file's sha256; the run's report names the same."""
    planned = orchestrator("plan", str(sim.inventory), "--out", "plan.json", cwd=sim.dir)
    assert planned.returncode == 0, planned.stderr
    digest = hashlib.sha256((sim.dir / "plan.json").read_bytes()).hexdigest()
    picture = (sim.dir / "plan.html").read_text()
    assert_self_contained(picture)
    assert digest in picture
    assert read_page(picture).rows == ["eca1", "eda1", "exa-m1", "exa-d1", "eta1", "ingest exa"]
    _Receiver.bodies = []
    with webhook(_Receiver) as url:
        applied = orchestrator(
            "apply", "--plan", "plan.json", "--yes", "--notify-url", url, "--notify-start",
            cwd=sim.dir,
        )  # fmt: skip
    assert applied.returncode == 0, applied.stderr[-2000:]
    started, finished = (json.loads(body) for body in _Receiver.bodies)
    assert started["event"] == "run.started"
    assert "5 of 5 appliances to upgrade, estimate " in started["summary"]
    assert finished["event"] == "run.finished"
    assert finished["summary"].startswith(f"run {finished['run_id'][:8]} succeeded in ")
    origin = finished["origin"]
    folder = run_folder(state_home, finished["run_id"])
    assert origin["plan_file"] == str(sim.dir / "plan.json")
    assert origin["plan_file_sha256"] == digest
    assert origin["plan_sha256"] == hashlib.sha256((folder / "plan.json").read_bytes()).hexdigest()
    assert (origin["host"], origin["user"]) == (socket.gethostname(), getpass.getuser())
    assert origin["inventory"] == str(sim.inventory)
    assert started["origin"] == origin
    _, document = status_json(sim)
    assert document["run"]["origin"] == origin  # read back from the journal and the run's log
