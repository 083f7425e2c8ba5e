"""A run's report as the terminal table printed at the end of `apply`, `resume` and `status`."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import Outcome
from orchestrator.report.document import (
    OUTCOME_STYLES,
    STATUS_STYLES,
    format_duration,
    ingest_by_cluster,
    ingest_left_disabled,
    ingest_sentence,
    own_error,
    run_status,
    summary_line,
    truncate,
)

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult

    from orchestrator.core.models import ApplianceResult, RunReport

__all__ = ["error_cell", "render_table", "two_line_width", "version_cell"]

# Outcomes a brief table leaves out: nothing to act on.
_UNREMARKABLE = frozenset({Outcome.DONE, Outcome.SKIPPED})
_ERROR_WIDTH = 80  # characters of an error shown in the terminal table
_FAILURE_WIDTH = 300  # characters of a failure's error spelled out under the table


def version_cell(result: ApplianceResult) -> Text:
    """`9.3.0 → 9.9.1`; the target dimmed when it was not (yet) reached."""
    before = result.version_before or "?"
    if result.version_after:
        if result.version_after == result.version_before:
            return Text(before)
        return Text(f"{before} → {result.version_after}")
    if result.target_version and result.target_version != result.version_before:
        return Text.assemble(f"{before} → ", (result.target_version, "dim"))
    return Text(before)


def error_cell(result: ApplianceResult) -> Text:
    """The error on one line, cut with an ellipsis to the room the table leaves it."""
    text = truncate(own_error(result), _ERROR_WIDTH) if result.error else ""
    return Text(text, style="dim", no_wrap=True, overflow="ellipsis")


_HEADERS = ("appliance", "role", "wave", "version", "outcome", "duration", "error")
_ERROR_MIN = 8  # the error column's least width; the JSON and Markdown reports keep it whole
_GAP = 2  # between two columns


def _table_row(result: ApplianceResult) -> tuple[Text, ...]:
    """One appliance as table cells."""
    return (  # Text, not str: names and errors come from files and appliances, not markup
        Text(result.name),
        Text(result.role.value if result.role else "-"),
        Text(result.wave or "-"),
        version_cell(result),
        Text(result.outcome.value, style=OUTCOME_STYLES.get(result.outcome, "cyan")),
        Text(format_duration(result.duration)),
        error_cell(result),
    )


def two_line_width(version: Text) -> int:
    """The width of `before → after` shown as `before →` over `after`."""
    before, arrow, after = version.plain.partition(" → ")
    return max(len(before) + 2, len(after)) if arrow else len(version.plain)


class _ResultsTable:
    """The per-appliance table, laid out for the width it is given.

    Wide enough, one line per appliance. On a narrow terminal (80 columns) the role column
    goes (the wave names it) and a version shows as `before →` over `after`, never cut.
    """

    def __init__(self, title: Text, rows: list[tuple[Text, ...]]) -> None:
        self.title = title
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [
            max([len(header), *(row[i].cell_len for row in self.rows)])
            for i, header in enumerate(_HEADERS)
        ]
        widths[-1] = _ERROR_MIN
        room = options.max_width
        wide = sum(widths) + _GAP * (len(_HEADERS) - 1) <= room
        keep = [i for i, header in enumerate(_HEADERS) if wide or header != "role"]
        if not wide:
            version = _HEADERS.index("version")
            two_lines = (two_line_width(row[version]) for row in self.rows)
            widths[version] = max([len("version"), *two_lines])
            # A name longer than the room left folds onto a second line.
            others = sum(widths[i] for i in keep[1:]) + _GAP * (len(keep) - 1)
            widths[0] = max(len("appliance"), min(widths[0], room - others))
        table = Table(
            title=self.title,
            box=box.SIMPLE_HEAD,
            title_justify="left",
            title_style="bold",
            pad_edge=False,
            show_edge=False,
            collapse_padding=True,
        )
        for i in keep:
            header = _HEADERS[i]
            if header == "error":  # one line, cut to the room left
                table.add_column(header, min_width=_ERROR_MIN)
            elif header in {"appliance", "version"} and not wide:
                table.add_column(header, width=widths[i], overflow="fold")
            else:
                justify: JustifyMethod = "right" if header == "duration" else "left"
                table.add_column(header, no_wrap=True, justify=justify)
        for row in self.rows:
            table.add_row(*(row[i] for i in keep))
        yield table


def render_table(report: RunReport, *, brief_above: int | None = None) -> RenderableType:
    """The run as a rich table, the summary line and the ingest actions; fits 80 columns.

    With more than `brief_above` appliances, the table lists only those that need attention
    (not done or skipped) and says how many it leaves out: a thousand rows scrolling past
    hide what matters, and the JSON and Markdown reports and `orchestrator status` list all.
    """
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    title = Text(f"run {report.run_id} — {run_status(report.exit_code)} in {duration}")
    shown = report.results
    if brief_above is not None and len(shown) > brief_above:
        shown = tuple(r for r in shown if r.outcome not in _UNREMARKABLE)
    table = _ResultsTable(title, [_table_row(result) for result in shown])
    lines: list[RenderableType] = [table]
    if len(shown) < len(report.results):
        left_out = len(report.results) - len(shown)
        lines.append(
            Text(
                f"{left_out} of {len(report.results)} appliances (done or skipped) not listed: "
                "the JSON and Markdown reports and `orchestrator status` list every one",
                style="dim",
            )
        )
    style = STATUS_STYLES[run_status(report.exit_code)]
    # The table cuts errors to fit; a failure is what the engineer acts on, so spell it out.
    for result in report.results:
        if result.outcome is Outcome.FAILED:
            error = truncate(own_error(result) or "no error recorded", _FAILURE_WIDTH)
            lines.append(Text.assemble((f"{result.name} failed: ", "bold red"), error))
    lines.append(Text(summary_line(report), style=f"bold {style}"))
    for cluster, actions in ingest_by_cluster(report).items():
        warn = ingest_left_disabled(actions)
        sentence = ingest_sentence(cluster, actions, report.ingest_found_off.get(cluster))
        lines.append(Text(sentence, style="bold red" if warn else ""))
    if report.backups:
        folder = PurePath(report.backups[0].path).parent
        appliances = len({backup.appliance for backup in report.backups})
        lines.append(Text(f"backups of {appliances} appliances in {folder}"))
    return Group(*lines)
