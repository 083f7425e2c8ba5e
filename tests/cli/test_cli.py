"""The command line, run as a user would: subprocesses against `orchestrator simulate`."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import threading
import time
from typing import TYPE_CHECKING, ClassVar

import pytest
from fleetrun import OLD, TARGET, lab
from receivers import Quiet, Recorder, webhook
from simproc import Sim, in_terminal, orchestrator, start_orchestrator

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """A small simulated fleet (ECA, EDA, one Explore manager and data node, ETA)."""
    fleet = Sim(tmp_path, lab(small=True))
    yield fleet
    fleet.stop()


pytestmark = pytest.mark.slow  # every test here runs the command line as a process


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line (its message, in JSON mode); fails on a traceback or more than one."""
    assert "Traceback" not in result.stderr
    lines = []
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("level") == "error":
                lines.append(str(event["message"]))
        elif line.startswith("error:"):
            lines.append(line)
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_simulate_writes_an_inventory_that_validates(sim: Sim) -> None:
    """`simulate --write-inventory` serves a fleet whose inventory `validate` accepts."""
    result = orchestrator("validate", str(sim.inventory), cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    assert "OK, 5 appliances" in result.stdout


def test_validate_names_the_file_and_row_of_a_bad_inventory(tmp_path: Path) -> None:
    """A bad inventory gets one line naming file and path, exit 2, no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "appliances:\n  - {name: eda1, url: https://eda1.example.net, role: sensr, "
        "api_key: k, firmware: {cloud_version: 9.9.1.100}}\n"
    )
    result = orchestrator("validate", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "bad.yaml" in line
    assert "appliances[0]" in line


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        pytest.param(["--max-failures", "many"], "max-failures", id="max-failures"),
        pytest.param(["--window-end", "half past five"], "--window-end", id="window-end"),
        pytest.param(["--concurrency", "0"], "concurrency", id="concurrency"),
        pytest.param(["--notify-url", "ftp://x"], "http", id="notify-url"),
        pytest.param(["--notify-start"], "needs --notify-url", id="notify-start-alone"),
        pytest.param(["--frobnicate"], "unrecognized", id="unknown-flag"),
        pytest.param(["--clusters-at-once", "0"], "clusters", id="clusters-at-once"),
        pytest.param(
            ["--clusters-at-once", "2", "--schedule", "waves"],
            "leave --clusters-at-once out",
            id="clusters-at-once-with-waves",
        ),
        pytest.param(["--cluster-starts", "soon"], "invalid choice", id="cluster-starts"),
        pytest.param(
            ["--cluster-starts", "fit", "--pause-after", "stage"],
            "leave --cluster-starts out",
            id="cluster-starts-with-gates",
        ),
    ],
)
def test_bad_flags_exit_2_with_one_line(sim: Sim, flags: list[str], needle: str) -> None:
    """Bad flags are refused before anything is touched: one line, exit 2."""
    result = orchestrator("apply", str(sim.inventory), "--yes", *flags, cwd=sim.dir)
    assert result.returncode == 2
    assert needle.lower() in one_line_error(result).lower()
    assert sim.events("upload.started") == []


def test_plan_reads_the_fleet_and_prints_every_appliance(sim: Sim) -> None:
    """`plan --format json` lists every appliance with its observed and target version."""
    result = orchestrator("plan", str(sim.inventory), "--format", "json", cwd=sim.dir)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    lines = [a for wave in plan["waves"] for a in wave["appliances"]]
    assert {a["name"] for a in lines} == {"eca1", "eda1", "exa-m1", "exa-d1", "eta1"}
    assert {(a["current_version"], a["target_version"]) for a in lines} == {(OLD, TARGET)}
    assert sim.events("upload.started") == []


def test_the_plan_records_clusters_at_once_and_says_it(sim: Sim) -> None:
    """The limit is in the saved plan (for `apply --plan`) and in the Schedule section."""
    out = sim.dir / "plan.json"
    result = orchestrator(
        "plan", str(sim.inventory), "--clusters-at-once", "1", "--out", str(out), cwd=sim.dir
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["clusters_at_once"] == 1
    assert "at most 1 Explore cluster in progress at once (ingest off)" in " ".join(
        result.stdout.split()
    )
    assert sim.events("upload.started") == []


def test_the_plan_records_when_clusters_start_and_a_saved_plan_keeps_it(sim: Sim) -> None:
    """`--cluster-starts fit` is in the plan file and its Schedule section.

    `apply --plan` runs it so (it would refuse a plan that the fleet now gives otherwise:
    for one cluster the plan's own choice is `ready`) and upgrades every appliance.
    """
    out = sim.dir / "plan.json"
    result = orchestrator(
        "plan", str(sim.inventory), "--cluster-starts", "fit", "--out", str(out), cwd=sim.dir
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["cluster_starts"] == "fit"
    assert "fit the 4 slots" in " ".join(result.stdout.split())
    applied = orchestrator("apply", "--plan", str(out), "--yes", cwd=sim.dir)
    assert applied.returncode == 0, applied.stderr
    assert len(sim.events("restart.finished")) == 5


def test_apply_without_yes_and_without_a_terminal_refuses(sim: Sim) -> None:
    """With no terminal to confirm on and no --yes, apply changes nothing and exits 2."""
    result = orchestrator("apply", str(sim.inventory), cwd=sim.dir)
    assert result.returncode == 2
    assert "--yes" in one_line_error(result)
    assert sim.events("upload.started") == []
    assert sim.events("ingest.changed") == []


def test_apply_upgrades_reports_and_never_shows_a_key(sim: Sim) -> None:
    """Apply --yes upgrades the fleet, writes JSON and Markdown reports, and leaks no key."""
    report = sim.dir / "run.json"
    result = orchestrator(
        "apply", str(sim.inventory), "--yes", "--report", str(report), cwd=sim.dir
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["status"] == "succeeded"
    assert {a["outcome"] for a in data["appliances"]} == {"done"}
    assert (sim.dir / "run.md").exists()
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(e["event"] == "ingest.halted" for e in logs)
    assert any(e["event"] == "ingest.restored" for e in logs)
    status = orchestrator("status", cwd=sim.dir)
    assert status.returncode == 0
    assert "exa-d1" in status.stdout
    everything = [result.stdout, result.stderr, status.stdout, report.read_text()]
    everything += [(sim.dir / "run.md").read_text()]
    everything += [p.read_bytes().decode("latin-1") for p in sim.dir.glob("*.db*")]
    for key in sim.keys:
        assert all(key not in text for text in everything)


def test_a_failed_discover_exits_1_and_blocks_the_rest(failing_sim: Sim) -> None:
    """A Discover job that fails makes the run exit 1 with later waves blocked."""
    report = failing_sim.dir / "run.json"
    result = orchestrator(
        "apply", str(failing_sim.inventory), "--yes", "--report", str(report), cwd=failing_sim.dir
    )
    assert result.returncode == 1
    outcomes = {a["name"]: a["outcome"] for a in json.loads(report.read_text())["appliances"]}
    assert outcomes["eca1"] == "done"
    assert outcomes["eda1"] == "failed"
    assert outcomes["eta1"] == "blocked"


def test_saved_plan_refuses_when_an_image_changed(sim: Sim) -> None:
    """Apply --plan re-hashes the images and refuses, naming the image that changed."""
    plan = sim.dir / "plan.json"
    assert orchestrator("plan", str(sim.inventory), "--out", str(plan), cwd=sim.dir).returncode == 0
    image = next((sim.dir / "fleet-images").glob("discover-*.tar"))
    with image.open("ab") as handle:
        handle.write(b"tampered")
    result = orchestrator("apply", "--plan", str(plan), "--yes", cwd=sim.dir)
    assert result.returncode == 2
    assert one_line_error(result).startswith("error: the plan no longer matches: image ")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    (event,) = [event for event in events if event.get("level") == "error"]
    assert len(event["problems"]) == 1
    assert image.name in event["problems"][0]
    assert sim.events("upload.started") == []


def test_saved_plan_applies_when_nothing_drifted(sim: Sim) -> None:
    """A saved plan that still matches the fleet is applied as reviewed."""
    plan = sim.dir / "plan.json"
    assert orchestrator("plan", str(sim.inventory), "--out", str(plan), cwd=sim.dir).returncode == 0
    result = orchestrator("apply", "--plan", str(plan), "--yes", cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(sim.events("restart.finished")) == 5


class _Receiver(Recorder):
    bodies: ClassVar[list[bytes]] = []


def test_notify_url_receives_the_summary(failing_sim: Sim) -> None:
    """--notify-url POSTs the JSON summary of the run to a receiver."""
    with webhook(_Receiver) as url:
        result = orchestrator(
            "apply", str(failing_sim.inventory), "--yes", "--notify-url", url, cwd=failing_sim.dir
        )
    assert result.returncode == 1
    payload = json.loads(_Receiver.bodies[-1])
    assert payload["status"] == "failed"
    assert payload["exit_code"] == 1


def test_demo_upgrades_a_simulated_fleet_end_to_end(tmp_path: Path) -> None:
    """`orchestrator demo` (the README's first command) upgrades every appliance and exits 0."""
    result = orchestrator("demo", cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "12 done" in result.stdout
    assert "ingest on exa: halted via exa-m1, restored" in result.stdout


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param('{"schema_version": 99}', id="wrong-schema"),
        pytest.param("[]", id="not-an-object"),
    ],
)
def test_a_bad_plan_file_gets_one_line_and_exit_2(tmp_path: Path, content: str) -> None:
    """`apply --plan` with an unusable plan file names the file, changes nothing, exit 2."""
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    result = orchestrator("apply", "--plan", str(plan), "--yes", cwd=tmp_path)
    assert result.returncode == 2
    assert "plan.json" in one_line_error(result)


def test_status_without_a_state_database_says_so(tmp_path: Path, state_home: Path) -> None:
    """`status` before any run names the state home and says nothing is recorded, exit 0."""
    result = orchestrator("status", cwd=tmp_path)
    assert result.returncode == 0
    db = state_home / "orchestrator" / "state.db"
    assert f"{db}: no run recorded yet (no state database here)" in result.stdout


def test_ctrl_c_while_planning_says_nothing_was_changed(tmp_path: Path) -> None:
    """An interrupt before any run started exits 3 and says nothing needs resuming."""
    # Facts wait a minute on a 429: the interrupt comes while planning, however loaded the machine.
    slow = {"eda1": {"rate_limit": {"count": 3, "retry_after": 60}}}
    fleet = Sim(tmp_path, lab(slow, small=True))
    try:
        budget = {"ORCHESTRATOR_RETRY_TIMEOUT": "120"}
        proc = start_orchestrator("plan", str(fleet.inventory), cwd=tmp_path, env=budget)
        deadline = time.monotonic() + 60
        while not fleet.events("fault.injected") and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        fleet.stop()
    assert proc.returncode == 3
    assert "interrupted before anything was changed" in err
    assert "Traceback" not in out + err


class _SlowReceiver(Quiet):
    arrived = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server calls it so
        _SlowReceiver.arrived.set()
        time.sleep(20)  # longer than the test waits: the interrupt comes first


def test_ctrl_c_during_the_webhook_keeps_the_run_s_exit_code(failing_sim: Sim) -> None:
    """An interrupt after the run ended does not claim nothing changed: the run's code stands."""
    with webhook(_SlowReceiver) as url:
        proc = start_orchestrator(
            "apply", str(failing_sim.inventory), "--yes", "--notify-url", url, cwd=failing_sim.dir
        )
        assert _SlowReceiver.arrived.wait(timeout=120)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1  # eda1 failed: the run's own exit code
    assert "interrupted after the run ended" in err
    assert "nothing was changed" not in err
    assert "Traceback" not in out + err


def test_apply_on_a_terminal_shows_the_plan_and_changes_nothing_on_a_no(sim: Sim) -> None:
    """Without --yes, apply shows the plan, asks, and a "no" leaves every appliance as it was."""
    code, shown = in_terminal("apply", str(sim.inventory), answer="n", cwd=sim.dir)
    assert code == 4, shown  # declined: its own exit code, not bad input
    assert "Upgrade 5 appliances as planned? [y/N]" in shown
    assert "eda1" in shown.split("[y/N]")[0]  # the plan came before the question
    assert "nothing was changed" in shown
    assert not sim.events("upload.started")
    assert not sim.events("job.created")
    assert not sim.events("ingest.changed")


def test_apply_on_a_terminal_upgrades_on_a_yes_with_the_live_view(sim: Sim) -> None:
    """A "yes" at the prompt runs the upgrade, shown live, and ends with the report table."""
    code, shown = in_terminal("apply", str(sim.inventory), answer="y", cwd=sim.dir, columns=80)
    assert code == 0, shown
    after = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.split("[y/N]")[1])  # no colours
    assert "finished, running" in after  # the live view's progress line
    title = re.search(r"run [0-9a-f]{32} — succeeded", after)
    assert title is not None
    end = after[title.start() :]  # the report table, laid out for 80 columns
    assert "appliance  wave" in end
    assert end.count(f"{OLD} →") == 5
    assert end.count(TARGET) == 5
    assert "5 done — exit 0" in end
    assert len(sim.events("restart.finished")) == 5


@pytest.fixture
def slow_command_sim(tmp_path: Path) -> Iterator[Sim]:
    """The small lab fleet whose Command appliance takes ~5 s to restart."""
    fleet = Sim(tmp_path, lab({"eca1": {"slow_restart": 20.0}}, small=True))
    yield fleet
    fleet.stop()


def test_resume_after_the_window_asks_for_this_window_s_end(slow_command_sim: Sim) -> None:
    """A run cut off by its window is resumed in the next one, given with --window-end."""
    sim = slow_command_sim
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)
    # Command (~5 s here) fits the window; what waits for it, estimated 2 s each, cannot.
    slow_estimates = {"ORCHESTRATOR_UPGRADE_DURATION": "2"}
    first = orchestrator(
        "apply",
        str(sim.inventory),
        "--yes",
        "--window-end",
        end.isoformat(),
        cwd=sim.dir,
        env=slow_estimates,
    )
    assert first.returncode == 3, first.stderr[-2000:]
    time.sleep(max(0.0, (end - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
    stale = orchestrator("resume", cwd=sim.dir)
    assert stale.returncode == 2
    assert "the window the run was started with ended at" in one_line_error(stale)
    assert "give this window's end with --window-end HH:MM" in stale.stderr
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    result = orchestrator("resume", "--window-end", later, cwd=sim.dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(sim.events("restart.finished")) == 5


def test_a_report_path_that_is_a_folder_is_refused_before_anything_changes(sim: Sim) -> None:
    """--report naming a folder would fail only after the upgrade: refused first, exit 2."""
    result = orchestrator(
        "apply", str(sim.inventory), "--yes", "--report", str(sim.dir), cwd=sim.dir
    )
    assert result.returncode == 2
    assert f"--report {sim.dir} is a folder; give a file, e.g. {sim.dir / 'run.json'}" in (
        one_line_error(result)
    )
    assert not sim.events("upload.started")


def test_version_names_the_installed_release(tmp_path: Path) -> None:
    """`--version` prints the package's version and exits 0."""
    from importlib.metadata import version  # noqa: PLC0415

    result = orchestrator("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"orchestrator {version('extrahop-orchestrator')}"


def test_validate_counts_one_appliance_in_the_singular(tmp_path: Path) -> None:
    """One appliance is `1 appliance`."""
    inventory = tmp_path / "one.yaml"
    inventory.write_text(
        "defaults: {api_key_env: EXAMPLE_KEY}\n"
        "firmware: {discover: {cloud_version: 9.9.1.100, version: 9.9.1.100}}\n"
        "appliances:\n  - {name: eda1, url: https://eda1.example.net, role: discover}\n"
    )
    result = orchestrator("validate", str(inventory), cwd=tmp_path, env={"EXAMPLE_KEY": "k" * 32})
    assert result.returncode == 0, result.stderr
    assert "OK, 1 appliance (1 discover)" in result.stdout


def test_a_past_window_from_the_environment_stops_a_run_but_not_a_recovery(
    tmp_path: Path,
) -> None:
    """A window exported for last night refuses `plan` and `apply`, never `validate` or `status`."""
    inventory = tmp_path / "one.yaml"
    inventory.write_text(
        "defaults: {api_key_env: EXAMPLE_KEY}\n"
        "firmware: {discover: {cloud_version: 9.9.1.100, version: 9.9.1.100}}\n"
        "appliances:\n  - {name: eda1, url: https://eda1.example.net, role: discover}\n"
    )
    env = {"EXAMPLE_KEY": "k" * 32, "ORCHESTRATOR_WINDOW_END": "2020-01-01T05:00"}
    plan = orchestrator("plan", str(inventory), "--offline", cwd=tmp_path, env=env)
    assert plan.returncode == 2
    assert "the window set by ORCHESTRATOR_WINDOW_END or --config ended at 2020-01-01" in (
        one_line_error(plan)
    )
    assert orchestrator("validate", str(inventory), cwd=tmp_path, env=env).returncode == 0
    assert orchestrator("status", cwd=tmp_path, env=env).returncode == 0


@pytest.mark.parametrize(
    ("flags", "env", "config"),
    [
        pytest.param(["--window-end", ""], {}, None, id="flag"),
        pytest.param([], {"ORCHESTRATOR_WINDOW_END": ""}, None, id="variable"),
        pytest.param([], {}, "window_end: ''\n", id="file"),
    ],
)
def test_an_empty_window_end_is_refused_not_ignored(
    tmp_path: Path, flags: list[str], env: dict[str, str], config: str | None
) -> None:
    """An empty window end (flag, variable or file) is exit 2, not a run with no window."""
    args = ["plan", "fleet.yaml", "--offline", *flags]
    if config is not None:
        (tmp_path / "settings.yaml").write_text(config)
        args += ["--config", "settings.yaml"]
    result = orchestrator(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "window" in line.lower()
    assert "is empty" in line


def test_a_key_pasted_as_a_variable_name_is_never_printed(tmp_path: Path) -> None:
    """A hex key in api_key_env is refused by every command without being shown, logs included."""
    key = "deadbeef0123456789abcdef01234567"
    (tmp_path / "fleet.yaml").write_text(
        f"defaults: {{api_key_env: {key}}}\n"
        "firmware: {trace: {cloud_version: 9.9.1.100}}\n"
        "appliances:\n  - {name: eta1, url: https://eta1.example.net, role: trace}\n"
    )
    for command in (["validate"], ["plan", "--offline", "--log-format", "json"]):
        result = orchestrator(command[0], "fleet.yaml", *command[1:], cwd=tmp_path)
        assert result.returncode == 2
        assert "looks like an API key" in one_line_error(result)
        assert key not in result.stdout + result.stderr


def test_warnings_show_ipv6_urls_whole(tmp_path: Path) -> None:
    """A warning quoting an IPv6 URL prints its [address] instead of losing it as markup."""
    (tmp_path / "k.key").write_text("the-key\n")
    (tmp_path / "fleet.yaml").write_text(
        "defaults: {api_key_file: k.key}\n"
        "firmware: {trace: {cloud_version: 9.9.1.100}}\n"
        "appliances:\n  - {name: eta1, url: 'http://[fe80::1]:8080', role: trace}\n"
    )
    result = orchestrator("validate", "fleet.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "API key sent in clear to eta1 (http://[fe80::1]:8080)" in result.stderr
