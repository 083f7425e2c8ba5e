"""A graph plan fitted to the slots and the window by the one dispatcher (`plan.graph`).

When Explore clusters may start (`Plan.cluster_starts`) is chosen here, by running the
dispatcher on the estimates with each choice: the shortest run, and among the choices within
`_SAME_LENGTH` of it, the shortest mean ingest-off (then the simplest: "ready" first). An
operator's `cluster_starts` is the choice made; with a `clusters_at_once` limit and no
`cluster_starts`, clusters start when ready (under the limit).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from orchestrator.plan.graph import Graph
from orchestrator.plan.model import ClusterStarts
from orchestrator.plan.projection import GraphSchedule, simulate

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from orchestrator.core.config import Settings
    from orchestrator.plan.model import IngestBracket, Stage, Wave

__all__ = ["GraphFit", "deferral_note", "fit_graph"]

_SAME_LENGTH = 0.01  # runs within 1% of the shortest count as equally long


@dataclass(frozen=True)
class GraphFit:
    """A graph plan's schedule: the waves marked for the window, estimates, the choice made."""

    waves: list[Wave]
    brackets: tuple[IngestBracket, ...]  # each with its ingest-off estimate
    estimate: float  # the whole run's, window or not
    warnings: tuple[str, ...]  # the window's, if anything is deferred
    cluster_starts: ClusterStarts


def fit_graph(
    waves: Sequence[Wave],
    stages: Sequence[Stage],
    brackets: Sequence[IngestBracket],
    settings: Settings,
    budget: float,
) -> GraphFit:
    """The graph's schedule on the waves, brackets and window.

    The waves with what would miss the window marked, each cluster's ingest-off estimate (as
    the run would go within the window), the plan's total (all of it, window or not, so the
    plan can say how short the window is), the window's warning (if anything is deferred),
    and when clusters start.
    """
    graph, whole = _chosen(stages, waves, brackets, settings)
    schedule = whole if budget == math.inf else simulate(graph, settings.concurrency, budget=budget)
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
    return GraphFit(fitted, tuple(timed), whole.makespan, note, graph.cluster_starts)


def _chosen(
    stages: Sequence[Stage],
    waves: Sequence[Wave],
    brackets: Sequence[IngestBracket],
    settings: Settings,
) -> tuple[Graph, GraphSchedule]:
    """The graph with the cluster starts of the shortest run, then the shortest ingest-off."""
    choices: tuple[ClusterStarts, ...] = get_args(ClusterStarts)
    if settings.cluster_starts is not None:
        choices = (settings.cluster_starts,)
    elif settings.clusters_at_once is not None or not any(b.halt for b in brackets):
        choices = ("ready",)
    tried = []
    for choice in choices:
        graph = Graph.build(
            stages,
            waves,
            clusters_at_once=settings.clusters_at_once,
            cluster_starts=choice,
            slots=settings.concurrency,
        )
        tried.append((graph, simulate(graph, settings.concurrency)))
    shortest = min(schedule.makespan for _, schedule in tried)
    return min(
        (t for t in tried if t[1].makespan <= shortest * (1 + _SAME_LENGTH)),
        key=lambda t: _mean_off(t[1], brackets),  # min keeps the first of equals: "ready"
    )


def _mean_off(schedule: GraphSchedule, brackets: Sequence[IngestBracket]) -> float:
    """The mean estimated ingest-off of the clusters the run halts (0: none)."""
    spans = [schedule.span(b.members) for b in brackets if b.halt]
    return statistics.fmean([s[1] - s[0] for s in spans if s is not None] or [0.0])


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
