"""A run's timeline: one row per appliance with its steps, each cluster's ingest off, the window.

From the RunReport alone: the steps' journalled times (`ApplianceResult.steps`), the waves'
starts (stage boundaries), the ingest actions, and the window the run was given.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.core.models import Outcome
from orchestrator.core.text import format_duration
from orchestrator.report.timeline import Lane, Mark, Span, layout
from orchestrator.report.words import PROBLEM_OUTCOMES, cluster_ingest, own_error, truncate

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.core.models import ApplianceResult, RunReport, StepSpan
    from orchestrator.report.ingeststate import ClusterIngest
    from orchestrator.report.timeline import Picture

__all__ = ["run_timeline", "wave_starts"]

_NOTE_WIDTH = 60  # characters of an error written beside its row


def run_timeline(report: RunReport) -> Picture:
    """The picture of `report`: a step with no recorded end (a run killed in it) reaches the end."""
    start = report.started_at
    end = report.finished_at

    def at(moment: dt.datetime) -> float:
        return (moment - start).total_seconds()

    clusters = cluster_ingest(report)
    shades = {c.cluster: _off_spans(c, at, end) for c in clusters}
    lanes = [_lane(r, at, end, shades.get(r.cluster or "", ())) for r in report.results]
    lanes += [_ingest_lane(c, at, end) for c in clusters]
    marks = _stage_marks(report, at)
    if report.window_end is not None:
        window = f"window ends {_clock(report.window_end)}"
        marks.append(Mark(at(report.window_end), window, "window"))
    short = at(end) < 600  # noqa: PLR2004 - under ten minutes: ticks with seconds
    return layout(lanes, marks, label=lambda s: _clock(start, s, seconds=short))


def _clock(moment: dt.datetime, plus: float = 0.0, *, seconds: bool = False) -> str:
    """`22:04` (or `22:04:13`) local time, `plus` seconds after `moment`."""
    local = (moment + dt.timedelta(seconds=plus)).astimezone()
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


def _step_span(
    name: str, step: StepSpan, at: Callable[[dt.datetime], float], end: dt.datetime
) -> Span:
    finish = step.finished_at or end
    how = "no end recorded" if step.result == "open" else step.result
    title = (
        f"{name}: {step.step} {_clock(step.started_at, seconds=True)} to "
        f"{_clock(finish, seconds=True)} ({format_duration(step.duration)}, {how})"
    )
    return Span(at(step.started_at), at(finish), step.step, step.result, title)


def _lane(
    result: ApplianceResult,
    at: Callable[[dt.datetime], float],
    end: dt.datetime,
    shade: tuple[Span, ...],
) -> Lane:
    spans = tuple(_step_span(result.name, step, at, end) for step in result.steps)
    return Lane(
        name=result.name,
        detail=f"{result.wave or '-'} · {result.outcome.value}",
        css=result.outcome.value,
        spans=spans,
        note=_note(result),
        shade=shade,
    )


def _note(result: ApplianceResult) -> str:
    """What the row says after its steps: a problem and why, skipped, done with its time."""
    if result.outcome in PROBLEM_OUTCOMES:
        return truncate(f"{result.outcome.value}: {own_error(result)}", _NOTE_WIDTH)
    if result.outcome is Outcome.SKIPPED:
        return "skipped: already at the target"
    if result.outcome is Outcome.DONE:
        return f"done {format_duration(result.duration)}"
    return result.outcome.value  # a run cut short: the state it was in


def _off_spans(
    cluster: ClusterIngest, at: Callable[[dt.datetime], float], end: dt.datetime
) -> tuple[Span, ...]:
    """The cluster's ingest-off stretches, drawn behind its nodes' rows."""
    return tuple(
        Span(at(s.start), at(s.end or end), "ingest-off", "done", "") for s in cluster.spans
    )


def _ingest_lane(
    cluster: ClusterIngest, at: Callable[[dt.datetime], float], end: dt.datetime
) -> Lane:
    """The cluster's own row: when the run had its ingest off."""
    if cluster.state == "kept_off":
        title = f"ingest on {cluster.cluster} was found disabled and kept off"
        kept = (Span(0.0, at(end), "ingest-kept", "done", title),)
        return Lane(f"ingest {cluster.cluster}", title, "ingest", kept, "found off; kept off")
    spans = tuple(
        Span(
            at(s.start),
            at(s.end or end),
            "ingest-off" if s.end else "ingest-disabled",
            "done" if s.end else "open",
            f"ingest on {cluster.cluster} off {_clock(s.start, seconds=True)} to "
            f"{_clock(s.end, seconds=True) if s.end else 'not re-enabled'} "
            f"({format_duration(s.seconds(end))})",
        )
        for s in cluster.spans
    )
    off = format_duration(cluster.off_seconds(end))
    note = f"STILL DISABLED (off {off})" if cluster.state == "disabled" else f"off {off}"
    detail = f"Explore cluster {cluster.cluster}: ingest {cluster.state.replace('_', ' ')}"
    return Lane(f"ingest {cluster.cluster}", detail, "ingest", spans, note)


def wave_starts(report: RunReport) -> dict[str, dt.datetime]:
    """When each wave began: its first appliance that took a step or was found current.

    A wave blocked, deferred or cancelled as a whole never began.
    """
    starts: dict[str, dt.datetime] = {}
    for result in report.results:
        began = result.steps[0].started_at if result.steps else None
        if began is None and result.outcome in {Outcome.SKIPPED, Outcome.DONE}:
            began = result.started_at
        if result.wave is None or began is None:
            continue
        first = starts.get(result.wave)
        starts[result.wave] = min(first, began) if first else began
    return dict(sorted(starts.items(), key=lambda item: item[1]))


def _stage_marks(report: RunReport, at: Callable[[dt.datetime], float]) -> list[Mark]:
    """A line where each wave began."""
    return [
        Mark(at(moment), wave, "stage", f"{wave} began {_clock(moment, seconds=True)}")
        for wave, moment in wave_starts(report).items()
    ]
