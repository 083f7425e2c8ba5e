"""`status` on the terminal: dates, inventory, per-step durations under each wave, ingest."""

from __future__ import annotations

import datetime as dt

import pytest
from rich.console import Console

from orchestrator.core.models import (
    ApplianceResult,
    IngestAction,
    Outcome,
    Role,
    RunOrigin,
    RunReport,
    StepSpan,
)
from orchestrator.report.statusview import render_status

T0 = dt.datetime(2025, 3, 1, 22, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def span(step: str, start: float, end: float | None, result: str = "done") -> StepSpan:
    finished = at(end) if end is not None else None
    return StepSpan(step=step, started_at=at(start), finished_at=finished, result=result)


def make_report(suffix: str = "") -> RunReport:
    full = (
        span("upload", 1, 41),
        span("job", 41, 281),
        span("reboot", 281, 401),
        span("verify", 401, 402),
    )
    results = (
        ApplianceResult(
            name="eca1" + suffix,
            role=Role.COMMAND,
            wave="command",
            outcome=Outcome.DONE,
            version_before="9.8.2.1784",
            version_after="9.9.1.100",
            started_at=at(0),
            finished_at=at(402),
            steps=full,
        ),
        ApplianceResult(
            name="eda1" + suffix,
            role=Role.DISCOVER,
            wave="discover",
            outcome=Outcome.FAILED,
            version_before="9.8.2.1784",
            target_version="9.9.1.100",
            error="eda1: job 17 ended FAILED: signature",
            started_at=at(403),
            finished_at=at(700),
            steps=(span("upload", 403, 450), span("job", 450, 700, "failed")),
        ),
        ApplianceResult(
            name="exa-m1" + suffix,
            role=Role.EXPLORE,
            wave="explore-managers",
            outcome=Outcome.BLOCKED,
            version_before="9.8.2.1784",
            target_version="9.9.1.100",
            error="wave discover failed",
            started_at=at(701),
            finished_at=at(701),
        ),
    )
    return RunReport(
        run_id="3e9190974e084b6cb26a173392d7d0d8",
        started_at=T0,
        finished_at=at(705),
        exit_code=1,
        results=results,
        ingest=(IngestAction(cluster="exa", via="exa-m1", action="halted", at=at(600)),),
        origin=RunOrigin(inventory="/srv/fleet.yaml", inventory_sha256="ab" * 32, user="ops"),
    )


def text_of(report: RunReport, width: int, **options: object) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(render_status(report, **options))  # type: ignore[arg-type]
    return console.export_text()


def test_status_says_when_the_run_started_and_ended_and_from_which_inventory() -> None:
    """The header has the date and time, the end and the duration, the inventory and who."""
    text = text_of(make_report(), 120, lifecycle="failed")
    assert "run 3e9190974e084b6cb26a173392d7d0d8 — failed" in text
    assert f"started   {T0.astimezone():%Y-%m-%d %H:%M:%S}" in text
    assert "after 11m 45s" in text
    assert "inventory /srv/fleet.yaml (sha256 abababababab…)" in text


def test_each_appliance_shows_each_step_s_duration_under_its_wave() -> None:
    """Upload, job, reboot and verify durations per appliance; a wave that never began says so."""
    lines = text_of(make_report(), 120, lifecycle="failed").splitlines()
    header = next(line for line in lines if line.startswith("appliance"))
    assert header.split() == [
        "appliance", "version", "outcome", "upload", "job", "reboot", "verify", "total", "error",
    ]  # fmt: skip
    eca1 = next(line for line in lines if line.startswith("eca1"))
    assert eca1.split()[4:11] == ["done", "40s", "4m", "00s", "2m", "00s", "1s"]
    assert any(line.startswith("command · began") for line in lines)
    assert "explore-managers · did not begin" in lines
    exa = next(line for line in lines if line.startswith("exa-m1"))
    assert " - " in exa  # blocked: no time spent


def test_a_run_going_on_says_so_instead_of_an_exit_code() -> None:
    """While the run goes on, the summary says `going on now`, and open steps count to now."""
    report = make_report()
    going = report.results[0].model_copy(
        update={
            "steps": (span("upload", 1, 41), span("job", 41, None, "open")),
            "finished_at": None,
        }
    )
    report = report.model_copy(update={"results": (going,), "exit_code": 3})
    text = text_of(report, 120, lifecycle="running", now=at(100))
    assert "— going on now" in text
    assert "exit 3" not in text
    assert "59s…" in text  # the job, 41 s to now
    assert "going on for 1m 40s" in text


def test_ingest_left_disabled_is_said_with_how_long_it_has_been_off() -> None:
    """A cluster halted and never re-enabled: the sentence says so, with its time off."""
    text = text_of(make_report(), 120, lifecycle="failed")
    assert "ingest on exa: halted via exa-m1 (off 1m 45s) — INGEST IS STILL DISABLED" in text


@pytest.mark.parametrize("suffix", ["", ".dc1.corp.example.net"], ids=["short", "long-names"])
def test_status_fits_80_columns(suffix: str) -> None:
    """On an 80-column terminal versions take two lines and nothing runs past the edge."""
    text = text_of(make_report(suffix), 80, lifecycle="failed")
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "9.8.2.1784 →" in text
    assert "upload" in text


def test_a_run_with_no_appliance_recorded_says_so() -> None:
    """A run journalled before any appliance (killed at once) has no table, and says why."""
    report = make_report().model_copy(update={"results": ()})
    text = text_of(report, 80, lifecycle="incomplete")
    assert "no appliance is recorded in this run" in text
    assert "no appliances — exit 1" in text
