"""The timeline's geometry: one scale for every row, legible ticks, marks placed or named."""

from __future__ import annotations

import itertools

import pytest

from orchestrator.report.timeline import CHART_WIDTH, LABEL_WIDTH, MIN_BOX, Lane, Mark, Span, layout


def lanes(*ends: float) -> list[Lane]:
    return [Lane(f"a{i}", "", "done", (Span(0.0, end, "job"),)) for i, end in enumerate(ends)]


@pytest.mark.parametrize("length", [3.0, 59.0, 600.0, 3 * 3600.0, 30 * 3600.0])
def test_ticks_are_round_times_and_never_crowd(length: float) -> None:
    """Between a few seconds and a day: at most eleven ticks, evenly spaced, from the start."""
    picture = layout(lanes(length), [], label=lambda s: f"{s:g}")
    times = [float(t.label) for t in picture.ticks]
    assert times[0] == 0
    assert 2 <= len(times) <= 11
    assert len({round(b - a, 6) for a, b in itertools.pairwise(times)}) == 1


def test_the_longest_row_fills_the_chart_and_a_short_step_still_shows() -> None:
    """Rows share one scale; the longest ends near the right edge; a blink is 2 px wide."""
    picture = layout(lanes(3600.0, 0.001), [], label=str)
    long, blink = (row.boxes[0] for row in picture.rows)
    assert long.x == LABEL_WIDTH
    assert CHART_WIDTH * 0.95 < long.width <= CHART_WIDTH
    assert blink.width == MIN_BOX


def test_a_window_end_soon_after_stretches_the_scale_and_is_drawn() -> None:
    """A window ending within three times the run's length is drawn where it falls."""
    picture = layout(lanes(100.0), [Mark(250.0, "window ends 05:30", "window")], label=str)
    (line,) = picture.lines
    assert line.kind == "window"
    assert LABEL_WIDTH + CHART_WIDTH * 0.9 < line.x <= LABEL_WIDTH + CHART_WIDTH
    assert picture.beyond == ()


def test_a_window_end_far_after_is_named_beyond_the_scale() -> None:
    """A window hours after a run of minutes would squash the picture: it is named instead."""
    picture = layout(lanes(100.0), [Mark(3600.0, "window ends 05:30", "window")], label=str)
    assert picture.lines == ()
    assert picture.beyond == ("window ends 05:30 (beyond this scale)",)
    assert picture.rows[0].boxes[0].width > CHART_WIDTH * 0.9


def test_neighbouring_stage_labels_alternate_heights() -> None:
    """Two stages close together keep their labels apart."""
    marks = [Mark(0.0, "command", "stage"), Mark(1.0, "discover", "stage")]
    first, second = layout(lanes(100.0), marks, label=str).lines
    assert first.label_y != second.label_y
