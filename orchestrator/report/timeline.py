"""The timeline picture's geometry: rows of coloured segments on a time axis.

Pure: seconds in, pixels out. The run report (`report.runtimeline`) and the plan
(`report.plantimeline`) describe their rows in seconds from their start; `layout` places them
on one scale, and the template (`templates/timeline.svg.j2`) only draws what it is given, so
the picture of a plan and of its run look alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Box", "Lane", "Line", "Mark", "Picture", "Row", "Span", "Tick", "layout"]

LABEL_WIDTH = 220  # the appliance names, left of the chart
CHART_WIDTH = 900
ROW_HEIGHT = 22
BAR_HEIGHT = 14
HEADER = 46  # stage and window labels above the rows
FOOTER = 26  # tick labels below the rows
RIGHT = 24  # room after the chart
MIN_BOX = 2.0  # the narrowest segment drawn: a step of a second in a night still shows
_STRETCH = 3.0  # a window end up to this many times the content's length stays on the scale
_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
_MAX_TICKS = 10


@dataclass(frozen=True)
class Span:
    """One coloured piece of a row, in seconds from the start."""

    start: float
    end: float
    kind: str  # upload, download, job, reboot, verify, ingest-off, ingest-disabled, ingest-kept
    state: str = "done"  # done, failed, interrupted, open (still going, or cut short)
    title: str = ""  # the tooltip


@dataclass(frozen=True)
class Lane:
    """One row: an appliance (or a cluster's ingest) and its spans."""

    name: str
    detail: str  # the tooltip of the name: wave, outcome
    css: str  # the row's class: an outcome, or `ingest`
    spans: tuple[Span, ...] = ()
    note: str = ""  # written after the last span (or at the start when there is none)
    shade: tuple[Span, ...] = ()  # behind the row: its cluster's ingest off


@dataclass(frozen=True)
class Mark:
    """A vertical line across every row: a stage boundary, or the window end."""

    at: float
    label: str
    kind: str  # stage, window
    title: str = ""


@dataclass(frozen=True)
class Box:
    """A span placed on the picture."""

    x: float
    width: float
    kind: str
    state: str
    title: str


@dataclass(frozen=True)
class Row:
    """A lane placed on the picture."""

    y: float  # the top of the row
    name: str
    detail: str
    css: str
    boxes: tuple[Box, ...]
    shades: tuple[Box, ...]
    note: str
    note_x: float
    note_anchor: str  # start, or end when the note would run off the right edge


@dataclass(frozen=True)
class Line:
    """A mark placed on the picture."""

    x: float
    label: str
    kind: str
    title: str
    label_y: float  # stage labels alternate between two heights so that neighbours stay legible


@dataclass(frozen=True)
class Tick:
    """A time on the axis."""

    x: float
    label: str


@dataclass(frozen=True)
class Picture:
    """Everything the template draws."""

    width: float
    height: float
    chart_x: float
    chart_width: float
    top: float  # of the first row
    bottom: float  # of the last row
    row_height: float
    bar_height: float
    rows: tuple[Row, ...]
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    beyond: tuple[str, ...] = field(default=())  # marks past the scale, in words


def layout(
    lanes: Sequence[Lane],
    marks: Sequence[Mark],
    *,
    label: Callable[[float], str],
) -> Picture:
    """Place `lanes` and `marks` on one time scale; `label` names a tick (seconds from start)."""
    content = max([1.0, *(s.end for lane in lanes for s in lane.spans)])
    content = max([content, *(m.at for m in marks if m.kind != "window")])
    scale = max(
        [content, *(m.at for m in marks if m.kind == "window" and m.at <= _STRETCH * content)]
    )
    scale *= 1.02  # a little room after the last segment
    x = _scaler(scale)
    top = HEADER
    rows = tuple(_row(lane, top + i * ROW_HEIGHT, x) for i, lane in enumerate(lanes))
    bottom = top + len(lanes) * ROW_HEIGHT
    shown = [m for m in marks if 0 <= m.at <= scale]
    return Picture(
        width=LABEL_WIDTH + CHART_WIDTH + RIGHT,
        height=bottom + FOOTER,
        chart_x=LABEL_WIDTH,
        chart_width=CHART_WIDTH,
        top=top,
        bottom=bottom,
        row_height=ROW_HEIGHT,
        bar_height=BAR_HEIGHT,
        rows=rows,
        lines=tuple(_line(m, i, x) for i, m in enumerate(shown)),
        ticks=tuple(Tick(x(t), label(t)) for t in _tick_times(scale)),
        beyond=tuple(f"{m.label} (beyond this scale)" for m in marks if m.at > scale),
    )


def _scaler(scale: float) -> Callable[[float], float]:
    def x(seconds: float) -> float:
        return LABEL_WIDTH + min(max(seconds, 0.0), scale) / scale * CHART_WIDTH

    return x


def _box(span: Span, x: Callable[[float], float]) -> Box:
    left = x(span.start)
    width = max(MIN_BOX, x(span.end) - left)
    return Box(round(left, 1), round(width, 1), span.kind, span.state, span.title)


def _row(lane: Lane, y: float, x: Callable[[float], float]) -> Row:
    boxes = tuple(_box(span, x) for span in lane.spans)
    after = max((b.x + b.width for b in boxes), default=float(LABEL_WIDTH)) + 4
    right_edge = LABEL_WIDTH + CHART_WIDTH
    near_edge = after + 7 * len(lane.note) > right_edge and boxes
    return Row(
        y=y,
        name=lane.name,
        detail=lane.detail,
        css=lane.css,
        boxes=boxes,
        shades=tuple(_box(span, x) for span in lane.shade),
        note=lane.note,
        note_x=round(min(b.x for b in boxes) - 4 if near_edge else after, 1),
        note_anchor="end" if near_edge else "start",
    )


def _line(mark: Mark, index: int, x: Callable[[float], float]) -> Line:
    stage_y = 16.0 if index % 2 == 0 else 30.0  # neighbouring stages' labels alternate
    label_y = stage_y if mark.kind == "stage" else 42.0
    return Line(round(x(mark.at), 1), mark.label, mark.kind, mark.title or mark.label, label_y)


def _tick_times(scale: float) -> list[float]:
    """Round times across the scale, at most about ten."""
    step = next((s for s in _NICE if scale / s <= _MAX_TICKS), None)
    if step is None:
        step = math.ceil(scale / _MAX_TICKS / 3600) * 3600
    return [i * step for i in range(int(scale // step) + 1)]
