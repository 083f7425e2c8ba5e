"""A run as the journal recorded it, turned into a RunReport (for `status`, `resume`, reports)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from orchestrator.core.models import (
    FINAL_OUTCOMES,
    ApplianceResult,
    Outcome,
    RunOrigin,
    RunReport,
)
from orchestrator.journal.steps import step_spans
from orchestrator.plan import Plan, PlannedAppliance
from orchestrator.plan.file import plan_sha256

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

    from orchestrator.core.models import IngestAction, StepSpan
    from orchestrator.journal import ApplianceRecord, JournalEvent, RunRecord

__all__ = [
    "INCOMPLETE_EXIT_CODE",
    "EventTally",
    "build_report",
    "run_origin",
    "started_by",
    "tally",
    "with_steps",
]

INCOMPLETE_EXIT_CODE = 3  # what a report says for a run that never finished


@dataclass(frozen=True)
class EventTally:
    """What a report needs of a run's events, gathered in one pass without keeping them.

    A run writes about fifteen events per appliance: at 10,000 appliances, held as models,
    they would be the largest thing the process ever holds.
    """

    spans: Mapping[str, tuple[dt.datetime | None, dt.datetime | None]]  # (started, finished)
    steps: Mapping[str, tuple[StepSpan, ...]]
    last: dt.datetime | None  # the newest event's time


def tally(events: Iterable[JournalEvent]) -> EventTally:
    """Each appliance's span and steps, and the newest time, from the run's events in order."""
    started: dict[str, dt.datetime] = {}
    finished: dict[str, dt.datetime | None] = {}
    last: dt.datetime | None = None

    def watched() -> Iterator[JournalEvent]:  # step_spans reads the events; this notes spans
        nonlocal last
        for event in events:
            name = event.appliance
            if name not in started and event.state is not Outcome.PENDING:
                started[name] = event.ts
            if event.state in FINAL_OUTCOMES:
                finished[name] = finished.get(name) or event.ts
            else:
                finished[name] = None
            last = event.ts if last is None else max(last, event.ts)
            yield event

    steps = step_spans(watched())
    spans = {name: (started.get(name), finished[name]) for name in finished}
    return EventTally(spans=spans, steps=steps, last=last)


def build_report(
    run: RunRecord,
    states: Mapping[str, ApplianceRecord],
    events: EventTally,
    ingest: tuple[IngestAction, ...],
) -> RunReport:
    """One ApplianceResult per recorded appliance, in plan order (others after them)."""
    plan = _plan(run.plan_json)
    planned = {line.name: line for line in plan.appliances()} if plan else {}
    order = [name for name in planned if name in states]
    order += [name for name in states if name not in planned]
    results = tuple(
        _result(states[name], events.spans.get(name, (None, None)), planned.get(name))
        for name in order
    )
    last = max([run.started_at, *([events.last] if events.last else []), *(i.at for i in ingest)])
    report = RunReport(
        run_id=run.run_id,
        started_at=run.started_at,
        finished_at=run.finished_at or last,
        exit_code=INCOMPLETE_EXIT_CODE if run.exit_code is None else run.exit_code,
        results=results,
        ingest=ingest,
        ingest_found_off={
            b.cluster: b.choice for b in (plan.ingest if plan else ()) if b.found_off and b.choice
        },
        window_end=_window_end(run.settings_json),
        origin=run_origin(run, plan=plan),
    )
    return with_steps(report, events.steps)


def with_steps(report: RunReport, steps: Mapping[str, tuple[StepSpan, ...]]) -> RunReport:
    """`report` with each appliance's steps and their times (`tally`, `Journal.steps`)."""
    results = tuple(r.model_copy(update={"steps": steps.get(r.name, ())}) for r in report.results)
    return report.model_copy(update={"results": results})


def run_origin(
    run: RunRecord,
    started_by: Mapping[str, str | None] | None = None,
    *,
    plan: Plan | None = None,
) -> RunOrigin:
    """The run's inventory and plan hash from the journal; who started it, if known.

    `plan`: the run's plan, if the caller has parsed it already.
    """
    plan = plan or _plan(run.plan_json)
    return RunOrigin(
        inventory=run.inventory_source,
        inventory_sha256=run.inventory_sha256,
        plan_sha256=plan_sha256(plan) if plan else None,
        rolls_back=plan.rolls_back if plan else None,
        **(started_by or {}),
    )


# What the first `run.started` of a run's log says about who started it (`RunOrigin`).
_STARTED_BY = ("host", "user", "tool_version", "plan_file", "plan_file_sha256")


def started_by(path: Path) -> dict[str, str | None]:
    """Who started the run and with what, from its log's `run.started`; empty if not found."""
    try:
        with path.open("rb") as handle:
            for line in handle:
                if b'"run.started"' not in line:
                    continue
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == "run.started":
                    return {key: _text(event.get(key)) for key in _STARTED_BY}
    except (OSError, ValueError):
        pass
    return {}


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _window_end(settings_json: str) -> dt.datetime | None:
    """The window end the run was started with (its journalled settings), if any."""
    try:
        value = json.loads(settings_json).get("window_end")
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None


def _plan(plan_json: str) -> Plan | None:
    """The run's plan, or None if it is not a Plan document."""
    try:
        return Plan.model_validate_json(plan_json)
    except ValidationError:
        return None


def _result(
    record: ApplianceRecord,
    span: tuple[dt.datetime | None, dt.datetime | None],
    line: PlannedAppliance | None,
) -> ApplianceResult:
    started, finished = span
    after = record.version_after
    if after is None and record.state is Outcome.SKIPPED:
        after = record.version_before  # already current: nothing changed
    return ApplianceResult(
        name=record.appliance,
        role=line.role if line else None,
        wave=line.wave.value if line and line.wave else None,
        cluster=line.cluster if line else None,
        outcome=record.state,
        version_before=record.version_before or (line.current_version if line else None),
        version_after=after,
        target_version=line.target_version if line else None,
        error=record.error,
        job_id=record.job_id,
        started_at=started,
        finished_at=finished if record.state in FINAL_OUTCOMES else None,
        tls=line.tls if line else None,
    )
