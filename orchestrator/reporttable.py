"""A run's report as the terminal table printed at the end of `apply`, `resume` and `status`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.models import Outcome
from orchestrator.report import (
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
    from rich.console import RenderableType

    from orchestrator.models import ApplianceResult, RunReport

__all__ = ["render_table"]

# Outcomes a brief table leaves out: nothing to act on.
_UNREMARKABLE = frozenset({Outcome.DONE, Outcome.SKIPPED})
_ERROR_WIDTH = 80  # characters of an error shown in the terminal table
_FAILURE_WIDTH = 300  # characters of a failure's error spelled out under the table


def _version_cell(result: ApplianceResult) -> Text:
    """`9.3.0 → 9.9.1`; the target dimmed when it was not (yet) reached."""
    before = result.version_before or "?"
    if result.version_after:
        if result.version_after == result.version_before:
            return Text(before)
        return Text(f"{before} → {result.version_after}")
    if result.target_version and result.target_version != result.version_before:
        return Text.assemble(f"{before} → ", (result.target_version, "dim"))
    return Text(before)


def _error_cell(result: ApplianceResult) -> Text:
    """The error on one line, cut with an ellipsis to the room the table leaves it."""
    text = truncate(own_error(result), _ERROR_WIDTH) if result.error else ""
    return Text(text, style="dim", no_wrap=True, overflow="ellipsis")


def _table_row(result: ApplianceResult) -> tuple[Text | str, ...]:
    """One appliance as table cells."""
    return (  # Text, not str: names and errors come from files and appliances, not markup
        Text(result.name),
        result.role.value if result.role else "-",
        Text(result.wave or "-"),
        _version_cell(result),
        Text(result.outcome.value, style=OUTCOME_STYLES.get(result.outcome, "cyan")),
        format_duration(result.duration),
        _error_cell(result),
    )


def render_table(report: RunReport, *, brief_above: int | None = None) -> RenderableType:
    """The run as a rich table, the summary line and the ingest actions; readable at 100 columns.

    With more than `brief_above` appliances, the table lists only those that need attention
    (not done or skipped) and says how many it leaves out: a thousand rows scrolling past
    hide what matters, and the JSON and Markdown reports and `orchestrator status` list all.
    """
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    table = Table(
        title=Text(f"run {report.run_id} — {run_status(report.exit_code)} in {duration}"),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
        collapse_padding=True,
    )
    for header in ("appliance", "role", "wave"):
        table.add_column(header, no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    # One line per appliance: the error is cut to the room left; JSON and Markdown keep it whole.
    table.add_column("error", min_width=8)
    shown = report.results
    if brief_above is not None and len(shown) > brief_above:
        shown = tuple(r for r in shown if r.outcome not in _UNREMARKABLE)
    for result in shown:
        table.add_row(*_table_row(result))
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
        lines.append(Text(ingest_sentence(cluster, actions), style="bold red" if warn else ""))
    return Group(*lines)
