"""When an Explore cluster may start: the dispatcher's rules, and the plan's choice of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planbuild import JOB, box, clusters_fleet, most_clusters_at_once, plan, ready_graph

from orchestrator.core.models import Role
from orchestrator.plan.file import plan_differences
from orchestrator.plan.graph import Dispatcher, Graph
from orchestrator.plan.pace import Pace
from orchestrator.plan.projection import simulate
from orchestrator.report.schedulewords import schedule_lines

if TYPE_CHECKING:
    from orchestrator.plan import Plan
    from orchestrator.plan.model import ClusterStarts


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The time now."""
        return self.now


def toy(
    starts: ClusterStarts, *, slots: int, cold: dict[str, float], clusters: int = 1
) -> tuple[Dispatcher, Clock]:
    """Clusters x0, x1... of a 10 s manager and two 10 s data nodes, and `cold` appliances.

    Nothing waits for anything but each cluster's data nodes for its manager; the clusters
    come first in plan order, so they go first.
    """
    names: list[str] = []
    seconds: dict[str, float] = {}
    waits: dict[str, tuple[int, ...]] = {}
    cluster: dict[str, str] = {}
    groups: list[tuple[str, ...]] = []
    for c in range(clusters):
        manager, data = f"x{c}-m", (f"x{c}-d1", f"x{c}-d2")
        groups.append((manager,))
        names += [manager, *data]
        waits |= {manager: (), **dict.fromkeys(data, (len(groups) - 1,))}
        cluster |= dict.fromkeys((manager, *data), f"x{c}")
    names += list(cold)
    waits |= dict.fromkeys(cold, ())
    seconds = dict.fromkeys(names, 10.0) | cold
    graph = Graph(
        names=tuple(names),
        seconds=seconds,
        settled={},
        groups=tuple(groups),
        waits=waits,
        cluster=cluster,
        cluster_starts=starts,
        slots=slots,
    )
    clock = Clock()
    return Dispatcher(graph, clock=clock), clock


def popped(dispatcher: Dispatcher, free: int = 99) -> list[str]:
    """What `pop` gives now, for `free` slots at most."""
    names: list[str] = []
    while len(names) < free and (name := dispatcher.pop()) is not None:
        names.append(name)
    return names


# --- the dispatcher -------------------------------------------------------------------------


def test_a_starting_cluster_keeps_the_slots_its_data_nodes_need_when_its_manager_ends() -> None:
    """Four slots; x0's manager runs 10 s; three Trace appliances of 15 s each are ready.

    Two may start beside it (at 10 s two slots are left for x0's data nodes); the third would
    leave one, so it waits. Started when ready, all three start.
    """
    cold = {"t1": 15.0, "t2": 15.0, "t3": 15.0}
    dispatcher, clock = toy("fit", slots=4, cold=cold)
    assert popped(dispatcher, 4) == ["x0-m", "t1", "t2"]  # and a slot left free
    assert dispatcher.recheck_in() == 11.0  # when the manager is 10% late: 1 s after 10 s
    clock.now = 10.0
    dispatcher.finish("x0-m", ok=True)
    assert popped(dispatcher, 2) == ["x0-d1", "x0-d2"]
    ready, _ = toy("ready", slots=4, cold=cold)
    assert popped(ready, 4) == ["x0-m", "t1", "t2", "t3"]


def test_work_that_ends_by_then_may_take_the_kept_slots() -> None:
    """Trace appliances of 10 s end with the manager: all three start beside it."""
    dispatcher, _ = toy("fit", slots=4, cold={"t1": 10.0, "t2": 10.0, "t3": 10.0})
    assert popped(dispatcher) == ["x0-m", "t1", "t2", "t3"]
    assert dispatcher.recheck_in() is None  # nothing was kept back


def test_a_manager_late_past_its_estimate_keeps_nothing() -> None:
    """Within 10% of its 10 s estimate the slots stay kept; after that the estimate was wrong."""
    dispatcher, clock = toy("fit", slots=4, cold={"t1": 15.0, "t2": 15.0, "t3": 15.0})
    assert popped(dispatcher) == ["x0-m", "t1", "t2"]
    clock.now = 10.5
    assert popped(dispatcher) == []
    assert dispatcher.recheck_in() == 0.5
    clock.now = 11.5
    assert popped(dispatcher) == ["t3"]


def test_the_slots_are_kept_from_the_estimate_of_the_manager_s_own_upgrade() -> None:
    """Its slot first backed the cluster up and halted it (3 s): kept until 14 s, not 11 s.

    The manager's estimate counts from when its own upgrade began.
    """
    dispatcher, clock = toy("fit", slots=4, cold={"t1": 15.0, "t2": 15.0, "t3": 15.0})
    assert popped(dispatcher, 4) == ["x0-m", "t1", "t2"]
    clock.now = 3.0
    dispatcher.began("x0-m")
    clock.now = 12.0
    assert popped(dispatcher) == []  # after 11 s t3 could take it, had it not begun later
    assert dispatcher.recheck_in() == 2.0


def test_the_slots_are_kept_at_the_pace_the_run_goes() -> None:
    """t1 took 20 s for an estimate of 10: everything is expected at twice its estimate.

    So x0's manager, 10 s by its estimate, is expected to end at 20 s, and t4 (15 s, so 30)
    may not take a slot its data nodes need then; at the estimates' pace it could.
    """
    cold = {"t1": 10.0, "t2": 15.0, "t3": 15.0, "t4": 15.0}
    dispatcher, clock = toy("fit", slots=4, cold=cold)
    assert popped(dispatcher, 4) == ["x0-m", "t1", "t2", "t3"]
    clock.now = 20.0
    dispatcher.finish("t1", ok=True)
    assert dispatcher.pace.factor == 2.0
    assert popped(dispatcher, 1) == []
    assert dispatcher.recheck_in() == 2.0  # the manager a tenth late at its pace: 22 s
    dispatcher.finish("t2", ok=False)  # a failure says nothing of the pace
    assert dispatcher.pace.factor == 2.0


def test_a_slot_is_kept_for_the_cluster_waiting_to_take_a_starting_one_s_place() -> None:
    """Four slots; x1 waits while x0 starts (3 + 3 nodes > 4); two 15 s Trace appliances.

    When x0's manager ends, its two data nodes and x1's manager need three slots: one Trace
    appliance may run across that moment, not two. Then x1 starts beside x0's data nodes.
    """
    dispatcher, clock = toy("fit", slots=4, cold={"t1": 15.0, "t2": 15.0}, clusters=2)
    assert popped(dispatcher, 4) == ["x0-m", "t1"]
    clock.now = 10.0
    dispatcher.finish("x0-m", ok=True)
    assert popped(dispatcher, 3) == ["x0-d1", "x0-d2", "x1-m"]


def test_a_cluster_starts_only_while_the_starting_clusters_fit_the_slots() -> None:
    """Two clusters of three nodes on four slots: x1 waits until x0's last node has started."""
    dispatcher, _ = toy("fit", slots=4, cold={}, clusters=2)
    assert popped(dispatcher) == ["x0-m"]
    dispatcher.finish("x0-m", ok=True)
    assert popped(dispatcher) == ["x0-d1", "x0-d2", "x1-m"]  # x0 no longer starting


def test_fit_or_idle_starts_a_cluster_rather_than_leave_a_slot_idle() -> None:
    """The same two clusters: x1 starts beside x0 once nothing else is ready."""
    dispatcher, _ = toy("fit-or-idle", slots=4, cold={"t1": 10.0}, clusters=2)
    assert popped(dispatcher) == ["x0-m", "t1", "x1-m"]  # other work first, while there is some


def test_a_cluster_lost_with_its_manager_no_longer_keeps_slots() -> None:
    """x0's manager fails: its data nodes are lost, and x1 may start."""
    dispatcher, _ = toy("fit", slots=4, cold={}, clusters=2)
    assert popped(dispatcher) == ["x0-m"]
    assert [lost for lost, _ in dispatcher.finish("x0-m", ok=False)] == ["x0-d1", "x0-d2"]
    assert popped(dispatcher) == ["x1-m"]


def test_a_resumed_run_counts_a_cluster_it_left_starting() -> None:
    """x0 was halted, its manager done, before the restart: x1 waits for x0's data nodes."""
    dispatcher, _ = toy("fit", slots=4, cold={}, clusters=2)
    resumed = Dispatcher(dispatcher.graph, opened={"x0"})
    resumed.settle([("x0-m", True)])
    assert resumed.pop() == "x0-d1"
    assert resumed.pop() == "x0-d2"
    assert resumed.pop() == "x1-m"


# --- the plan's choice ------------------------------------------------------------------------


def off_estimates(result: Plan) -> list[float]:
    return [b.off_estimate or 0.0 for b in result.ingest]


def test_clusters_start_when_their_nodes_fit_if_that_costs_the_run_nothing() -> None:
    """40 clusters of 1 + 4 on 50 slots: ten start at a time, each next ten beside their data.

    Every cluster's ingest is off for its own two stages only, and the run is as short as
    when every cluster starts as soon as it is ready (which leaves the last ones off 3 jobs).
    """
    result = plan(clusters_fleet(40), concurrency=50)
    ready = simulate(ready_graph(result), 50)
    assert result.cluster_starts == "fit"
    assert set(off_estimates(result)) == {2 * JOB}
    assert result.estimate == ready.makespan
    assert most_clusters_at_once(result) == 20  # ten whose data run, ten whose managers run
    assert any("only while" in line for line in schedule_lines(result))


def test_if_fitting_lengthens_the_run_a_cluster_starts_rather_than_leave_a_slot_idle() -> None:
    """Four clusters of 1 + 2 and two Trace on 5 slots: keeping slots free would cost a job.

    The plan takes the shortest run ("fit-or-idle": as long as ready, less ingest-off).
    """
    fleet = [*clusters_fleet(4, data=2), box("eta1", Role.TRACE), box("eta2", Role.TRACE)]
    result = plan(fleet, concurrency=5)
    ready = simulate(ready_graph(result), 5)
    assert result.cluster_starts == "fit-or-idle"
    assert result.estimate == ready.makespan
    ready_off = [s[1] - s[0] for b in result.ingest if (s := ready.span(b.members))]
    assert sum(off_estimates(result)) < sum(ready_off)


def test_when_no_other_choice_is_as_short_clusters_start_when_ready() -> None:
    """Two clusters of 1 + 4 and two Trace on 3 slots: only starting when ready is shortest."""
    fleet = [*clusters_fleet(2, data=4), box("eta1", Role.TRACE), box("eta2", Role.TRACE)]
    result = plan(fleet, concurrency=3)
    assert result.cluster_starts == "ready"
    assert result.estimate == simulate(ready_graph(result), 3).makespan


def test_a_saved_plan_whose_clusters_would_start_otherwise_now_is_refused() -> None:
    """A plan file made when clusters started when ready (or edited) names the difference."""
    fresh = plan(clusters_fleet(40), concurrency=50)
    saved = fresh.model_copy(update={"cluster_starts": "ready"})
    assert plan_differences(saved, fresh) == [
        "its Explore clusters start 'ready' in the file, 'fit' now"
    ]
    assert plan_differences(fresh, fresh) == []


def test_the_pace_is_the_median_of_how_long_each_took_against_its_estimate() -> None:
    """1 before any has ended; one slow appliance among quick ones does not set it."""
    pace = Pace()
    assert pace.factor == 1.0
    for took in (10.0, 11.0, 40.0):
        pace.ended(took, 10.0)
    assert pace.factor == 1.1
    pace.ended(12.0, 10.0)
    assert pace.factor == 1.15
