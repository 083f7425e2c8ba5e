"""A run's report and a plan as self-contained HTML pages, with the timeline as inline SVG.

Rendered from the Jinja2 templates in `templates/` (autoescaped: names and errors come from
files and appliances). This module only gathers what the pages say; the geometry is
`report.timeline`'s, the words `report.words`' and `report.planview`'s. A page loads nothing:
no script, font, stylesheet or image from anywhere, so it reads the same attached to a ticket.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import jinja2

from orchestrator.core.about import tool_version
from orchestrator.core.procedure import TIMELINE_STEPS
from orchestrator.core.text import ARROW, format_duration, local_time
from orchestrator.plan import Action
from orchestrator.plan.console import key_lines
from orchestrator.plan.file import plan_sha256
from orchestrator.report import planview
from orchestrator.report.batchwords import batch_lines
from orchestrator.report.plantimeline import first_starts, plan_timeline, projected
from orchestrator.report.runtimeline import run_timeline
from orchestrator.report.schedulewords import schedule_lines
from orchestrator.report.words import (
    GATE_ANSWERS,
    PROBLEM_OUTCOMES,
    cluster_ingest,
    ingest_by_cluster,
    ingest_left_disabled,
    ingest_sentence,
    one_line_summary,
    own_error,
    run_status,
    time_spent,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from orchestrator.core.models import ApplianceResult, GateRecord, RunOrigin, RunReport
    from orchestrator.plan import Plan, Wave
    from orchestrator.report.plantimeline import ProjectedLine

__all__ = ["plan_page", "run_page", "run_page_pieces"]

_STEP_LEGEND = [
    ("seg upload", "upload"),
    ("seg download", "download (URL, cloud)"),
    ("seg job", "firmware job"),
    ("seg reboot", "restart"),
    ("seg verify", "verify"),
]
_RUN_LEGEND = [
    *[item for item in _STEP_LEGEND if item[0] != "seg download"],
    ("seg job failed", "failed in this step"),
    ("seg job interrupted", "interrupted"),
    ("seg job open", "no end recorded"),
    ("seg ingest-off", "Explore ingest off"),
    ("seg ingest-disabled", "ingest left disabled"),
]
_PLAN_LEGEND = [
    *[item for item in _STEP_LEGEND if item[0] != "seg verify"],
    ("seg ingest-off", "Explore ingest off"),
    ("seg ingest-kept", "found off, kept off"),
]
_PROBLEM_CSS = frozenset({*(o.value for o in PROBLEM_OUTCOMES), "refused", "deferred"})


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates, autoescaped, failing loudly on a name they do not know."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("orchestrator.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: Any) -> str:  # noqa: ANN401 - the template's values
    return "".join(_pieces(template, **context))


def _pieces(template: str, **context: Any) -> Iterator[str]:  # noqa: ANN401 - the values
    """The page in the pieces Jinja2 renders it in, to be written as they come."""
    now = local_time(dt.datetime.now(dt.UTC))
    page = _environment().get_template(template)
    yield from page.generate(tool_version=tool_version(), written_at=now, **context)
    yield "\n"


# --- a run -----------------------------------------------------------------------------------


def run_page(report: RunReport) -> str:
    """The run's report as one HTML page."""
    return "".join(run_page_pieces(report))


def run_page_pieces(report: RunReport) -> Iterator[str]:
    """`run_page` in pieces, to be written as they come (a large run's is tens of MB)."""
    return _pieces(
        "run.html.j2",
        heading="Firmware upgrade dry run" if report.dry_run else "Firmware upgrade run",
        run_id=report.run_id,
        status=run_status(report.exit_code),
        summary=one_line_summary(report),
        problems=[_problem(r) for r in report.results if r.outcome in PROBLEM_OUTCOMES],
        ingest_alarms=_left_disabled(report),
        inventory=(report.origin.inventory if report.origin else None) or "INVENTORY",
        facts=_run_facts(report),
        picture=run_timeline(report),
        legend_kinds=_RUN_LEGEND,
        problem_css=_PROBLEM_CSS,
        ingest=_ingest_lines(report, report.finished_at),
        steps=TIMELINE_STEPS,
        appliances=(_appliance_row(r) for r in report.results),  # a row at a time, as written
        gates=[_gate_row(gate) for gate in report.gates],
        backups=[{**b.model_dump(), "file": PurePath(b.path).name} for b in report.backups],
        backups_folder=str(PurePath(report.backups[0].path).parent) if report.backups else "",
    )


def _gate_row(gate: GateRecord) -> dict[str, str]:
    """One gate the run waited at: what, how it was answered, by whom, when, how long."""
    return {
        "gate": gate.gate,
        "answer": GATE_ANSWERS[gate.answer],
        "by": gate.by or "",
        "opened": local_time(gate.opened_at),
        "answered": local_time(gate.answered_at),
        "waited": format_duration((gate.answered_at - gate.opened_at).total_seconds()),
    }


def _left_disabled(report: RunReport) -> list[str]:
    return [c.cluster for c in cluster_ingest(report) if c.state == "disabled"]


def _problem(result: ApplianceResult) -> dict[str, str | None]:
    return {
        "name": result.name,
        "outcome": result.outcome.value,
        "job_id": result.job_id,
        "error": own_error(result) or "no error recorded",
    }


def _run_facts(report: RunReport) -> list[tuple[str, str]]:
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    facts = [
        ("Run", report.run_id),
        ("Started", f"{local_time(report.started_at)} ({report.started_at.isoformat()})"),
        ("Finished", f"{local_time(report.finished_at)}, after {duration}"),
        ("Exit code", str(report.exit_code)),
    ]
    if report.window_end is not None:
        facts.append(("Window ends", local_time(report.window_end)))
    return facts + _origin_facts(report.origin)


def _origin_facts(origin: RunOrigin | None) -> list[tuple[str, str]]:
    if origin is None:
        return []
    facts = []
    if origin.rolls_back:
        facts.append(("Rollback of run", origin.rolls_back))
    if origin.inventory:
        facts.append(("Inventory", f"{origin.inventory} (sha256 {origin.inventory_sha256})"))
    if origin.plan_sha256:
        facts.append(("Plan executed", f"sha256 {origin.plan_sha256} (plan.json in its folder)"))
    if origin.plan_file:
        facts.append(("Reviewed plan", f"{origin.plan_file} (sha256 {origin.plan_file_sha256})"))
    who = "@".join(part for part in (origin.user, origin.host) if part)
    if who:
        release = f" with orchestrator {origin.tool_version}" if origin.tool_version else ""
        facts.append(("Started by", who + release))
    return facts


def _ingest_lines(report: RunReport, until: dt.datetime) -> list[dict[str, object]]:
    groups = ingest_by_cluster(report)
    off = {c.cluster: c.off_seconds(until) for c in cluster_ingest(report)}
    return [
        {
            "text": ingest_sentence(
                cluster,
                actions,
                report.ingest_found_off.get(cluster),
                format_duration(off[cluster]) if off.get(cluster) else None,
            ),
            "alarm": ingest_left_disabled(actions),
        }
        for cluster, actions in groups.items()
    ]


def _appliance_row(result: ApplianceResult) -> dict[str, object]:
    durations = dict.fromkeys(TIMELINE_STEPS, "")
    for step in result.steps:
        shown = format_duration(step.duration) if step.duration is not None else "…"
        previous = durations.get(step.step)
        durations[step.step] = f"{previous} + {shown}" if previous else shown
    return {
        "name": result.name,
        "role": result.role.value if result.role else "-",
        "wave": result.wave or "-",
        "before": result.version_before or "-",
        "after": result.version_after or "-",
        "target": result.target_version or "-",
        "outcome": result.outcome.value,
        "job_id": result.job_id or "",
        "steps": durations,
        "total": format_duration(time_spent(result)),
        "error": own_error(result),
    }


# --- a plan ----------------------------------------------------------------------------------


def plan_page(plan: Plan) -> str:
    """The plan as one HTML page: what a change-approval board needs, with its picture."""
    lines = {p.line.name: p for p in projected(plan)}
    refused = [
        f"{line.name}: {line.reason}"
        for line in plan.appliances()
        if line.reason and line.action is Action.REFUSED
    ]
    return _render(
        "plan.html.j2",
        inventory=plan.inventory_source,
        refused=plan.refused,
        summary=planview.summary_line(plan),
        graph=plan.schedule == "graph",
        schedule=schedule_lines(plan),
        refusals=[*plan.refusals, *refused],
        warnings=list(plan.warnings),
        facts=_plan_facts(plan),
        picture=plan_timeline(plan),
        legend_kinds=_PLAN_LEGEND,
        problem_css=_PROBLEM_CSS,
        concurrency=plan.concurrency,
        created=local_time(plan.created_at),
        ingest=planview.ingest_lines(plan),
        batches=batch_lines(plan),
        waves=_waves(plan, lines),
    )


def _plan_facts(plan: Plan) -> list[tuple[str, str]]:
    facts = [
        ("Inventory", f"{plan.inventory_source} (sha256 {plan.inventory_sha256})"),
        ("Planned", f"{local_time(plan.created_at)}, {'offline' if plan.offline else 'online'}"),
        ("Plan sha256", f"{plan_sha256(plan)} (of the plan JSON saved with --out)"),
        ("Estimate", f"{format_duration(plan.estimate)} at concurrency {plan.concurrency}"),
        ("Downgrades", "allowed" if plan.allow_downgrade else "refused"),
        *(("API key", line) for line in key_lines(plan)),
    ]
    if plan.window_end is not None:
        margin = (plan.window_end - plan.created_at).total_seconds() - plan.estimate
        words = f"{format_duration(abs(margin))} {'to spare' if margin >= 0 else 'short'}"
        facts.append(("Window ends", f"{local_time(plan.window_end)} ({words})"))
    return facts


def _waves(plan: Plan, lines: dict[str, ProjectedLine]) -> list[dict[str, object]]:
    waves, offset = [], 0.0
    first = first_starts(lines.values())  # a graph plan's stages overlap: no sum of them
    for wave in plan.waves:
        start = first.get(wave.kind) if plan.schedule == "graph" else offset
        waves.append(_wave(wave, lines, start))
        offset += wave.estimate
    if plan.unplaced:
        waves.append(
            {
                "kind": "unplaced (refused before a wave was known)",
                "estimate": "-",
                "start": None,
                "lines": [_plan_row(lines[a.name]) for a in plan.unplaced],
            }
        )
    return waves


def _wave(wave: Wave, lines: dict[str, ProjectedLine], start: float | None) -> dict[str, object]:
    return {
        "kind": str(wave.kind),
        "estimate": format_duration(wave.estimate),
        "start": format_duration(start) if wave.estimate and start is not None else None,
        "lines": [_plan_row(lines[a.name]) for a in wave.appliances],
    }


def _plan_row(projection: ProjectedLine) -> dict[str, object]:
    line = projection.line
    projected_at = "-"
    if projection.steps:
        start, end = projection.steps[0][1], projection.end
        projected_at = f"+{format_duration(start)} {ARROW} +{format_duration(end)}"
    return {
        "name": line.name,
        "role": planview.role_text(line),
        "version": planview.version_text(line),
        "action": planview.action_text(line),
        "refused": line.action is Action.REFUSED,
        "estimate": planview.estimate_text(line),
        "projected": projected_at,
    }
