"""A graph plan fitted to the slots and the window by the one dispatcher (`plan.graph`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from orchestrator.plan.graph import Graph, simulate

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from orchestrator.core.config import Settings
    from orchestrator.plan.model import IngestBracket, Stage, Wave

__all__ = ["deferral_note", "fit_graph"]


def fit_graph(
    waves: Sequence[Wave],
    stages: Sequence[Stage],
    brackets: Sequence[IngestBracket],
    settings: Settings,
    budget: float,
) -> tuple[list[Wave], tuple[IngestBracket, ...], float, tuple[str, ...]]:
    """The graph's schedule on the waves, brackets and window.

    The waves with what would miss the window marked, each cluster's ingest-off estimate (as
    the run would go within the window), the plan's total (all of it, window or not, so the
    plan can say how short the window is), and the window's warning (if anything is deferred).
    """
    graph = Graph.build(stages, waves, clusters_at_once=settings.clusters_at_once)
    schedule = simulate(graph, settings.concurrency, budget=budget)
    whole = schedule if budget == math.inf else simulate(graph, settings.concurrency)
    fitted = [
        wave.model_copy(
            update={
                "appliances": tuple(
                    line.model_copy(update={"fits_window": False})
                    if line.name in schedule.late and line.actionable
                    else line
                    for line in wave.appliances
                )
            }
        )
        for wave in waves
    ]
    timed = []
    for bracket in brackets:
        span = schedule.span(bracket.members) if bracket.halt else None
        off = None if span is None else span[1] - span[0]
        timed.append(bracket.model_copy(update={"off_estimate": off}))
    total = sum(1 for wave in waves for line in wave.appliances if line.actionable)
    late = sum(1 for wave in fitted for line in wave.appliances if not line.fits_window)
    note = deferral_note(late, total, settings.window_end)
    return fitted, tuple(timed), whole.makespan, note


def deferral_note(deferred: int, total: int, window_end: dt.datetime | None) -> tuple[str, ...]:
    """What the plan says when appliances would not finish before the window ends."""
    if not deferred or window_end is None:
        return ()
    return (
        (
            f"{deferred} of {total} appliances to upgrade would not finish before the window ends "
            f"at {window_end.isoformat(timespec='minutes')} and will be deferred"
        ),
    )
