"""Each appliance's steps and their times, read from the journal's state changes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.core.procedure import PROCEDURE, STEP_OF, TIMELINE_STEPS
from orchestrator.journal import Journal, JournalEvent
from orchestrator.journal.steps import step_spans
from orchestrator.journal.view import tally

if TYPE_CHECKING:
    from pathlib import Path

T0 = dt.datetime(2025, 3, 1, 22, 0, tzinfo=dt.UTC)


def event(second: int, state: Outcome, name: str = "eda1", job: str | None = None) -> JournalEvent:
    return JournalEvent(
        ts=T0 + dt.timedelta(seconds=second),
        appliance=name,
        state=state,
        job_id=job,
        error=None,
        step=None,
    )


def summary(
    events: list[JournalEvent], name: str = "eda1"
) -> list[tuple[str, int, int | None, str]]:
    """(step, start second, end second, result) of each step of `name`."""
    return [
        (
            s.step,
            int((s.started_at - T0).total_seconds()),
            int((s.finished_at - T0).total_seconds()) if s.finished_at else None,
            s.result,
        )
        for s in step_spans(events).get(name, ())
    ]


def test_the_timeline_steps_are_upload_job_reboot_verify_in_the_procedure_s_order() -> None:
    """The four steps of a report's timeline come from the procedure table, in its order."""
    assert TIMELINE_STEPS == ("upload", "job", "reboot", "verify")
    begins = [spec.state for spec in PROCEDURE if spec.begins]
    assert begins == [Outcome.UPLOADING, Outcome.UPGRADING, Outcome.REBOOTING, Outcome.VERIFYING]
    assert not FINAL_OUTCOMES & STEP_OF.keys()


def test_an_upgraded_appliance_takes_four_steps_each_ending_where_the_next_begins() -> None:
    """Upload, job (journalled twice: before the request, then with its id), reboot, verify."""
    events = [
        event(0, Outcome.PENDING),
        event(1, Outcome.PRECHECKED),
        event(2, Outcome.UPLOADING),
        event(12, Outcome.UPLOADED),
        event(13, Outcome.UPGRADING),
        event(14, Outcome.UPGRADING, job="17"),
        event(300, Outcome.REBOOTING),
        event(420, Outcome.VERIFYING),
        event(421, Outcome.DONE),
    ]
    assert summary(events) == [
        ("upload", 2, 12, "done"),
        ("job", 13, 300, "done"),
        ("reboot", 300, 420, "done"),
        ("verify", 420, 421, "done"),
    ]


def test_a_failed_job_is_the_last_step_and_says_failed() -> None:
    """The step an appliance failed in ends when it failed, marked failed."""
    events = [
        event(0, Outcome.UPGRADING),
        event(1, Outcome.UPGRADING, job="17"),
        event(90, Outcome.FAILED),
    ]
    assert summary(events) == [("job", 0, 90, "failed")]


def test_a_step_with_nothing_after_it_is_open() -> None:
    """A run going on (or killed) leaves its last step open: no end recorded."""
    events = [event(0, Outcome.UPLOADING), event(5, Outcome.UPLOADED), event(6, Outcome.UPGRADING)]
    assert summary(events) == [("upload", 0, 5, "done"), ("job", 6, None, "open")]


def test_a_job_re_attached_by_its_id_after_a_crash_is_one_step() -> None:
    """Killed mid-job, resumed: the job went on on the appliance; one job step, not two."""
    events = [
        event(0, Outcome.UPGRADING),
        event(1, Outcome.UPGRADING, job="17"),
        event(200, Outcome.UPGRADING, job="17"),  # resume re-attached to it by its id
        event(250, Outcome.REBOOTING),
    ]
    assert summary(events)[0] == ("job", 0, 250, "done")


def test_an_upload_cut_by_a_crash_and_sent_again_is_two_steps() -> None:
    """Killed mid-upload, resumed from the precheck: the first upload was interrupted."""
    events = [
        event(0, Outcome.UPLOADING),
        event(100, Outcome.PRECHECKED),  # the resumed run starts the appliance over
        event(101, Outcome.UPLOADING),
        event(110, Outcome.UPLOADED),
    ]
    assert summary(events) == [("upload", 0, 100, "interrupted"), ("upload", 101, 110, "done")]


@pytest.mark.parametrize("outcome", [Outcome.CANCELLED, Outcome.DEFERRED, Outcome.BLOCKED])
def test_a_step_ended_by_the_run_stopping_is_interrupted(outcome: Outcome) -> None:
    """An appliance cancelled (or otherwise stopped) in a step: that step was interrupted."""
    events = [event(0, Outcome.UPLOADING), event(3, outcome)]
    assert summary(events) == [("upload", 0, 3, "interrupted")]


def test_appliances_without_a_step_have_none_and_others_are_kept_apart() -> None:
    """A skipped appliance took no step; two appliances' events interleave without mixing."""
    events = [
        event(0, Outcome.SKIPPED, "eda2"),
        event(1, Outcome.UPLOADING, "eda1"),
        event(2, Outcome.UPLOADING, "eda3"),
        event(3, Outcome.UPLOADED, "eda1"),
        event(4, Outcome.FAILED, "eda3"),
    ]
    spans = step_spans(events)
    assert "eda2" not in spans
    assert summary(events, "eda1") == [("upload", 1, 3, "done")]
    assert summary(events, "eda3") == [("upload", 2, 4, "failed")]


def test_the_journal_reads_steps_as_they_stream_past_the_same_as_from_its_events(
    tmp_path: Path,
) -> None:
    """`Journal.steps` (the end of a run) and `tally` agree with the events read whole."""
    journal = Journal.open(tmp_path / "state.db")
    run_id = journal.start_run(
        plan_json="{}", inventory_source="f.yaml", inventory_sha256="0" * 64, settings_json="{}"
    )
    walks = {
        "eda1": [Outcome.PRECHECKED, Outcome.UPLOADING, Outcome.UPLOADED, Outcome.DONE],
        "eda2": [Outcome.SKIPPED],
        "eda3": [Outcome.PRECHECKED, Outcome.UPLOADING, Outcome.FAILED],
    }
    for step in range(4):
        for name, walk in walks.items():
            if step < len(walk):
                journal.record_state(run_id, name, walk[step], job_id=None)
    events = journal.events(run_id)
    assert journal.steps(run_id) == step_spans(events)
    counted = tally(events)
    assert counted.last == events[-1].ts
    skipped = next(e.ts for e in events if e.appliance == "eda2")
    assert counted.spans["eda2"] == (skipped, skipped)  # skipped at once
    assert counted.spans["eda3"][1] is not None  # failed: final
    assert journal.report(run_id).results[0].steps == step_spans(events)["eda1"]
    journal.close()
