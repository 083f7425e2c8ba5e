"""The dependency graph of a plan, and the one dispatcher that both the run and the plan follow.

The vendor's rules are about versions (docs/planning.md, "The dependency graph"): Command
before everything; a Discover appliance before the Explore and Trace appliances connected to
it; within an Explore cluster, managers before data nodes. A plan with `schedule: graph` keeps
them as `Stage`s (a group of appliances and the appliances they wait for); batches add one more
edge: a stage's batch waits for the batch before it. Nothing else orders the work.

`Dispatcher` decides what starts next whenever a slot is free: an appliance whose
prerequisites are all done, a node of a cluster whose ingest is already off first, then the
longest remaining path (its own estimate plus the longest chain that waits for it), then plan
order. With `clusters_at_once` (the operator's setting), a cluster not yet started waits
while that many clusters are in progress (started, some node not ended): each cluster's
ingest-off is shorter, the run may be longer. An appliance that does not end done or skipped
loses everything that waits for it.

`simulate` runs the same dispatcher on the estimates: the plan's total, each cluster's
ingest-off estimate, the window fitting and the projected timeline all come from it.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.plan.model import Action

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    from orchestrator.plan.model import Plan, PlannedAppliance, Stage, Wave

__all__ = ["Dispatcher", "Graph", "GraphSchedule", "simulate"]


@dataclass(frozen=True)
class Graph:
    """Every appliance of a graph plan, what each waits for, and its longest remaining path."""

    names: tuple[str, ...]  # in plan order
    seconds: dict[str, float]  # estimated seconds of each appliance to upgrade (0 otherwise)
    settled: dict[str, bool]  # not upgraded: True skipped (done), False refused (lost)
    groups: tuple[tuple[str, ...], ...]  # sets of prerequisites, shared by their waiters
    waits: dict[str, tuple[int, ...]]  # appliance -> the groups it waits for
    cluster: dict[str, str]  # Explore node -> its cluster
    path: dict[str, float] = field(default_factory=dict)  # longest remaining path, seconds
    clusters_at_once: int | None = None  # Explore clusters in progress at once (None: any)

    @classmethod
    def build(
        cls, stages: Sequence[Stage], waves: Sequence[Wave], *, clusters_at_once: int | None = None
    ) -> Graph:
        """The graph of `stages` (plus batch edges from `waves`)."""
        lines = {line.name: line for wave in waves for line in wave.appliances}
        names = tuple(name for stage in stages for name in stage.members if name in lines)
        members = {stage.name: stage.members for stage in stages}
        # A group per distinct set of what is waited for: (whole stages, single appliances).
        keys: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        groups: list[tuple[str, ...]] = []
        waits: dict[str, list[int]] = {name: [] for name in names}

        def group_of(whole: tuple[str, ...], single: tuple[str, ...]) -> int:
            if (whole, single) not in keys:
                keys[whole, single] = len(groups)
                expanded = [n for stage in whole for n in members.get(stage, ())]
                groups.append(tuple(dict.fromkeys([*expanded, *single])))
            return keys[whole, single]

        for stage in stages:
            if stage.after or stage.after_stages:
                group = group_of(stage.after_stages, stage.after)
                for name in stage.members:
                    waits[name].append(group)
        for wave in waves:
            for before, batch in itertools.pairwise(wave.batch_names()):
                group = group_of((), tuple(before))
                for name in batch:
                    waits[name].append(group)
        graph = cls(
            names=names,
            seconds={n: lines[n].estimate.total if lines[n].actionable else 0.0 for n in names},
            settled={
                n: lines[n].action is not Action.REFUSED for n in names if not lines[n].actionable
            },
            groups=tuple(groups),
            waits={name: tuple(ids) for name, ids in waits.items()},
            cluster=_clusters(lines[n] for n in names),
            clusters_at_once=clusters_at_once,
        )
        graph.path.update(_longest_paths(graph))
        return graph

    @classmethod
    def of(cls, plan: Plan) -> Graph:
        """The graph a graph plan's run follows, with the plan's clusters-at-once limit."""
        return cls.build(plan.stages, plan.waves, clusters_at_once=plan.clusters_at_once)

    def waiters(self) -> list[list[str]]:
        """For each group, the appliances that wait for it."""
        result: list[list[str]] = [[] for _ in self.groups]
        for name, ids in self.waits.items():
            for group in ids:
                result[group].append(name)
        return result

    def member_of(self) -> dict[str, list[int]]:
        """For each appliance, the groups it is a prerequisite in."""
        result: dict[str, list[int]] = {}
        for index, group in enumerate(self.groups):
            for name in group:
                result.setdefault(name, []).append(index)
        return result


def _clusters(lines: Iterable[PlannedAppliance]) -> dict[str, str]:
    return {line.name: line.cluster for line in lines if line.cluster}


def _longest_paths(graph: Graph) -> dict[str, float]:
    """Each appliance's estimate plus the longest chain of appliances that wait for it."""
    order = _topological(graph)
    member_of = graph.member_of()
    path: dict[str, float] = {}
    tail: dict[int, float] = {}
    for name in reversed(order):
        after = max((tail.get(group, 0.0) for group in member_of.get(name, ())), default=0.0)
        path[name] = graph.seconds[name] + after
        for group in graph.waits[name]:
            tail[group] = max(tail.get(group, 0.0), path[name])
    return path


def _topological(graph: Graph) -> list[str]:
    """The appliances in an order where each comes after everything it waits for."""
    dispatcher = Dispatcher(graph, paths=False)
    order: list[str] = []
    while (name := dispatcher.pop()) is not None:
        order.append(name)
        dispatcher.finish(name, ok=True)
    if len(order) != len(graph.names):
        stuck = sorted(set(graph.names) - set(order))
        raise ValueError(f"the plan's stages wait for each other in a circle: {', '.join(stuck)}")
    return order


class Dispatcher:
    """Which appliance starts next, and what an appliance's failure takes with it."""

    def __init__(self, graph: Graph, *, opened: Collection[str] = (), paths: bool = True) -> None:
        self.graph = graph
        self._index = {name: i for i, name in enumerate(graph.names)}
        self._waiters = graph.waiters()
        self._member_of = graph.member_of()
        self._left = [len(group) for group in graph.groups]  # members not yet done
        self._broken: list[str | None] = [None] * len(graph.groups)  # the member that was lost
        self._pending = {name: len(ids) for name, ids in graph.waits.items()}
        self._paths = paths
        self.opened = set(opened)  # clusters with a node started: their ingest is off
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.lost: dict[str, str] = {}  # appliance -> the prerequisite it lost
        self._cold: list[tuple[float, int, str]] = []
        self._hot: list[tuple[float, int, str]] = []  # nodes of opened clusters
        # Ready nodes of clusters not opened yet, when clusters_at_once limits them.
        self._closed: list[tuple[float, int, str]] = []
        self._ready_of: dict[str, list[str]] = {}  # cluster -> its ready nodes not in `_hot`
        self._moved: set[str] = set()  # ready nodes moved to `_hot`
        # Each cluster's nodes not ended yet; a cluster opened and not ended is in progress.
        self._unended = collections.Counter(graph.cluster.values())
        self.in_progress = {c for c in self.opened if self._unended[c] > 0}
        for name in graph.names:
            if self._pending[name] == 0:
                self._push(name)

    def _key(self, name: str) -> tuple[float, int, str]:
        path = self.graph.path.get(name, 0.0) if self._paths else 0.0
        return (-path, self._index[name], name)

    def _push(self, name: str) -> None:
        cluster = self.graph.cluster.get(name)
        if cluster is not None and cluster in self.opened:
            heapq.heappush(self._hot, self._key(name))
            return
        limited = cluster is not None and self.graph.clusters_at_once is not None
        heapq.heappush(self._closed if limited else self._cold, self._key(name))
        if cluster is not None:
            self._ready_of.setdefault(cluster, []).append(name)

    def pop(self) -> str | None:
        """The next appliance to start (None: nothing is ready now).

        A node of a cluster not yet opened waits while `clusters_at_once` clusters are in
        progress; everything else that is ready may start meanwhile.
        """
        heaps = [self._hot]
        if not self._ready(self._hot):
            limit = self.graph.clusters_at_once
            opening = limit is None or len(self.in_progress) < limit
            candidates = [self._cold, self._closed] if opening else [self._cold]
            heaps = [heap for heap in candidates if self._ready(heap)]
        if not heaps:
            return None
        return self.take(heapq.heappop(min(heaps, key=lambda heap: heap[0]))[2])

    def _ready(self, heap: list[tuple[float, int, str]]) -> bool:
        """Whether `heap` holds an appliance that may start, at its top (the others dropped)."""
        while heap:
            name = heap[0][2]
            moved = heap is not self._hot and name in self._moved
            if not (moved or name in self.started or name in self.finished or name in self.lost):
                return True
            heapq.heappop(heap)
        return False

    def take(self, name: str) -> str:
        """Count `name` as started (a resumed job is followed whatever it waits for)."""
        self.started.add(name)
        cluster = self.graph.cluster.get(name)
        if cluster is not None and cluster not in self.opened:
            self.opened.add(cluster)
            self.in_progress.add(cluster)
            for waiting in self._ready_of.pop(cluster, []):
                if waiting != name:
                    self._moved.add(waiting)
                    heapq.heappush(self._hot, self._key(waiting))
        return name

    def finish(self, name: str, *, ok: bool) -> list[tuple[str, str]]:
        """`name` ended (done or skipped: ok); what it takes with it: (lost, its prerequisite).

        Once per appliance: a second call changes nothing.
        """
        if name in self.finished:
            return []
        self.finished.add(name)
        if name not in self.lost:  # a lost one ended when it was lost
            self._ended(name)
        if ok:
            for group in self._member_of.get(name, ()):
                self._left[group] -= 1
                if self._left[group] == 0 and self._broken[group] is None:
                    self._release(group)
            return []
        return self._lose(name)

    def _release(self, group: int) -> None:
        for waiter in self._waiters[group]:
            self._pending[waiter] -= 1
            if self._pending[waiter] == 0 and waiter not in self.lost:
                self._push(waiter)

    def _lose(self, name: str) -> list[tuple[str, str]]:
        """Everything that waits, directly or not, for `name`, which will not end done.

        Each lost appliance is paired with `name`, the one whose end took it down.
        """
        lost: list[tuple[str, str]] = []
        todo = [name]
        while todo:
            cause = todo.pop()
            for group in self._member_of.get(cause, ()):
                if self._broken[group] is not None:
                    continue
                self._broken[group] = cause
                for waiter in self._waiters[group]:
                    if waiter in self.lost or waiter in self.finished:
                        continue
                    self.lost[waiter] = name
                    self._ended(waiter)
                    lost.append((waiter, name))
                    todo.append(waiter)
        return lost

    def _ended(self, name: str) -> None:
        """`name` will not start again (finished or lost): its cluster may end with it."""
        cluster = self.graph.cluster.get(name)
        if cluster is None:
            return
        self._unended[cluster] -= 1
        if self._unended[cluster] == 0:
            self.in_progress.discard(cluster)

    def settle(self, outcomes: Iterable[tuple[str, bool]]) -> list[tuple[str, str]]:
        """Finish appliances already ended before the run starts (resumed, skipped, refused)."""
        lost: list[tuple[str, str]] = []
        for name, ok in outcomes:
            if name not in self.lost:
                lost += self.finish(name, ok=ok)
        return lost


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
    dispatcher = Dispatcher(graph)
    dispatcher.settle(graph.settled.items())
    late = set(dispatcher.lost)
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    running: list[tuple[float, int, str]] = []
    now = 0.0
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
