"""The dispatcher run on the estimates: how a graph plan would fall on its slots.

The plan's total, each cluster's ingest-off estimate, the window fitting and the projected
timeline all come from `simulate`, which runs the run's own `Dispatcher` (`plan.graph`) on a
clock of its own, every appliance taking its estimate.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.plan.graph import Dispatcher

if TYPE_CHECKING:
    from collections.abc import Iterable

    from orchestrator.plan.graph import Graph

__all__ = ["GraphSchedule", "simulate"]


@dataclass(frozen=True)
class GraphSchedule:
    """How the graph falls on the slots if every estimate is right."""

    makespan: float
    late: frozenset[str]  # would end after the budget, or waits for one that would
    starts: dict[str, float]
    ends: dict[str, float]

    def span(self, names: Iterable[str]) -> tuple[float, float] | None:
        """From the first start to the last end of `names` (None: none of them starts)."""
        started = [(self.starts[n], self.ends[n]) for n in names if n in self.starts]
        if not started:
            return None
        return min(s for s, _ in started), max(e for _, e in started)


def simulate(graph: Graph, workers: int, *, budget: float = math.inf) -> GraphSchedule:
    """Run the dispatcher on the estimates with `workers` slots.

    Like the run: an appliance that would end after `budget` seconds is deferred when it
    would start (its slot stays free), and so is everything that waits for it.
    """
    now = 0.0
    dispatcher = Dispatcher(graph, clock=lambda: now)
    dispatcher.settle(graph.settled.items())
    late = set(dispatcher.lost)
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    running: list[tuple[float, int, str]] = []
    while True:
        while len(running) < workers and (name := dispatcher.pop()) is not None:
            seconds = graph.seconds[name]
            if now + seconds > budget:
                late.add(name)
                late.update(lost for lost, _ in dispatcher.finish(name, ok=False))
                continue
            starts[name] = now
            heapq.heappush(running, (now + seconds, len(starts), name))
        if not running:
            break
        now, _, name = heapq.heappop(running)
        ends[name] = now
        dispatcher.finish(name, ok=True)
    return GraphSchedule(
        makespan=max(ends.values(), default=0.0),
        late=frozenset(late - set(graph.settled)),
        starts=starts,
        ends=ends,
    )
