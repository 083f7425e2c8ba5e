"""Render a Plan for people: a rich table for the terminal, JSON, and Markdown for a change ticket.

Nothing here prints; callers get a renderable or a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import CloudFirmware, FileFirmware, Role, UrlFirmware
from orchestrator.core.text import ARROW, format_duration
from orchestrator.core.text import markdown as _md
from orchestrator.core.tls import TlsCheck, group_by_check, tls_check_text
from orchestrator.plan import Action, Plan, PlannedAppliance, bracket_waves
from orchestrator.plan.console import key_lines
from orchestrator.report.batchwords import batch_lines
from orchestrator.report.fixedrows import fixed_rows
from orchestrator.report.schedulewords import schedule_lines

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import RenderableType

    from orchestrator.plan import IngestBracket

_COLUMNS = ("  Appliance", "Role", "Version", "Action", "Estimate")  # the mark, then the name
_NAME, _ROLE, _VERSION, _ACTION = 0, 1, 2, 3
_ACTION_LEAST = 16  # below this, a long appliance name folds
_DIGITS, _DIGITS_LEAST = 12, 8  # sha256 hex digits shown; shortened to fit rather than wrapped
# What apply does to an appliance, at a glance: upgrade it, leave it (already current), refuse.
MARKS = {
    Action.UPLOAD: "+",
    Action.URL: "+",
    Action.CLOUD: "+",
    Action.CONSOLE: "+",
    Action.ROLLBACK: "<",
    Action.SKIP: "=",
    Action.REFUSED: "!",
}


def action_text(line: PlannedAppliance, *, digits: int = _DIGITS) -> str:
    """What apply will do: `upload F sha256 …`, `url U`, `cloud V`, `console V via C (id N)`...

    Else the action's name (`skip`, `rollback`), or `refused: why`.
    """
    firmware = line.firmware
    if line.action is Action.UPLOAD and isinstance(firmware, FileFirmware):
        digest = f" sha256 {line.image.sha256[:digits]}" if line.image else ""
        return f"upload {firmware.file.name}{digest}"  # the JSON plan keeps the full path
    if line.action is Action.URL and isinstance(firmware, UrlFirmware):
        return f"url {firmware.url}"
    if line.action is Action.CLOUD and isinstance(firmware, CloudFirmware):
        return f"cloud {firmware.cloud_version}"
    if line.action is Action.CONSOLE:
        return f"console {line.target_version} via {line.console} (id {line.console_id})"
    if line.action is Action.REFUSED:
        return f"refused: {line.reason}"
    return str(line.action)  # skip, rollback


def role_text(line: PlannedAppliance) -> str:
    """`discover`; `exa/manager` (cluster/node) for an Explore node; `?` when unknown."""
    if line.role is Role.EXPLORE and line.cluster and line.node:
        return f"{line.cluster}/{line.node}"
    return str(line.role) if line.role else "?"


def version_text(line: PlannedAppliance) -> str:
    """`current → target`, with `?` for what is unknown."""
    return f"{line.current_version or '?'} {ARROW} {line.target_version or '?'}"


def estimate_text(line: PlannedAppliance) -> str:
    """The appliance's estimate, flagged when the window would close first; `-` when idle."""
    if not line.actionable:
        return "-"
    text = format_duration(line.estimate.total)
    return text if line.fits_window else f"{text}, deferred"


def ingest_lines(plan: Plan) -> list[str]:
    """One sentence per Explore cluster bracket: halted and restored, or left off."""
    lines = []
    for bracket in plan.ingest:
        if bracket.halted_by_tool:
            lines.append(
                f"cluster {bracket.cluster}: ingest DISABLED by a run of this tool that did not "
                "finish: resume it, or restore-ingest"
            )
            continue
        if bracket.found_off and bracket.choice != "enable":
            fate = "kept off (as chosen)" if bracket.choice else "apply asks: keep off or enable"
            lines.append(f"cluster {bracket.cluster}: ingest found disabled: {fate}")
            continue
        if not bracket.halt:
            lines.append(f"cluster {bracket.cluster}: left off: ingest was already disabled")
            continue
        line = f"halt ingest on cluster {bracket.cluster} via {bracket.via} " + _bracket_span(
            plan, bracket
        )
        if bracket.found_off:
            line += " (found disabled: enabled after, as chosen)"
        elif bracket.was_enabled is None:
            line += " (ingest state not observed)"
        lines.append(line)
    return lines


def _bracket_span(plan: Plan, bracket: IngestBracket) -> str:
    """When the halt and the restore come, and (graph plans) how long ingest is off."""
    if plan.schedule == "graph":
        off = bracket.off_estimate
        estimate = f" (off ~{format_duration(off)} by the estimates)" if off is not None else ""
        return f"right before its first node; restore right after its last{estimate}"
    first, last = bracket_waves(plan, bracket) or ("explore-managers", "explore-data")
    return f"before {first}; restore after {last}"


def tls_lines(plan: Plan) -> list[str]:
    """How each appliance's certificate is checked: by CA, by its pin (shown), or not at all."""
    pins = {line.name: line.pin for line in plan.appliances() if line.tls is TlsCheck.PIN}
    lines = []
    for label, names in group_by_check((line.name, line.tls) for line in plan.appliances()):
        if label == tls_check_text(TlsCheck.PIN):
            lines += [f"{label}: {name} {pins[name]}" for name in names]
        else:
            lines.append(f"{label}: {', '.join(names)}")
    return lines


def summary_line(plan: Plan) -> str:
    """Counts (with their marks), vendor rules broken, the estimate and the window."""
    lines = list(plan.appliances())
    upgrade = sum(1 for line in lines if line.actionable)
    current = sum(1 for line in lines if line.action is Action.SKIP)
    refused = sum(1 for line in lines if line.action is Action.REFUSED)
    change, same = ("roll back (<)", "already back (=)") if _undoes(plan) else _UPGRADE_WORDS
    text = f"{len(lines)} appliances: {upgrade} to {change}, {current} {same}"
    text += f", {refused} refused (!)" if refused else ""
    if plan.refusals:
        rules = len(plan.refusals)
        text += f"; {rules} vendor {'rule' if rules == 1 else 'rules'} broken"
    text += f"; estimate {format_duration(plan.estimate)} at concurrency {plan.concurrency}"
    if plan.window_end is not None:
        late = sum(1 for line in lines if line.actionable and not line.fits_window)
        text += f"; window ends {plan.window_end.isoformat(timespec='minutes')}"
        text += f", {late} deferred" if late else ", everything fits"
    return text


_UPGRADE_WORDS = ("upgrade (+)", "already current (=)")


def _undoes(plan: Plan) -> bool:
    return plan.kind == "rollback"


def plan_title(plan: Plan) -> str:
    """`Upgrade plan`, or `Rollback plan` for a rollback (`orchestrator rollback`)."""
    return "Rollback plan" if _undoes(plan) else "Upgrade plan"


def refusal_lines(plan: Plan) -> list[str]:
    """Every refusal: the vendor rules broken, then each refused appliance and why."""
    refused = [
        f"{line.name}: {line.reason}"
        for line in plan.appliances()
        if line.reason and line.action is Action.REFUSED
    ]
    return [*plan.refusals, *refused]


def status_line(plan: Plan) -> str:
    """Whether apply will accept the plan; if not, how many refusals stand in the way."""
    if not plan.refused:
        return "ready to roll back" if _undoes(plan) else "ready to apply"
    count = len(refusal_lines(plan))
    noun = "refusal" if count == 1 else "refusals"
    return f"REFUSED: {count} {noun}; apply will not run this plan until they are resolved"


def skipped_line(lines: Iterable[PlannedAppliance], width: int | None = None) -> str | None:
    """`3 already current: eda3, eda7, eda11` for a wave's skips; None if none.

    Within `width` columns, the names that fit, then `and N more`.
    """
    names = [line.name for line in lines if line.action is Action.SKIP]
    if not names:
        return None
    head = f"{len(names)} already current"
    text = f"{head}: {', '.join(names)}"
    if width is None or len(text) <= width:
        return text
    shown, used = 0, len(head) + 2
    while len(names[shown]) + 2 + used + len(f" and {len(names) - shown} more") <= width:
        used += len(names[shown]) + 2
        shown += 1
    if not shown:
        return head
    return f"{head}: {', '.join(names[:shown])} and {len(names) - shown} more"


def source_line(plan: Plan) -> str:
    """Where the plan came from and when."""
    mode = "offline" if plan.offline else "online"
    when = plan.created_at.isoformat(timespec="seconds")
    return (
        f"inventory {plan.inventory_source} (sha256 {plan.inventory_sha256[:12]}), {mode}, {when}"
    )


def _sections(plan: Plan) -> list[tuple[str, list[str]]]:
    return [
        ("Schedule", schedule_lines(plan)),
        ("Ingest", ingest_lines(plan)),
        ("API keys", key_lines(plan)),
        ("TLS", tls_lines(plan)),
        ("Batches and gates", batch_lines(plan)),
        ("Warnings", list(plan.warnings)),
        ("Refusals", refusal_lines(plan)),
    ]


# --- terminal --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Column widths shared by every wave's table, and the sha256 digits that fit."""

    widths: list[int]
    digits: int
    width: int  # the terminal's


def render_table(plan: Plan, *, width: int = 100) -> RenderableType:
    """The plan as a rich renderable for a terminal `width` columns wide: summary first."""
    layout = _layout([line for line in plan.appliances() if line.action is not Action.SKIP], width)
    parts: list[RenderableType] = [
        _line(
            f"{plan_title(plan)}: {status_line(plan)}", style="bold red" if plan.refused else "bold"
        ),
        _line(summary_line(plan), style="bold"),
        _line(source_line(plan), style="dim"),
    ]
    for number, wave in enumerate(plan.waves, start=1):
        heading = f"\n{number}. {wave.kind} ({format_duration(wave.estimate)})"
        parts.append(_line(heading, style="bold"))
        parts.extend(_wave(wave.appliances, layout))
    if plan.unplaced:
        parts.append(_line("\nunplaced (refused before a wave was known)", style="bold"))
        parts.extend(_wave(plan.unplaced, layout))
    for title, lines in _sections(plan):
        if lines:
            parts.extend([_line(f"\n{title}", style="bold"), _bullets(lines)])
    parts.append(_line(f"\nTotal: {summary_line(plan)}", style="bold"))
    if plan.refused:  # the last word of a refused plan is that it is refused, and why
        parts.append(_line(f"{plan_title(plan)}: {status_line(plan)}", style="bold red"))
    return Group(*parts)


def _wave(lines: tuple[PlannedAppliance, ...], layout: _Layout) -> list[RenderableType]:
    """A wave's table of what changes, and its skipped appliances folded into one line."""
    shown = tuple(line for line in lines if line.action is not Action.SKIP)
    parts: list[RenderableType] = [_wave_table(shown, layout)] if shown else []
    skipped = skipped_line(lines, layout.width - 3)
    if skipped is not None:
        parts.append(_line(f" {MARKS[Action.SKIP]} {skipped}", style="dim"))  # as a row's mark
    return parts or [_line(" none", style="dim")]


def _line(text: str, style: str) -> Text:
    """A line of text that wraps between words, even on a console that soft-wraps."""
    return Text(text, style=style, no_wrap=False, overflow="fold")


def _layout(lines: list[PlannedAppliance], width: int) -> _Layout:
    """The widest layout that fits: shorter hashes first, then two-line versions, then folds.

    A refusal's reason is prose and may wrap; what decides the layout is that every other
    action (a file and its hash, a URL) fits on one line.
    """
    prose = max((len(action_text(line)) for line in lines), default=0)
    for two_line in (False, True):
        for digits in (_DIGITS, _DIGITS_LEAST):
            widths = _natural(lines, digits, two_line=two_line)
            room = _room(widths, width)
            if room >= widths[_ACTION]:
                widths[_ACTION] = max(widths[_ACTION], min(prose, room))
                return _Layout(widths, digits, width)
    widths = _natural(lines, _DIGITS, two_line=True)  # the action wraps, between words
    widths[_ROLE] = min(widths[_ROLE], len("exa/manager"))  # a long role folds
    short = _ACTION_LEAST - _room(widths, width)
    if short > 0:  # a long name folds onto a second line rather than the action losing its room
        widths[_NAME] = max(len(_COLUMNS[_NAME]), widths[_NAME] - short)
    widths[_ACTION] = max(_ACTION_LEAST, min(max(widths[_ACTION], prose), _room(widths, width)))
    fits = widths[_ACTION] >= len("sha256 ") + _DIGITS  # the hash on a line of its own
    return _Layout(widths, _DIGITS if fits else _DIGITS_LEAST, width)


def _natural(lines: list[PlannedAppliance], digits: int, *, two_line: bool) -> list[int]:
    """Each column as wide as its widest cell (versions on one line, or two; refusals aside)."""
    rows = [*(_cells(line, digits) for line in lines), _COLUMNS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    kept = [line for line in lines if line.action is not Action.REFUSED]
    widths[_ACTION] = max(
        [len(_COLUMNS[_ACTION]), *(len(action_text(a, digits=digits)) for a in kept)]
    )
    widths[_ROLE] = min(widths[_ROLE], 16)  # a long role wraps rather than squeezing the action
    if two_line:  # `current ->` over `target`
        widths[_VERSION] = max(_two_line_width(row[_VERSION]) for row in rows)
    return widths


def _room(widths: list[int], width: int) -> int:
    """The columns the action may take, the others keeping theirs."""
    return width - 2 * len(_COLUMNS) - sum(widths) + widths[_ACTION]


def _two_line_width(version: str) -> int:
    """The width that shows `current → target` as `current →` over `target`."""
    current, arrow, target = version.partition(f" {ARROW} ")
    return max(len(current) + 2, len(target)) if arrow else len(version)


def _wave_table(lines: tuple[PlannedAppliance, ...], layout: _Layout) -> RenderableType:
    rows = [
        (_cells(line, layout.digits), "red" if line.action is Action.REFUSED else "")
        for line in lines
    ]
    fixed = fixed_rows(_COLUMNS, rows, layout.widths, layout.width)
    if fixed is not None:  # every cell fits: the same text, without rich's per-cell layout
        return fixed
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column, width in zip(_COLUMNS, layout.widths, strict=True):
        table.add_column(column, overflow="fold", width=width)
    for cells, style in rows:
        table.add_row(*cells, style=style)
    return table


def _bullets(lines: list[str]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for line in lines:
        grid.add_row("  -", line)
    return grid


def _cells(line: PlannedAppliance, digits: int = _DIGITS) -> tuple[str, ...]:
    return (
        f"{MARKS[line.action]} {line.name}",
        role_text(line),
        version_text(line),
        action_text(line, digits=digits),
        estimate_text(line),
    )


# --- JSON and Markdown -----------------------------------------------------------------------


def to_json(plan: Plan) -> str:
    """The plan as stable, indented JSON (the saved-plan format; see docs/planning.md)."""
    return plan.model_dump_json(indent=2)


def to_markdown(plan: Plan) -> str:
    """The plan as Markdown to paste into a change ticket."""
    out = [
        f"# Firmware upgrade plan: {_md(plan.inventory_source)}",
        "",
        f"**Status:** {status_line(plan)}",
        "",
        summary_line(plan) + ".",
        "",
        f"Planned from {_md(source_line(plan))}; downgrades "
        + ("allowed." if plan.allow_downgrade else "refused."),
    ]
    for number, wave in enumerate(plan.waves, start=1):
        out.extend(["", f"## {number}. {wave.kind} ({format_duration(wave.estimate)})", ""])
        out.extend(_md_wave(wave.appliances))
    if plan.unplaced:
        out.extend(["", "## Unplaced (refused before a wave was known)", ""])
        out.extend(_md_wave(plan.unplaced))
    for title, lines in _sections(plan):
        out.extend(["", f"## {title}", ""])
        out.extend([f"- {_md(line)}" for line in lines] or ["None."])
    return "\n".join(out) + "\n"


def _md_wave(lines: tuple[PlannedAppliance, ...]) -> list[str]:
    """A wave's table of what changes, then its skipped appliances on one line."""
    shown = [line for line in lines if line.action is not Action.SKIP]
    out = _md_rows(shown) if shown else []
    skipped = skipped_line(lines)
    if skipped is not None:
        out.extend(["", f"{MARKS[Action.SKIP]} {_md(skipped)}"] if out else [_md(skipped)])
    return out or ["No appliances in this wave."]


def _md_rows(lines: list[PlannedAppliance]) -> list[str]:
    columns = ("", "Appliance", *_COLUMNS[1:])  # the mark in a column of its own
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for line in lines:
        cells = (MARKS[line.action], line.name, *_cells(line)[1:])
        rows.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return rows
