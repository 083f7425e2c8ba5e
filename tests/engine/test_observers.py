"""What a person sees during a run: the live view on a terminal, structured events otherwise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import structlog
from rich.console import Console

from orchestrator.cli.live import LiveView
from orchestrator.core.models import FileFirmware, GateRecord, JobState, Outcome, Role
from orchestrator.engine.logs import LogObserver
from orchestrator.engine.ports import (
    GateAnswered,
    GateOpened,
    GateRequest,
    IngestChanged,
    JobProgressed,
    RunEvent,
    StateChanged,
    StepNoted,
    StepReporter,
    UploadProgressed,
    WaveStarted,
)
from orchestrator.plan import Action, Estimate, Plan, PlannedAppliance, Wave, WaveKind


def line(name: str, wave: WaveKind, role: Role) -> PlannedAppliance:
    return PlannedAppliance(
        name=name,
        url=f"https://{name}.example.net",
        role=role,
        wave=wave,
        current_version="9.8.0.100",
        target_version="9.9.1.100",
        action=Action.UPLOAD,
        firmware=FileFirmware(file=Path("eda.tar"), version="9.9.1.100"),
        estimate=Estimate(upgrade=600),
    )


def small_plan() -> Plan:
    eca = line("eca1", WaveKind.COMMAND, Role.COMMAND)
    eda = line("eda1", WaveKind.DISCOVER, Role.DISCOVER)
    waves = [Wave(kind=k, appliances=()) for k in WaveKind]
    waves[0] = Wave(kind=WaveKind.COMMAND, appliances=(eca,))
    waves[1] = Wave(kind=WaveKind.DISCOVER, appliances=(eda,))
    return Plan(
        created_at=dt.datetime.now(dt.UTC),
        inventory_source="fleet.yaml",
        inventory_sha256="0" * 64,
        concurrency=2,
        waves=tuple(waves),
    )


def render(view: LiveView) -> str:
    console = Console(record=True, width=100)
    console.print(view)
    return console.export_text()


def test_live_view_shows_active_appliances_with_their_job_step_and_overall_progress() -> None:
    """Rows show the running appliance's state and job step; the summary counts what finished."""
    view = LiveView(small_plan())
    view.notify(WaveStarted(WaveKind.COMMAND, 1))
    view.notify(StateChanged("eca1", Outcome.UPGRADING))
    view.notify(
        JobProgressed(
            "eca1",
            JobState(
                id="j1",
                status="RUNNING",
                step_number=2,
                total_steps=4,
                step_description="Installing",
            ),
        )
    )
    text = render(view)
    assert "eca1" in text
    assert "upgrading" in text
    assert "2/4 Installing" in text
    assert "0/2 finished" in text
    view.notify(StateChanged("eca1", Outcome.DONE))
    view.notify(IngestChanged("exa", "halted", "exa-m1"))
    text = render(view)
    assert "1/2 finished" in text
    assert "ingest exa: halted via exa-m1" in text


def test_log_observer_emits_noun_verb_past_events_with_the_appliance_bound() -> None:
    """Unattended runs get one structured event per change, named noun.verb_past."""
    observer = LogObserver()
    with structlog.testing.capture_logs() as logs:
        observer.notify(WaveStarted(WaveKind.DISCOVER, 3))
        observer.notify(StateChanged("eda1", Outcome.FAILED, "job j1 ended FAILED"))
        observer.notify(IngestChanged("exa", "restored", "exa-m1"))
        steps = StepReporter(observer, "eda1")
        for sent in (0, 10, 25, 30, 50, 75, 100):  # quarters between start and end: 25, 50, 75
            steps.upload_progress(sent, 100)
        steps.job_progress(JobState(id="j1", status="RUNNING", step_number=1, total_steps=4))
    # The run's own log also gets every 5% of an upload, as debug events the terminal omits.
    fine = [
        e["sent"] for e in logs if e["log_level"] == "debug" and e["event"] == "upload.progressed"
    ]
    assert fine == [10, 30]
    logs = [entry for entry in logs if entry["log_level"] != "debug"]
    names = [entry["event"] for entry in logs]
    assert names == [
        "wave.started",
        "appliance.state_changed",
        "ingest.restored",
        "upload.progressed",
        "upload.progressed",
        "upload.progressed",
        "job.progressed",
    ]
    assert logs[1]["appliance"] == "eda1"
    assert logs[1]["log_level"] == "warning"
    assert all(e.get("appliance") == "eda1" for e in logs[3:])


def test_a_failed_restore_is_logged_as_an_error_with_its_reason() -> None:
    """`ingest.restore_failed` says why, so an unattended run's log is enough to act on."""
    observer = LogObserver()
    reason = "exa-m1: PATCH /api/v1/extrahop/cluster failed: cannot connect (refused)"
    with structlog.testing.capture_logs() as logs:
        observer.notify(IngestChanged("exa", "restore_failed", "exa-m1", reason))
    assert logs == [
        {
            "event": "ingest.restore_failed",
            "log_level": "error",
            "cluster": "exa",
            "via": "exa-m1",
            "error": reason,
        }
    ]


def test_live_view_shows_why_a_restore_failed() -> None:
    """The live view's ingest line carries the reason too."""
    view = LiveView(small_plan())
    view.notify(IngestChanged("exa", "restore_failed", "exa-m1", "exa-m1: refused"))
    assert "ingest exa: restore failed via exa-m1: exa-m1: refused" in render(view)


def test_live_view_fits_80_columns_keeping_names_and_states_whole() -> None:
    """On a narrow terminal the job detail gives way; the appliance, state and time stay."""
    view = LiveView(small_plan())
    view.notify(WaveStarted(WaveKind.COMMAND, 1))
    view.notify(StateChanged("eca1", Outcome.PRECHECKED))
    view.notify(UploadProgressed("eca1", 5, 10))
    view.notify(StepNoted("eca1", "a long note about what the appliance is doing right now"))
    console = Console(record=True, width=80, soft_wrap=True)
    console.print(view)
    lines = console.export_text().splitlines()
    row = next(text for text in lines if text.startswith("eca1"))
    assert len(row) <= 80
    assert "prechecked" in row
    assert row.rstrip().endswith("0m 00s")
    assert "a long note" in row


def test_live_view_folds_a_long_name_keeping_states_and_times_whole() -> None:
    """A name longer than the room folds onto more lines; state and elapsed stay whole."""
    plan = small_plan()
    long_name = "eca1-frankfurt-primary.dc1.corp.example.net"
    eca = plan.waves[0].appliances[0].model_copy(update={"name": long_name})
    waves = (plan.waves[0].model_copy(update={"appliances": (eca,)}), *plan.waves[1:])
    view = LiveView(plan.model_copy(update={"waves": waves}))
    view.notify(StateChanged(long_name, Outcome.UPLOADING, "sending the image"))
    console = Console(record=True, width=80, soft_wrap=True)
    console.print(view)
    lines = console.export_text().splitlines()
    assert max(len(text) for text in lines) <= 80
    row = next(text for text in lines if text.startswith("eca1"))
    assert "uploading" in row
    assert row.rstrip().endswith("0m 00s")


def test_a_node_backed_up_ahead_of_its_cluster_waits_without_counting_as_running() -> None:
    """Backed up before its cluster's halt: not at work, counted as waiting, until it starts."""
    plan = small_plan().model_copy(update={"schedule": "graph"})
    view = LiveView(plan)
    view.notify(StateChanged("eda1", Outcome.PRECHECKED))
    view.notify(StateChanged("eda1", Outcome.BACKING_UP))
    view.notify(StateChanged("eda1", Outcome.PRECHECKED))
    shown = render(view)
    assert not any(row.startswith("eda1") for row in shown.splitlines())
    assert "running nothing" in shown
    assert "1 backed up, waiting" in shown
    backed_up = view.rows["eda1"].started
    assert backed_up is not None
    view.notify(StateChanged("eda1", Outcome.UPLOADING, at=backed_up + 60))
    shown = render(view)
    assert any(row.startswith("eda1") for row in shown.splitlines())
    assert "running discover 1" in shown
    assert view.rows["eda1"].started == backed_up + 60  # its clock: the upgrade, not the wait


def test_a_long_running_caption_gets_its_own_line_on_80_columns() -> None:
    """Every stage at work at once in a graph plan: the caption is whole, under the bar."""
    roles = [Role.COMMAND, Role.DISCOVER, Role.EXPLORE, Role.EXPLORE, Role.TRACE]
    waves = tuple(
        Wave(kind=kind, appliances=tuple(line(f"{kind.value}-{i}", kind, role) for i in range(3)))
        for kind, role in zip(WaveKind, roles, strict=True)
    )
    plan = small_plan().model_copy(update={"schedule": "graph", "waves": waves})
    view = LiveView(plan)
    for wave in waves:
        for planned in wave.appliances:
            view.notify(StateChanged(planned.name, Outcome.UPGRADING))
    console = Console(record=True, width=80, soft_wrap=True)
    console.print(view)
    shown = console.export_text().splitlines()
    assert all(len(row) <= 80 for row in shown)
    caption = "0/15 finished, running " + ", ".join(f"{w.kind.value} 3" for w in waves)
    at = next(i for i, row in enumerate(shown) if row.startswith("0/15 finished"))
    assert " ".join(row.strip() for row in shown[at : at + 2]) == caption


GATE = GateRequest(
    run_id="3e919097" + "0" * 24,
    gate="discover batch 2",
    finished=(("eda1", Outcome.DONE),),
)


def test_live_view_says_where_the_run_waits_and_how_to_answer_in_80_columns() -> None:
    """At a gate the footer names it, what just finished, and the command that releases it."""
    view = LiveView(small_plan())
    view.can_ask = True
    view.notify(GateOpened(GATE))
    console = Console(record=True, width=80, soft_wrap=True)
    console.print(view)
    shown = console.export_text()
    assert "waiting at the gate before discover batch 2; just finished: eda1 done" in shown
    assert "continue: type c and Enter, or run `orchestrator continue 3e919097` anywhere" in shown
    assert "stop: type s and Enter, or run `orchestrator stop 3e919097`" in shown
    assert all(len(row) <= 80 for row in shown.splitlines())
    now = dt.datetime.now(dt.UTC)
    record = GateRecord(gate=GATE.gate, opened_at=now, answer="continue", answered_at=now)
    view.notify(GateAnswered(record))
    assert "waiting at the gate" not in render(view)


def test_a_watching_terminal_sees_the_gate_from_the_runs_log() -> None:
    """`watch` rebuilds the gate from the run's log line, as the run's own view showed it."""
    with structlog.testing.capture_logs() as logs:
        LogObserver().notify(GateOpened(GATE))
    (event,) = logs
    assert event["event"] == "gate.opened"
    assert event["finished"] == {"eda1": "done"}
    assert event["release"] == "orchestrator continue 3e919097"
    rebuilt = replayed("gate.opened", {**event, "run_id": GATE.run_id})
    assert rebuilt == [GateOpened(GATE)]


def replayed(kind: str, event: dict[str, object]) -> list[RunEvent]:
    from orchestrator.workflow.runlog import _events  # noqa: PLC0415 - the replay itself

    return _events(kind, dict(event))
