"""A run's report as Markdown, for pasting into a change ticket."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

from orchestrator.core.text import format_duration
from orchestrator.core.text import markdown as _md
from orchestrator.core.tls import group_by_check
from orchestrator.report.words import (
    FOUND_OFF_WORDS,
    GATE_ANSWERS,
    PROBLEM_OUTCOMES,
    ingest_by_cluster,
    ingest_left_disabled,
    one_line_summary,
    own_error,
    run_status,
    summary_line,
)

if TYPE_CHECKING:
    from orchestrator.core.models import RunOrigin, RunReport

__all__ = ["to_markdown"]


def _markdown_header(report: RunReport) -> list[str]:
    """The heading and the run summary bullets."""
    status = run_status(report.exit_code)
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    title = "Firmware upgrade dry run" if report.dry_run else "Firmware upgrade run"
    return [
        f"# {title} {_md(report.run_id)}: {status}",
        "",
        f"{_md(one_line_summary(report))}",
        "",
        f"- **Status:** {status} (exit code {report.exit_code})",
        f"- **Started:** {report.started_at.isoformat()}",
        f"- **Finished:** {report.finished_at.isoformat()} ({duration})",
        f"- **Appliances:** {summary_line(report).rsplit(' — ', 1)[0]}",
        *_origin_lines(report.origin),
        "",
    ]


def _origin_lines(origin: RunOrigin | None) -> list[str]:
    """Where the run came from: inventory, plan, who ran it with which release."""
    if origin is None:
        return []
    lines = []
    if origin.rolls_back:
        lines.append(f"- **Rollback of run:** `{origin.rolls_back}`")
    if origin.inventory:
        lines.append(
            f"- **Inventory:** {_md(origin.inventory)} (sha256 `{origin.inventory_sha256}`)"
        )
    if origin.plan_sha256:
        lines.append(f"- **Plan executed:** sha256 `{origin.plan_sha256}`")
    if origin.plan_file:
        lines.append(
            f"- **Reviewed plan:** {_md(origin.plan_file)} (sha256 `{origin.plan_file_sha256}`)"
        )
    who = "@".join(part for part in (origin.user, origin.host) if part)
    if who:
        release = f", orchestrator {_md(origin.tool_version)}" if origin.tool_version else ""
        lines.append(f"- **Started by:** {_md(who)}{release}")
    return lines


def _markdown_table(report: RunReport) -> list[str]:
    """The appliance table."""
    lines = [
        "## Appliances",
        "",
        "| Appliance | Role | Wave | Before | After | Target | Outcome | Duration |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        cells = (
            _md(r.name),
            _md(r.role.value if r.role else None),
            _md(r.wave),
            _md(r.version_before),
            _md(r.version_after),
            _md(r.target_version),
            f"**{r.outcome.value}**" if r.outcome in PROBLEM_OUTCOMES else r.outcome.value,
            format_duration(r.duration),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _markdown_ingest(report: RunReport) -> list[str]:
    """The ingest section (empty when the run touched no Explore cluster)."""
    groups = ingest_by_cluster(report)
    if not groups:
        return []
    lines = ["## Explore ingest", ""]
    for cluster, actions in groups.items():
        choice = report.ingest_found_off.get(cluster)
        if choice in FOUND_OFF_WORDS:
            lines.append(f"- {_md(cluster)}: {_md(FOUND_OFF_WORDS[choice])}")
        for action in actions:
            error = f": {_md(action.error)}" if action.error else ""
            lines.append(
                f"- {_md(cluster)}: {action.action.replace('_', ' ')} via {_md(action.via)}"
                f" at {action.at.isoformat()}{error}"
            )
        if ingest_left_disabled(actions):
            inventory = (report.origin.inventory if report.origin else None) or "INVENTORY"
            lines.append(
                f"- **Ingest on {_md(cluster)} is still disabled:** run "
                f"`orchestrator restore-ingest {inventory} --cluster {cluster}`."
            )
    return [*lines, ""]


def _markdown_tls(report: RunReport) -> list[str]:
    """How each appliance's certificate was verified (left out for a run that did not say)."""
    if all(r.tls is None for r in report.results):
        return []
    groups = group_by_check((r.name, r.tls) for r in report.results)
    lines = [f"- {label}: {', '.join(_md(name) for name in names)}" for label, names in groups]
    return ["## TLS", "", *lines, ""]


def _markdown_gates(report: RunReport) -> list[str]:
    """Each gate the run waited at: who answered how, and when (left out for a run without)."""
    if not report.gates:
        return []
    lines = ["## Gates", ""]
    for gate in report.gates:
        who = f" by {_md(gate.by)}" if gate.by else ""
        what = GATE_ANSWERS[gate.answer]
        lines.append(
            f"- before {_md(gate.gate)}: {what}{who} at {gate.answered_at.isoformat()} "
            f"(waiting since {gate.opened_at.isoformat()})"
        )
    return [*lines, ""]


def _markdown_problems(report: RunReport) -> list[str]:
    """Every failed, blocked, deferred or cancelled appliance with its full error."""
    problems = [r for r in report.results if r.outcome in PROBLEM_OUTCOMES]
    if not problems:
        return []
    lines = ["## Problems", ""]
    for r in problems:
        job = f" (job {_md(r.job_id)})" if r.job_id else ""
        lines.append(f"- **{_md(r.name)}** {r.outcome.value}{job}: {_md(own_error(r))}")
    return [*lines, ""]


def _markdown_backups(report: RunReport) -> list[str]:
    """Each file the run saved before changing an appliance, with its size and sha256."""
    if not report.backups:
        return []
    folder = str(PurePath(report.backups[0].path).parent)
    lines = ["## Backups", "", f"Saved in `{folder}` before each appliance was changed.", ""]
    lines += ["| appliance | file | bytes | sha256 |", "|---|---|---:|---|"]
    lines += [
        f"| {_md(b.appliance)} | {_md(PurePath(b.path).name)} | {b.size} | `{b.sha256}` |"
        for b in report.backups
    ]
    return [*lines, ""]


def to_markdown(report: RunReport) -> str:
    """The report as Markdown for a change ticket: status, counts, table, ingest, problems."""
    sections = (
        _markdown_header(report),
        _markdown_table(report),
        _markdown_ingest(report),
        _markdown_tls(report),
        _markdown_gates(report),
        _markdown_backups(report),
        _markdown_problems(report),
    )
    return "\n".join(line for section in sections for line in section).rstrip("\n") + "\n"
