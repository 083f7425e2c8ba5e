"""Lower bounds on a run, computed from its saved plan (pure; not the planner's own simulate).

Every appliance upgraded holds one of the plan's `concurrency` slots for at least `d` (the
benchmark's true job + restart: the same for every appliance), whatever the estimates said.

- **Graph bound** (issue 15): max(longest chain * d, total work / slots). The longest chain
  counts the appliances on the longest path of prerequisites through the plan's `stages`
  (a stage's members all wait for every member of its `after_stages` and for each appliance of
  its `after`: command → discover → managers → data is 4).
- **Staged bound**: tighter, still a bound. A stage cannot start before its ancestors (every
  stage it waits for, transitively) have all ended: e(s) ≥ e(p) + d for each stage p it waits
  for, and e(s) ≥ ceil(n_anc / c) * d for the n_anc appliances of its ancestors on c slots.
  Every appliance of a stage with e(s) ≥ x starts at x or later, so the run cannot end before
  x + ceil(n(x) / c) * d; the bound is the largest over x ∈ {e(s)} (x = 0: ceil(N / c) * d).
  With 10 Command appliances and 50 slots it sees the 40 slots no work can use at first. And
  a stage whose longest chain of waiters (itself included) is L appliances must end (L - 1) * d
  before the run does: the bound is the largest x + ceil(n(x, L) / c) * d + (L - 1) * d over
  x and L, n(x, L) the appliances of the stages with e(s) ≥ x and a chain of L or more.
- **Waves bound** (a waves plan): Σ over waves of ceil(n / c) * d.
- **A cluster's ingest-off bound**: its managers' stage plus its data nodes' stage at the slots
  it could have: ceil(m / c) * d + ceil(k / c) * d.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

_NOT_UPGRADED = frozenset({"skip", "refused"})


def upgraded(plan: dict[str, Any]) -> dict[str, str]:
    """Each appliance the plan upgrades, by name, with its wave."""
    return {
        line["name"]: wave["kind"]
        for wave in plan["waves"]
        for line in wave["appliances"]
        if line["action"] not in _NOT_UPGRADED
    }


def waves_bound(plan: dict[str, Any], d: float) -> float:
    """Waves one after another: Σ ceil(n / c) · d."""
    c: int = plan["concurrency"]
    return sum(math.ceil(n / c) * d for n in Counter(upgraded(plan).values()).values())


@dataclass(frozen=True)
class GraphBound:
    """The graph's bounds, in seconds, and what they are made of."""

    chain_appliances: int  # the longest chain of prerequisites, in appliances
    chain_seconds: float
    work_seconds: float  # total work / slots
    bound_seconds: float  # max of the two (issue 15's bound)
    staged_seconds: float  # the tighter staged bound (module docstring)


def _stage_graph(plan: dict[str, Any]) -> tuple[list[int], list[set[int]]]:
    """Per stage: how many it upgrades, and the stages it waits for directly."""
    todo = upgraded(plan)
    stage_of = {name: i for i, stage in enumerate(plan["stages"]) for name in stage["members"]}
    sizes = [sum(name in todo for name in stage["members"]) for stage in plan["stages"]]
    index = {stage["name"]: i for i, stage in enumerate(plan["stages"])}
    waits = [
        {stage_of[name] for name in stage["after"] if name in todo and name in stage_of}
        | {index[name] for name in stage.get("after_stages", ()) if name in index}
        for stage in plan["stages"]
    ]
    return sizes, waits


def _order(waits: list[set[int]]) -> list[int]:
    """Stages in an order where each follows what it waits for (the file is not trusted)."""
    done: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i not in seen:
            seen.add(i)
            for p in sorted(waits[i]):
                visit(p)
            done.append(i)

    for i in range(len(waits)):
        visit(i)
    return done


def _heads(
    sizes: list[int], waits: list[set[int]], c: int, d: float
) -> tuple[list[int], list[float]]:
    """Per stage: the longest chain ending with it (appliances), and its earliest start e(s)."""
    chain, earliest = [0] * len(sizes), [0.0] * len(sizes)
    ancestors: list[set[int]] = [set() for _ in sizes]
    for i in _order(waits):
        # A stage with nothing to upgrade takes no time and lengthens no chain.
        chain[i] = min(sizes[i], 1) + max((chain[p] for p in waits[i]), default=0)
        ancestors[i] = set().union(*(ancestors[p] | {p} for p in waits[i]))
        before = sum(sizes[a] for a in ancestors[i])
        after_chain = max((earliest[p] + d * min(sizes[p], 1) for p in waits[i]), default=0.0)
        earliest[i] = max(after_chain, math.ceil(before / c) * d)
    return chain, earliest


def _tails(sizes: list[int], waits: list[set[int]]) -> list[int]:
    """Per stage: the longest chain starting with it, in appliances."""
    tail = [0] * len(sizes)
    for i in reversed(_order(waits)):
        tail[i] += min(sizes[i], 1)
        for p in waits[i]:
            tail[p] = max(tail[p], tail[i])
    return tail


def _staged(sizes: list[int], earliest: list[float], tail: list[int], c: int, d: float) -> float:
    """The largest x + ceil(n / c) * d + (L - 1) * d; n: stages with e >= x and tail >= L."""

    def bound(x: float, length: int) -> float:
        n = sum(sizes[j] for j in range(len(sizes)) if earliest[j] >= x and tail[j] >= length)
        return x + math.ceil(n / c) * d + (length - 1) * d if n else 0.0

    return max((bound(x, length) for x in {*earliest, 0.0} for length in {*tail, 1}), default=0.0)


def graph_bound(plan: dict[str, Any], d: float) -> GraphBound:
    """The graph plan's bounds for appliances of `d` seconds each on its slots."""
    c: int = plan["concurrency"]
    sizes, waits = _stage_graph(plan)
    chain, earliest = _heads(sizes, waits, c, d)
    longest = max(chain, default=0)
    work = sum(sizes) * d / c
    return GraphBound(
        chain_appliances=longest,
        chain_seconds=longest * d,
        work_seconds=work,
        bound_seconds=max(longest * d, work),
        staged_seconds=_staged(sizes, earliest, _tails(sizes, waits), c, d),
    )


def cluster_bounds(plan: dict[str, Any], d: float) -> dict[str, float]:
    """Each halted cluster's ingest-off bound: its managers' stage, then its data nodes'."""
    c = plan["concurrency"]
    todo = upgraded(plan)
    found = {}
    for bracket in plan["ingest"]:
        if not bracket["halt"]:
            continue
        kinds = Counter(todo[name] for name in bracket["members"] if name in todo)
        rounds = [math.ceil(n / c) for n in kinds.values()]
        found[bracket["cluster"]] = sum(rounds) * d
    return found
