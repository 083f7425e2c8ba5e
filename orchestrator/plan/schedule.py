"""The one scheduler of the plan: longest-first list scheduling on `workers` parallel slots.

Estimates (how long a wave takes at the planned concurrency), window fitting (what would
end after the window closes) and the plan's projected timeline (when each appliance would
start) all come from `list_schedule`, so they can never disagree. A wave in batches is
`batch_schedule`: its batches one after another, each a list schedule.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Schedule", "batch_schedule", "list_schedule", "makespan"]


@dataclass(frozen=True)
class Schedule:
    """How a set of jobs falls on the workers."""

    makespan: float  # when the last job that starts ends
    late: frozenset[str]  # jobs that would end after the budget: never started
    starts: Mapping[str, float] = field(default_factory=dict)  # when each started job starts


def list_schedule(
    jobs: Sequence[tuple[str, float]], workers: int, *, budget: float = math.inf
) -> Schedule:
    """Schedule (name, seconds) jobs longest first, each on the first free worker.

    A job that would end after `budget` seconds is late and never started, so its worker
    stays free for the next one.
    """
    free = [0.0] * min(workers, len(jobs))
    late: set[str] = set()
    starts: dict[str, float] = {}
    for name, seconds in sorted(jobs, key=lambda job: job[1], reverse=True):
        end = free[0] + seconds
        if end > budget:
            late.add(name)
        else:
            starts[name] = heapq.heapreplace(free, end)
    return Schedule(makespan=max(free, default=0.0), late=frozenset(late), starts=starts)


def makespan(durations: Sequence[float], workers: int) -> float:
    """Length of a longest-first list schedule of `durations` on `workers` parallel workers."""
    return list_schedule([(str(i), d) for i, d in enumerate(durations)], workers).makespan


def batch_schedule(
    batches: Sequence[Sequence[tuple[str, float]]], workers: int, *, budget: float = math.inf
) -> Schedule:
    """Schedule batches one after another, each starting when the one before ends.

    Once a batch has a late job, every later batch is late too: the run defers the rest of a
    stage whose batch would not finish before the window closes.
    """
    elapsed = 0.0
    late: set[str] = set()
    starts: dict[str, float] = {}
    for batch in batches:
        if late:
            late.update(name for name, _ in batch)
            continue
        one = list_schedule(batch, workers, budget=budget - elapsed)
        starts.update({name: elapsed + start for name, start in one.starts.items()})
        late.update(one.late)
        elapsed += one.makespan
    return Schedule(makespan=elapsed, late=frozenset(late), starts=starts)
