"""A plan's projected timeline: the run as the estimates say it would go, drawn like a run.

A graph plan: each appliance starts where the plan's own dispatcher (`plan.projection.simulate`)
places it. A waves plan: each wave starts when the one before is estimated to end; within a
wave appliances fall on the planned concurrency, batch after batch, as the plan's scheduler
(`plan.schedule.batch_schedule`) places them. Either way the picture agrees with the plan's
total and with what it defers at the window's end. Time runs from the moment the plan
was made, as the plan's window fitting assumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.core.text import format_duration
from orchestrator.plan import Action
from orchestrator.plan.graph import Graph
from orchestrator.plan.projection import simulate
from orchestrator.plan.schedule import batch_schedule
from orchestrator.report.planview import action_text
from orchestrator.report.timeline import Lane, Mark, Span, layout

if TYPE_CHECKING:
    from collections.abc import Iterable

    from orchestrator.plan import IngestBracket, Plan, PlannedAppliance, Wave
    from orchestrator.report.timeline import Picture

__all__ = ["ProjectedLine", "first_starts", "plan_timeline", "projected"]


@dataclass(frozen=True)
class ProjectedLine:
    """When one appliance's steps would run, in seconds from the plan's start."""

    line: PlannedAppliance
    steps: tuple[tuple[str, float, float], ...]  # (step, start, end); none if it never starts

    @property
    def end(self) -> float:
        """When its last step would end (0 when it never starts)."""
        return self.steps[-1][2] if self.steps else 0.0


def _project(line: PlannedAppliance, start: float | None) -> ProjectedLine:
    """`line`'s estimated steps one after another from `start` (None: skipped, refused, late)."""
    if start is None:
        return ProjectedLine(line, ())
    estimate = line.estimate
    transfer = ("upload", estimate.upload) if line.action is Action.UPLOAD else ("", 0.0)
    if line.action in {Action.URL, Action.CLOUD, Action.CONSOLE}:
        transfer = ("download", estimate.download)
    steps: list[tuple[str, float, float]] = []
    moment = start
    for step, seconds in (transfer, ("job", estimate.upgrade), ("reboot", estimate.reboot)):
        if step and seconds > 0:
            steps.append((step, moment, moment + seconds))
            moment += seconds
    return ProjectedLine(line, tuple(steps))


def projected(plan: Plan) -> list[ProjectedLine]:
    """Every planned appliance, in plan order, with its projected steps."""
    if plan.schedule == "graph":
        starts = _graph_starts(plan)
        return [_project(a, starts.get(a.name)) for a in plan.appliances()]
    lines: list[ProjectedLine] = []
    offset = 0.0
    for wave in plan.waves:
        starts = _wave_starts(wave, plan.concurrency)
        lines += [
            _project(a, offset + starts[a.name] if a.name in starts else None)
            for a in wave.appliances
        ]
        offset += wave.estimate
    lines += [_project(a, None) for a in plan.unplaced]
    return lines


def _wave_starts(wave: Wave, workers: int) -> dict[str, float]:
    """When each appliance that fits the window starts, from its wave's start."""
    fitting = {a.name for a in wave.appliances if a.fits_window}
    return dict(batch_schedule(wave.batch_jobs(fitting), workers).starts)


def _graph_starts(plan: Plan) -> dict[str, float]:
    """When each appliance that fits the window starts, by the plan's own dispatcher."""
    graph = Graph.of(plan)
    budget = math.inf
    if plan.window_end is not None:
        budget = (plan.window_end - plan.created_at).total_seconds()
    fitting = {a.name for a in plan.appliances() if a.fits_window}
    schedule = simulate(graph, plan.concurrency, budget=budget)
    return {name: start for name, start in schedule.starts.items() if name in fitting}


def plan_timeline(plan: Plan) -> Picture:
    """The plan's projected timeline: stages, ingest off per cluster, the window, refusals."""
    lines = projected(plan)
    shades = {b.cluster: _bracket_span(b, lines, plan) for b in plan.ingest}
    lanes = [_lane(p, shades.get(p.line.cluster or "")) for p in lines]
    lanes += [_ingest_lane(b, shades[b.cluster]) for b in plan.ingest]
    marks = _stage_marks(plan, lines)
    if plan.window_end is not None:
        budget = (plan.window_end - plan.created_at).total_seconds()
        clock = plan.window_end.astimezone().strftime("%H:%M")
        marks.append(Mark(budget, f"window ends {clock} (+{_elapsed(budget)})", "window"))
    exact = plan.estimate < 600  # noqa: PLR2004 - under ten minutes: ticks with seconds
    return layout(lanes, marks, label=lambda s: f"+{_elapsed(s, exact=exact)}")


def _elapsed(seconds: float, *, exact: bool = False) -> str:
    """`1:05` (hours and minutes), or `0:00:30` with `exact` (a plan of a few minutes)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}" + (f":{secs:02d}" if exact else "")


def _lane(projection: ProjectedLine, shade: Span | None) -> Lane:
    line = projection.line
    spans = tuple(
        Span(
            start,
            end,
            step,
            "planned",
            f"{line.name}: {step} ~{format_duration(end - start)} "
            f"(+{_elapsed(start)} to +{_elapsed(end)})",
        )
        for step, start, end in projection.steps
    )
    return Lane(
        name=line.name,
        detail=f"{line.wave or 'no wave'} · {action_text(line)}",
        css=_css(line),
        spans=spans,
        note=_note(projection),
        shade=(shade,) if shade is not None and spans else (),
    )


def _css(line: PlannedAppliance) -> str:
    if line.action is Action.REFUSED:
        return "refused"
    if line.action is Action.SKIP:
        return "skipped"
    return "planned" if line.fits_window else "deferred"


def _note(projection: ProjectedLine) -> str:
    line = projection.line
    if line.action is Action.REFUSED:
        return f"refused: {line.reason}"
    if line.action is Action.SKIP:
        return f"skip: {line.reason}"
    if not line.fits_window:
        return f"deferred: ~{format_duration(line.estimate.total)} would overrun the window"
    return f"~{format_duration(line.estimate.total)}"


def _bracket_span(bracket: IngestBracket, lines: list[ProjectedLine], plan: Plan) -> Span | None:
    """When the cluster's ingest would be off: its first node's start to its last node's end."""
    members = [p for p in lines if p.line.name in bracket.members and p.steps]
    if bracket.halted_by_tool or (bracket.found_off and not bracket.halt):
        end = plan.estimate or 1.0
        kind = "ingest-disabled" if bracket.halted_by_tool else "ingest-kept"
        return Span(0.0, end, kind, "planned", _bracket_words(bracket))
    if not bracket.halt or not members:
        return None
    start = min(p.steps[0][1] for p in members)
    end = max(p.end for p in members)
    title = f"ingest on {bracket.cluster} off ~{format_duration(end - start)}"
    return Span(start, end, "ingest-off", "planned", title)


def _bracket_words(bracket: IngestBracket) -> str:
    if bracket.halted_by_tool:
        return (
            f"ingest on {bracket.cluster} DISABLED by an unfinished run: resume or restore-ingest"
        )
    return f"ingest on {bracket.cluster} found disabled: kept off"


def _ingest_lane(bracket: IngestBracket, span: Span | None) -> Lane:
    spans = (span,) if span is not None else ()
    if span is None:
        note = "ingest not halted (no node is upgraded)"
    elif span.kind == "ingest-off":
        note = f"off ~{format_duration(span.end - span.start)}, halted via {bracket.via}"
    else:
        note = _bracket_words(bracket)
    detail = f"Explore cluster {bracket.cluster}"
    return Lane(f"ingest {bracket.cluster}", detail, "ingest", spans, note)


def _stage_marks(plan: Plan, lines: list[ProjectedLine]) -> list[Mark]:
    """A line where each wave with work would begin."""
    if plan.schedule == "graph":
        return _graph_marks(lines)
    marks: list[Mark] = []
    offset = 0.0
    for wave in plan.waves:
        if any(a.actionable for a in wave.appliances):
            length = format_duration(wave.estimate)
            title = f"{wave.kind} would begin at +{_elapsed(offset)} (~{length})"
            marks.append(Mark(offset, str(wave.kind), "stage", title))
        offset += wave.estimate
    return marks


def first_starts(lines: Iterable[ProjectedLine]) -> dict[str, float]:
    """When each wave's first appliance would start (waves overlap in a graph plan)."""
    first: dict[str, float] = {}
    for projection in lines:
        kind = projection.line.wave
        if kind is not None and projection.steps:
            start = projection.steps[0][1]
            first[kind] = min(first.get(kind, start), start)
    return first


def _graph_marks(lines: list[ProjectedLine]) -> list[Mark]:
    """A line where each wave's first appliance would start."""
    return [
        Mark(start, str(kind), "stage", f"{kind} would begin at +{_elapsed(start)}")
        for kind, start in sorted(first_starts(lines).items(), key=lambda item: item[1])
    ]
