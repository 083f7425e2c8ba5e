"""Render a Plan for people: a rich table for the terminal, JSON, and Markdown for a change ticket.

Nothing here prints; callers get a renderable or a string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import CloudFirmware, FileFirmware, Role, UrlFirmware
from orchestrator.core.text import ARROW, format_duration
from orchestrator.core.text import markdown as _md
from orchestrator.plan import Action, Plan, PlannedAppliance, Wave, bracket_waves

if TYPE_CHECKING:
    from rich.console import RenderableType

_WIDTH = 100  # the widest terminal the table is laid out for
_COLUMNS = ("Appliance", "Role", "Version", "Action", "Estimate")
_ROLE, _VERSION, _ACTION = 1, 2, 3
_ACTION_ROOM = 36  # below this, versions take two lines and roles wrap to give the action room
_ACTION_LEAST = 16  # below this, a long appliance name folds


def action_text(line: PlannedAppliance) -> str:
    """What apply will do: `upload FILE sha256 …`, `url URL`, `cloud V`, `skip`, `refused: why`."""
    firmware = line.firmware
    if line.action is Action.UPLOAD and isinstance(firmware, FileFirmware):
        digest = f" sha256 {line.image.sha256[:12]}" if line.image else ""
        return f"upload {firmware.file.name}{digest}"  # the JSON plan keeps the full path
    if line.action is Action.URL and isinstance(firmware, UrlFirmware):
        return f"url {firmware.url}"
    if line.action is Action.CLOUD and isinstance(firmware, CloudFirmware):
        return f"cloud {firmware.cloud_version}"
    if line.action is Action.REFUSED:
        return f"refused: {line.reason}"
    return str(line.action)


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
        first, last = bracket_waves(plan, bracket) or ("explore-managers", "explore-data")
        line = (
            f"halt ingest on cluster {bracket.cluster} via {bracket.via} before {first}; "
            f"restore after {last}"
        )
        if bracket.found_off:
            line += " (found disabled: enabled after, as chosen)"
        elif bracket.was_enabled is None:
            line += " (ingest state not observed)"
        lines.append(line)
    return lines


def summary_line(plan: Plan) -> str:
    """Counts, the total estimate, the concurrency and the window in one sentence."""
    lines = list(plan.appliances())
    upgrade = sum(1 for line in lines if line.actionable)
    skipped = sum(1 for line in lines if line.action is Action.SKIP)
    refused = sum(1 for line in lines if line.action is Action.REFUSED)
    text = (
        f"{len(lines)} appliances: {upgrade} to upgrade, {skipped} skipped, {refused} refused; "
        f"estimate {format_duration(plan.estimate)} at concurrency {plan.concurrency}"
    )
    if plan.window_end is not None:
        late = sum(1 for line in lines if line.actionable and not line.fits_window)
        text += f"; window ends {plan.window_end.isoformat(timespec='minutes')}"
        text += f", {late} deferred" if late else ", everything fits"
    return text


def status_line(plan: Plan) -> str:
    """Whether apply will accept the plan."""
    if plan.refused:
        return "REFUSED: apply will not run this plan until the refusals below are resolved"
    return "ready to apply"


def source_line(plan: Plan) -> str:
    """Where the plan came from and when."""
    mode = "offline" if plan.offline else "online"
    when = plan.created_at.isoformat(timespec="seconds")
    return (
        f"inventory {plan.inventory_source} (sha256 {plan.inventory_sha256[:12]}), {mode}, {when}"
    )


def _sections(plan: Plan) -> list[tuple[str, list[str]]]:
    refused = [
        f"{line.name}: {line.reason}"
        for line in plan.appliances()
        if line.reason and line.action is Action.REFUSED
    ]
    return [
        ("Ingest", ingest_lines(plan)),
        ("Warnings", list(plan.warnings)),
        ("Refusals", [*plan.refusals, *refused]),
    ]


# --- terminal --------------------------------------------------------------------------------


def render_table(plan: Plan, *, width: int = _WIDTH) -> RenderableType:
    """The plan as a rich renderable, laid out for `width` columns (at most 100)."""
    widths = _widths(list(plan.appliances()), min(width, _WIDTH))
    parts: list[RenderableType] = [
        Text(f"Upgrade plan: {status_line(plan)}", style="bold red" if plan.refused else "bold"),
        Text(source_line(plan), style="dim"),
    ]
    for number, wave in enumerate(plan.waves, start=1):
        heading = f"\n{number}. {wave.kind} ({format_duration(wave.estimate)})"
        parts.append(Text(heading, style="bold"))
        parts.append(_wave_table(wave.appliances, widths) if wave.appliances else Text("   none"))
    if plan.unplaced:
        parts.append(Text("\nunplaced (refused before a wave was known)", style="bold"))
        parts.append(_wave_table(plan.unplaced, widths))
    for title, lines in _sections(plan):
        if lines:
            parts.extend([Text(f"\n{title}", style="bold"), _bullets(lines)])
    parts.append(Text(f"\nTotal: {summary_line(plan)}", style="bold"))
    return Group(*parts)


def _widths(lines: list[PlannedAppliance], width: int) -> list[int]:
    """Column widths shared by every wave's table so that they line up in `width` columns."""
    rows = [*(_cells(line) for line in lines), _COLUMNS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    widths[_ROLE] = min(widths[_ROLE], 16)  # a long role wraps rather than squeezing the action

    def room() -> int:
        return width - 2 * len(_COLUMNS) - sum(widths) + widths[_ACTION]

    if room() < min(widths[_ACTION], _ACTION_ROOM):
        # A narrow terminal: `current ->` over `target`, and a long role folds.
        widths[_VERSION] = max(_two_line_width(row[_VERSION]) for row in rows)
        widths[_ROLE] = min(widths[_ROLE], len("exa/manager"))
    short = _ACTION_LEAST - room()
    if short > 0:  # a long name folds onto a second line rather than the action losing its room
        widths[0] = max(len(_COLUMNS[0]), widths[0] - short)
    widths[_ACTION] = max(_ACTION_LEAST, min(widths[_ACTION], room()))
    return widths


def _two_line_width(version: str) -> int:
    """The width that shows `current → target` as `current →` over `target`."""
    current, arrow, target = version.partition(f" {ARROW} ")
    return max(len(current) + 2, len(target)) if arrow else len(version)


def _wave_table(lines: tuple[PlannedAppliance, ...], widths: list[int]) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column, width in zip(_COLUMNS, widths, strict=True):
        table.add_column(column, overflow="fold", width=width)
    for line in lines:
        style = "red" if line.action is Action.REFUSED else ("dim" if not line.actionable else "")
        table.add_row(*_cells(line), style=style)
    return table


def _bullets(lines: list[str]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for line in lines:
        grid.add_row("  -", line)
    return grid


def _cells(line: PlannedAppliance) -> tuple[str, ...]:
    return (line.name, role_text(line), version_text(line), action_text(line), estimate_text(line))


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
        out.extend(_md_table(wave))
    if plan.unplaced:
        out.extend(["", "## Unplaced (refused before a wave was known)", ""])
        out.extend(_md_rows(plan.unplaced))
    for title, lines in _sections(plan):
        out.extend(["", f"## {title}", ""])
        out.extend([f"- {_md(line)}" for line in lines] or ["None."])
    return "\n".join(out) + "\n"


def _md_table(wave: Wave) -> list[str]:
    return _md_rows(wave.appliances) if wave.appliances else ["No appliances in this wave."]


def _md_rows(lines: tuple[PlannedAppliance, ...]) -> list[str]:
    rows = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    rows.extend("| " + " | ".join(_md(cell) for cell in _cells(line)) + " |" for line in lines)
    return rows
