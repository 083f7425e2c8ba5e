"""The dependency graph of a plan, and the one dispatcher that both the run and the plan follow.

The vendor's rules are about versions (docs/planning.md, "The dependency graph"): Command
before everything; a Discover appliance before the Explore and Trace appliances connected to
it; within an Explore cluster, managers before data nodes. A plan with `schedule: graph` keeps
them as `Stage`s (a group of appliances and the appliances they wait for); batches add one more
edge: a stage's batch waits for the batch before it. Nothing else orders the work.

`Dispatcher` decides what starts next whenever a slot is free: an appliance whose
prerequisites are all done, a node of a cluster whose ingest is already off first, then the
longest remaining path (its own estimate plus the longest chain that waits for it), then plan
order. When a cluster may start (its first node, which halts its ingest) is the plan's
`cluster_starts`: as soon as it is ready ("ready"); only while the clusters still starting
(started, some node not started yet) and its own nodes fit the slots ("fit"), so that its
data nodes find slots when its manager ends instead of waiting behind other clusters' nodes;
or the same unless a slot would otherwise stay idle ("fit-or-idle"). With `clusters_at_once`
(the operator's setting), a cluster not yet started also waits while that many clusters are
in progress (started, some node not ended): each cluster's ingest-off is shorter, the run
may be longer. An appliance that does not end done or skipped loses everything that waits
for it.

`plan.projection.simulate` runs the same dispatcher on the estimates: the plan's total, each
cluster's ingest-off estimate, the window fitting and the projected timeline all come from it.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.plan.model import Action
from orchestrator.plan.pace import Pace

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Sequence

    from orchestrator.plan.model import ClusterStarts, Plan, PlannedAppliance, Stage, Wave

__all__ = ["Dispatcher", "Graph"]

_LATE = 0.1  # a node this late (share of its estimate) keeps no slots for its cluster's next


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
    cluster_starts: ClusterStarts = "ready"  # when a cluster may start (see the module)
    slots: int = 0  # appliances worked on at once ("fit" counts clusters' nodes against it)

    @classmethod
    def build(
        cls,
        stages: Sequence[Stage],
        waves: Sequence[Wave],
        *,
        clusters_at_once: int | None = None,
        cluster_starts: ClusterStarts = "ready",
        slots: int = 0,
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
            cluster_starts=cluster_starts,
            slots=slots,
        )
        graph.path.update(_longest_paths(graph))
        return graph

    @classmethod
    def of(cls, plan: Plan) -> Graph:
        """The graph a graph plan's run follows: its clusters-at-once limit, its cluster starts."""
        return cls.build(
            plan.stages,
            plan.waves,
            clusters_at_once=plan.clusters_at_once,
            cluster_starts=plan.cluster_starts,
            slots=plan.concurrency,
        )

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
    unlimited = dataclasses.replace(graph, clusters_at_once=None, cluster_starts="ready")
    dispatcher = Dispatcher(unlimited, paths=False)
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

    def __init__(
        self,
        graph: Graph,
        *,
        opened: Collection[str] = (),
        paths: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graph = graph
        self._clock = clock
        self._kept_back = False  # the last pop kept ready work back for a cluster's next nodes
        self._began: dict[str, float] = {}  # started, not ended: when its own upgrade began
        self.pace = Pace()  # how long appliances take against their estimates, so far
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
        # Each cluster's nodes to upgrade (the slots it needs), and those not started yet; a
        # cluster opened with a node not started yet is still starting.
        self._size = collections.Counter(
            c for name, c in graph.cluster.items() if name not in graph.settled
        )
        self._unstarted = collections.Counter(graph.cluster.values())
        self.starting = set(self.opened)
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
        graph = self.graph
        limited = cluster is not None and (
            graph.clusters_at_once is not None or graph.cluster_starts != "ready"
        )
        heapq.heappush(self._closed if limited else self._cold, self._key(name))
        if cluster is not None:
            self._ready_of.setdefault(cluster, []).append(name)

    def pop(self) -> str | None:
        """The next appliance to start (None: nothing is ready now).

        A node of a cluster not yet opened waits while `clusters_at_once` clusters are in
        progress, or while the plan's `cluster_starts` keeps it back; everything else that is
        ready may start meanwhile.
        """
        heaps = [self._hot]
        if not self._ready(self._hot):
            candidates = [self._cold, self._closed] if self._may_open() else [self._cold]
            ready = [heap for heap in candidates if self._ready(heap)]
            heaps = [heap for heap in ready if self._leaves_room(heap)]
            self._kept_back = len(heaps) < len(ready)
        if not heaps:
            return None
        return self.take(heapq.heappop(min(heaps, key=lambda heap: heap[0]))[2])

    def recheck_in(self) -> float | None:
        """Seconds until work kept back for a cluster's next nodes may start anyway.

        That is when a node of a starting cluster will have run `_LATE` past its estimate (or
        None: nothing kept back). A run asks `pop` again then, if nothing ended before.
        """
        if not self._kept_back:
            return None
        now = self._clock()
        runs = self._starting_runs(self._ends())
        limits = [end + late for _, end, late in runs if end + late > now]
        return min(limits) - now if limits else None

    def _starting_runs(self, ends: dict[str, float]) -> list[tuple[str, float, float]]:
        """(cluster, expected end, how late it may run) of each running node still starting."""
        return [
            (cluster, end, _LATE * self._expected(name))
            for name, end in ends.items()
            if (cluster := self.graph.cluster.get(name)) in self.starting and cluster is not None
        ]

    def _leaves_room(self, heap: list[tuple[float, int, str]]) -> bool:
        """Whether the top of `heap` may take a slot the starting clusters' next nodes need.

        Under "fit", a cluster still starting keeps slots for its nodes not started yet, from
        the moment its running nodes are expected to end (or now, while one runs late by at
        most `_LATE` of its estimate; later than that the estimate was wrong, and nothing is
        kept for it): work that would still run then may start only if those nodes still
        find their slots, and, while clusters wait to start, a cluster waiting its turn finds
        one for its first node (it starts as a starting cluster's last nodes do). Ends less
        than `_LATE` of an expected time after that moment count as at that moment: a run's
        appliances end a little apart, never all at once.
        """
        if self.graph.cluster_starts != "fit" or not self.starting:
            return True
        now = self._clock()
        due: dict[str, float] = {}  # starting cluster -> when its next nodes need their slots
        ends = self._ends()
        for cluster, end, late in self._starting_runs(ends):
            if now <= end + late:
                due[cluster] = min(due.get(cluster, math.inf), max(end, now) + late)
        if not due:
            return True
        soonest = min(due.values())
        if now + self._expected(heap[0][2]) <= soonest:
            return True
        busy = sum(1 for end in ends.values() if end > soonest)
        kept = sum(self._unstarted[c] for c in due)
        if heap is not self._closed and self._ready(self._closed):
            kept += len(due)  # and one for the cluster waiting to take each one's place
        return busy + 1 + kept <= self.graph.slots

    def _may_open(self) -> bool:
        """Whether the cluster whose node is next among those not opened may start now."""
        graph = self.graph
        if graph.clusters_at_once is not None and len(self.in_progress) >= graph.clusters_at_once:
            return False
        if graph.cluster_starts == "ready" or not self.starting or not self._ready(self._closed):
            return True
        cluster = graph.cluster[self._closed[0][2]]
        nodes = self._size[cluster] + sum(self._size[c] for c in self.starting)
        if nodes <= graph.slots:
            return True
        return graph.cluster_starts == "fit-or-idle" and not self._ready(self._cold)

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
        cluster = self.graph.cluster.get(name)
        if cluster is not None and name not in self.started and name not in self.finished:
            self._started_node(cluster)
        self.started.add(name)
        self._began[name] = self._clock()
        if cluster is not None and cluster not in self.opened:
            self.opened.add(cluster)
            self.in_progress.add(cluster)
            if self._unstarted[cluster] > 0:
                self.starting.add(cluster)
            for waiting in self._ready_of.pop(cluster, []):
                if waiting != name:
                    self._moved.add(waiting)
                    heapq.heappush(self._hot, self._key(waiting))
        return name

    def began(self, name: str) -> None:
        """`name`'s own upgrade begins now: its estimate counts from here.

        A cluster's first node opens the cluster (backs its nodes up, halts its ingest) in its
        slot before its own upgrade, which its estimate does not count; the slots its cluster
        keeps are then kept from when it is expected to end.
        """
        if name in self._began:
            self._began[name] = self._clock()

    def _ends(self) -> dict[str, float]:
        """When each appliance started and not ended is expected to end, at today's pace."""
        return {name: began + self._expected(name) for name, began in self._began.items()}

    def _expected(self, name: str) -> float:
        """Seconds `name` is expected to take: its estimate, at the pace seen so far."""
        return self.graph.seconds.get(name, 0.0) * self.pace.factor

    def _ended_at_pace(self, name: str) -> None:
        """Count how long `name` took against its estimate (appliances that ended done)."""
        began, seconds = self._began.get(name), self.graph.seconds.get(name, 0.0)
        if began is None or seconds <= 0:
            return
        self.pace.ended(self._clock() - began, seconds)

    def finish(self, name: str, *, ok: bool) -> list[tuple[str, str]]:
        """`name` ended (done or skipped: ok); what it takes with it: (lost, its prerequisite).

        Once per appliance: a second call changes nothing.
        """
        if name in self.finished:
            return []
        self.finished.add(name)
        if ok:
            self._ended_at_pace(name)
        self._began.pop(name, None)
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
        if name not in self.started:
            self._started_node(cluster)  # it never will: it no longer keeps its cluster starting
        self._unended[cluster] -= 1
        if self._unended[cluster] == 0:
            self.in_progress.discard(cluster)

    def _started_node(self, cluster: str) -> None:
        """One more node of `cluster` started, or will never start."""
        self._unstarted[cluster] -= 1
        if self._unstarted[cluster] == 0:
            self.starting.discard(cluster)

    def settle(self, outcomes: Iterable[tuple[str, bool]]) -> list[tuple[str, str]]:
        """Finish appliances already ended before the run starts (resumed, skipped, refused)."""
        lost: list[tuple[str, str]] = []
        for name, ok in outcomes:
            if name not in self.lost:
                lost += self.finish(name, ok=ok)
        return lost
