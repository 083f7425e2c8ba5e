"""`orchestrator status` on the terminal: when and from what the run started, where its time went.

A header (the run, its dates and times, inventory, who started it, its report), one row per
appliance with each step's duration grouped under its wave, the failures spelled out, the
summary, and each Explore cluster's ingest. Nothing here prints; callers get a renderable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import Outcome
from orchestrator.core.procedure import TIMELINE_STEPS
from orchestrator.core.text import format_duration, local_time
from orchestrator.report.runtimeline import wave_starts
from orchestrator.report.table import error_cell, two_line_width, version_cell
from orchestrator.report.words import (
    OUTCOME_STYLES,
    STATUS_STYLES,
    cluster_ingest,
    ingest_by_cluster,
    ingest_sentence,
    own_error,
    summary_line,
    time_spent,
    truncate,
)

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

    from orchestrator.core.models import ApplianceResult, RunOrigin, RunReport

__all__ = ["render_status"]

_FAILURE_WIDTH = 300  # characters of a failure's error spelled out under the table
_ERROR_MIN = 8
_GAP = 2


def render_status(
    report: RunReport,
    *,
    lifecycle: str,
    now: dt.datetime | None = None,
    page: Path | None = None,
) -> RenderableType:
    """The run for `status`; `now` for a run going on (its open steps count until now)."""
    parts: list[RenderableType] = [*_header(report, lifecycle, now, page), Text("")]
    if report.results:
        parts.append(_StepsTable(report, now))
    else:
        parts.append(Text("no appliance is recorded in this run", style="dim"))
    for result in report.results:
        if result.outcome is Outcome.FAILED:
            error = truncate(own_error(result) or "no error recorded", _FAILURE_WIDTH)
            parts.append(Text.assemble((f"{result.name} failed: ", "bold red"), error))
    style = STATUS_STYLES.get(lifecycle, "")
    parts.append(Text(summary_line(report, going=now is not None), style=f"bold {style}"))
    parts += _ingest(report, now)
    return Group(*parts)


def _header(
    report: RunReport, lifecycle: str, now: dt.datetime | None, page: Path | None
) -> list[Text]:
    title = Text.assemble(
        f"run {report.run_id} — ", (lifecycle, f"bold {STATUS_STYLES.get(lifecycle, '')}")
    )
    start = local_time(report.started_at)
    if now is not None:
        when = f"{start}, going on for {format_duration(_seconds(report.started_at, now))}"
    else:
        duration = format_duration(_seconds(report.started_at, report.finished_at))
        when = f"{start}, ended {local_time(report.finished_at)} after {duration}"
    lines = [title, _field("started", when)]
    if report.window_end is not None:
        lines.append(_field("window", f"ends {local_time(report.window_end)}"))
    lines += _origin(report.origin)
    if page is not None:
        lines.append(_field("report", str(page)))
    return lines


def _field(name: str, value: str) -> Text:
    return Text.assemble((f"{name:<10}", "dim"), value)


def _origin(origin: RunOrigin | None) -> list[Text]:
    if origin is None:
        return []
    lines = []
    if origin.rolls_back:
        lines.append(_field("rollback", f"of run {origin.rolls_back}"))
    if origin.inventory:
        digest = (origin.inventory_sha256 or "")[:12]
        lines.append(_field("inventory", f"{origin.inventory} (sha256 {digest}…)"))
    if origin.plan_file:
        digest = (origin.plan_file_sha256 or "?")[:12]
        lines.append(_field("plan", f"{origin.plan_file} (sha256 {digest}…)"))
    who = "@".join(part for part in (origin.user, origin.host) if part)
    if who:
        release = f", orchestrator {origin.tool_version}" if origin.tool_version else ""
        lines.append(_field("by", who + release))
    return lines


def _seconds(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds()


def _step_cell(result: ApplianceResult, step: str, now: dt.datetime | None) -> Text:
    """The time spent in `step` (summed if it was taken twice); `…` while it goes on."""
    spans = [s for s in result.steps if s.step == step]
    if not spans:
        return Text("")
    end = now or result.finished_at
    total = sum(
        s.duration if s.duration is not None else (_seconds(s.started_at, end) if end else 0.0)
        for s in spans
    )
    last = spans[-1].result
    text = format_duration(total) + ("…" if last == "open" else "")
    if any(s.result == "failed" for s in spans):
        return Text(text, style="bold red")
    if last == "interrupted" or (last == "open" and now is None):
        return Text(text, style="yellow")
    return Text(text)


_HEADERS = ("appliance", "version", "outcome", *TIMELINE_STEPS, "total", "error")


class _StepsTable:
    """One row per appliance, grouped by wave, laid out for the width it is given.

    Too narrow for one line per appliance: versions go on two lines, then the total goes
    (the steps add up to it), then a long name folds.
    """

    def __init__(self, report: RunReport, now: dt.datetime | None) -> None:
        self.report = report
        self.now = now

    def _row(self, result: ApplianceResult) -> list[Text]:
        total = time_spent(result)
        if total is None and self.now is not None and result.steps:
            total = _seconds(result.steps[0].started_at, self.now)
        return [
            Text(result.name),
            version_cell(result),
            Text(result.outcome.value, style=OUTCOME_STYLES.get(result.outcome, "cyan")),
            *(_step_cell(result, step, self.now) for step in TIMELINE_STEPS),
            Text(format_duration(total)),
            error_cell(result),
        ]

    def _columns(self, rows: list[list[Text]], room: int) -> tuple[list[int], list[int], bool]:
        """(the columns shown, their widths, whether versions take two lines)."""
        widths = [max([len(h), *(r[i].cell_len for r in rows)]) for i, h in enumerate(_HEADERS)]
        widths[-1] = _ERROR_MIN
        keep = list(range(len(_HEADERS)))

        def width() -> int:
            return sum(widths[i] for i in keep) + _GAP * (len(keep) - 1)

        two_lines = width() > room
        if two_lines:
            version = _HEADERS.index("version")
            widths[version] = max([len("version"), *(two_line_width(r[version]) for r in rows)])
        if width() > room:
            keep.remove(_HEADERS.index("total"))
        if width() > room:
            others = width() - widths[0]
            widths[0] = max(len("appliance"), room - others)
        return keep, widths, two_lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        results = self.report.results
        rows = [self._row(result) for result in results]
        room = options.max_width
        keep, widths, two_lines = self._columns(rows, room)
        error = _HEADERS.index("error")
        others = sum(widths[i] for i in keep if i != error) + _GAP * (len(keep) - 1)
        widths[error] = max(_ERROR_MIN, min(room - others, max(r[error].cell_len for r in rows)))
        starts = wave_starts(self.report)
        waves: dict[str | None, list[list[Text]]] = {}
        for result, row in zip(results, rows, strict=True):
            waves.setdefault(result.wave, []).append(row)
        for number, (wave, members) in enumerate(waves.items()):
            yield _wave_heading(starts, wave)
            table = Table(
                box=box.SIMPLE_HEAD,
                show_header=number == 0,  # one header: the waves' tables line up under it
                pad_edge=False,
                show_edge=False,
                collapse_padding=True,
            )
            for i in keep:
                header = _HEADERS[i]
                numeric = header in TIMELINE_STEPS or header == "total"
                fold = header == "appliance" or (header == "version" and two_lines)
                table.add_column(
                    header,
                    width=widths[i],
                    justify="right" if numeric else "left",
                    overflow="fold" if fold else "ellipsis",
                    no_wrap=not fold,
                )
            for row in members:
                table.add_row(*(row[i] for i in keep))
            yield table


def _wave_heading(starts: dict[str, dt.datetime], wave: str | None) -> Text:
    """`discover · began 22:04:13`: a wave, and when its first appliance began."""
    began = starts.get(wave or "")
    when = f"began {began.astimezone():%H:%M:%S}" if began else "did not begin"
    return Text(f"{wave or 'unplaced'} · {when}", style="bold")


def _ingest(report: RunReport, now: dt.datetime | None) -> list[Text]:
    """One sentence per cluster with how long ingest was off; a cluster left off in red."""
    until = now or report.finished_at
    states = {c.cluster: c for c in cluster_ingest(report)}
    lines = []
    for cluster, actions in ingest_by_cluster(report).items():
        state = states[cluster]
        off = format_duration(state.off_seconds(until)) if state.spans else None
        if off and now is not None and state.spans[-1].end is None:
            off += " so far"
        sentence = ingest_sentence(cluster, actions, report.ingest_found_off.get(cluster), off)
        alarm = state.state == "disabled" and now is None
        lines.append(Text(sentence, style="bold red" if alarm else ""))
    return lines
