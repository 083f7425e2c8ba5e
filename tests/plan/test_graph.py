"""The dependency graph: stages by the vendor's rules, the dispatcher, and its estimates (pure)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from planbuild import (
    JOB,
    NOW,
    box,
    clusters_fleet,
    exa,
    most_clusters_at_once,
    observe,
    plan,
    ready_graph,
)
from pydantic import ValidationError

from orchestrator.cli.confirm import summary_lines
from orchestrator.core.config import Settings
from orchestrator.core.models import NodeKind, Role
from orchestrator.plan import Plan
from orchestrator.plan.graph import Dispatcher, Graph
from orchestrator.plan.projection import simulate
from orchestrator.report.schedulewords import schedule_lines


def stage_after(result: Plan) -> dict[str, set[str]]:
    return {stage.name: set(result.waits_for(stage)) for stage in result.stages}


# --- stages ----------------------------------------------------------------------------------


def test_without_connections_every_explore_and_trace_stage_waits_for_every_discover() -> None:
    """Not known: Explore clusters and Trace wait for Command and all Discover appliances."""
    fleet = [*clusters_fleet(1, data=1), box("eta1", Role.TRACE)]
    result = plan(fleet)
    assert result.schedule == "graph"
    assert stage_after(result) == {
        "command": set(),
        "discover": {"eca1"},
        "explore x0 managers": {"eca1", "eda1", "eda2"},
        "explore x0 data": {"eca1", "x0-m"},  # its manager waited for the Discover appliances
        "trace": {"eca1", "eda1", "eda2"},
    }
    assert not any(stage.connections_known for stage in result.stages[2:])


def test_known_connections_narrow_each_wait_to_the_discover_appliances_connected() -> None:
    """eda1 serves cluster x0 and eta1, eda2 cluster x1 and eta2: each waits for its own."""
    fleet = [*clusters_fleet(2, data=1), box("eta1", Role.TRACE), box("eta2", Role.TRACE)]
    facts = observe(fleet)
    facts["eda1"] = facts["eda1"].model_copy(update={"connected": ("x0-m", "x0-d0", "eta1")})
    facts["eda2"] = facts["eda2"].model_copy(update={"connected": ("x1-d0", "eta2")})
    result = plan(fleet, facts)
    assert stage_after(result) == {
        "command": set(),
        "discover": {"eca1"},
        "explore x0 managers": {"eca1", "eda1"},
        "explore x0 data": {"eca1", "x0-m"},
        "explore x1 managers": {"eca1", "eda2"},  # connected through its data node
        "explore x1 data": {"eca1", "x1-m"},
        "trace 1": {"eca1", "eda1"},
        "trace 2": {"eca1", "eda2"},
    }


def test_one_discover_with_unknown_connections_makes_everything_wait_for_all() -> None:
    """If one Discover appliance's list was not read, nobody can say what it serves."""
    fleet = [*clusters_fleet(1, data=1), box("eta1", Role.TRACE)]
    facts = observe(fleet)
    facts["eda1"] = facts["eda1"].model_copy(update={"connected": ("eta1",)})
    result = plan(fleet, facts)  # eda2's connections: None
    assert stage_after(result)["explore x0 managers"] == {"eca1", "eda1", "eda2"}
    assert stage_after(result)["trace"] == {"eca1", "eda1", "eda2"}


def test_an_orphan_cluster_still_waits_for_command() -> None:
    """A cluster no Discover appliance lists waits for Command only (Command before all)."""
    fleet = clusters_fleet(1, data=1)
    facts = observe(fleet)
    for name in ("eda1", "eda2"):
        facts[name] = facts[name].model_copy(update={"connected": ()})
    assert stage_after(plan(fleet, facts))["explore x0 managers"] == {"eca1"}


# --- the schedule ----------------------------------------------------------------------------


def test_each_cluster_s_ingest_is_off_for_its_own_two_stages_only() -> None:
    """40 clusters of 1 + 4 with room for all: every cluster is off manager + data, no more."""
    result = plan(clusters_fleet(40), concurrency=200)
    assert {b.off_estimate for b in result.ingest} == {2 * JOB}
    assert result.estimate == 4 * JOB  # command, discover, managers, data
    waves = plan(clusters_fleet(40), concurrency=200, schedule="waves")
    assert waves.estimate == result.estimate  # nothing to gain here: every stage fits at once


def test_with_few_slots_a_cluster_already_off_gets_its_next_node_first() -> None:
    """Two slots, three clusters of 1 + 2: a halted cluster's data nodes go first.

    So no cluster's ingest is off much longer than its own nodes take (waves: 5 jobs each).
    """
    job = 1200.0  # no download
    result = plan(clusters_fleet(3, data=2), concurrency=2, download_duration=0)
    # eca1; eda1+eda2; x0-m+x1-m (equal chains, plan order); x0's data; x1's data; x2-m; x2's
    assert result.estimate == 7 * job
    assert [b.off_estimate for b in result.ingest] == [2 * job, 3 * job, 2 * job]


def test_trace_does_not_wait_for_explore() -> None:
    """A graph plan runs Trace beside the Explore clusters; waves put it after them."""
    fleet = [*clusters_fleet(1, data=1), box("eta1", Role.TRACE)]
    graph = plan(fleet, concurrency=4)
    waves = plan(fleet, concurrency=4, schedule="waves")
    assert graph.estimate == 4 * JOB
    assert waves.estimate == 5 * JOB


def test_the_window_defers_what_would_not_finish_and_what_waits_for_it() -> None:
    """A window of 2.5 jobs: Command and Discover fit, everything after them is deferred."""
    fleet = [*clusters_fleet(1, data=1), box("eta1", Role.TRACE)]
    end = NOW + dt.timedelta(seconds=2.5 * JOB)
    result = plan(fleet, concurrency=4, window_end=end)
    late = {a.name for a in result.appliances() if a.actionable and not a.fits_window}
    assert late == {"x0-m", "x0-d0", "eta1"}
    assert any("3 of 6 appliances" in w for w in result.warnings)
    assert result.estimate == 4 * JOB  # the whole plan, so the page can say how short it is


def test_batches_wait_for_the_batch_before_in_their_stage() -> None:
    """Batches 1,2 of the Discover stage: batch 2 waits for batch 1, so the stage takes 2 jobs."""
    fleet = [box("eca1", Role.COMMAND), *(box(f"eda{i}", Role.DISCOVER) for i in range(1, 4))]
    result = plan(fleet, concurrency=4, batches="1,2")
    assert result.estimate == 3 * JOB


def test_clusters_at_once_keeps_each_cluster_s_ingest_off_for_its_own_nodes_only() -> None:
    """40 clusters of 1 + 4 on 50 slots: started when ready, all 40 start together.

    With 10 at once each cluster's data nodes find their slots as its manager ends: every
    cluster is off for its two stages, and the run is longer (it is the operator's trade).
    """
    result = plan(clusters_fleet(40), concurrency=50)
    limited = plan(clusters_fleet(40), concurrency=50, clusters_at_once=10)
    free = simulate(ready_graph(result), 50)
    assert max(s[1] - s[0] for b in result.ingest if (s := free.span(b.members))) >= 3 * JOB
    assert {b.off_estimate for b in limited.ingest} == {2 * JOB}
    assert limited.estimate > free.makespan
    assert limited.clusters_at_once == 10
    assert limited.cluster_starts == "ready"  # the operator's limit is the choice made
    assert most_clusters_at_once(limited) == 10


def test_with_one_cluster_at_once_the_clusters_go_one_after_another() -> None:
    """No two clusters in progress at once; Trace is not held back by the limit."""
    fleet = [*clusters_fleet(3, data=2), box("eta1", Role.TRACE)]
    result = plan(fleet, concurrency=8, clusters_at_once=1)
    assert most_clusters_at_once(result) == 1
    schedule = simulate(Graph.build(result.stages, result.waves, clusters_at_once=1), 8)
    assert schedule.starts["eta1"] == schedule.starts["x0-m"]  # beside the first cluster
    assert any("at most 1 Explore cluster in progress" in line for line in schedule_lines(result))


def test_a_cluster_lost_to_a_failure_lets_the_next_one_start() -> None:
    """One at a time: x0's manager fails, its data nodes are lost, and x1 may start."""
    result = plan(clusters_fleet(2, data=2), clusters_at_once=1)
    dispatcher = Dispatcher(Graph.build(result.stages, result.waves, clusters_at_once=1))
    for name in ("eca1", "eda1", "eda2"):
        assert dispatcher.pop() == name or name in dispatcher.started
        dispatcher.finish(name, ok=True)
    assert dispatcher.pop() == "x0-m"
    assert dispatcher.pop() is None  # x1 waits: x0 is in progress
    dispatcher.finish("x0-m", ok=False)
    assert dispatcher.pop() == "x1-m"


def test_a_resumed_run_counts_the_clusters_it_left_halted() -> None:
    """x0 was halted before the restart: x1 waits until x0's nodes have ended."""
    result = plan(clusters_fleet(2, data=1), clusters_at_once=1)
    graph = Graph.build(result.stages, result.waves, clusters_at_once=1)
    dispatcher = Dispatcher(graph, opened={"x0"})
    dispatcher.settle([("eca1", True), ("eda1", True), ("eda2", True)])
    assert dispatcher.pop() == "x0-m"  # a node of a cluster already off goes first
    assert dispatcher.pop() is None
    dispatcher.finish("x0-m", ok=True)
    assert dispatcher.pop() == "x0-d0"
    assert dispatcher.pop() is None
    dispatcher.finish("x0-d0", ok=True)
    assert dispatcher.pop() == "x1-m"


def test_clusters_at_once_needs_the_graph() -> None:
    """Waves (or gates, which make waves) run stages one at a time: the limit is refused."""
    with pytest.raises(ValidationError, match="leave --clusters-at-once out"):
        Settings(schedule="waves", clusters_at_once=2)
    with pytest.raises(ValidationError, match="leave --clusters-at-once out"):
        Settings(pause_after="stage", clusters_at_once=2)


# --- the dispatcher --------------------------------------------------------------------------


def test_a_failure_takes_down_only_what_waits_for_it() -> None:
    """x0's manager fails: its data nodes are lost; x1 and Trace are not."""
    fleet = [*clusters_fleet(2, data=2), box("eta1", Role.TRACE)]
    result = plan(fleet)
    dispatcher = Dispatcher(Graph.build(result.stages, result.waves))
    for name in ("eca1", "eda1", "eda2"):
        assert dispatcher.pop() == name or name in dispatcher.started
        dispatcher.finish(name, ok=True)
    lost = dispatcher.finish("x0-m", ok=False)
    assert sorted(lost) == [("x0-d0", "x0-m"), ("x0-d1", "x0-m")]
    started = []
    while (ready := dispatcher.pop()) is not None:
        started.append(ready)
    assert set(started) == {"x1-m", "eta1"}


def test_a_failed_discover_blocks_what_waits_for_it_transitively() -> None:
    """Every Explore node and Trace waits (directly or through a manager) for eda2."""
    fleet = [*clusters_fleet(1, data=1), box("eta1", Role.TRACE)]
    result = plan(fleet)
    dispatcher = Dispatcher(Graph.build(result.stages, result.waves))
    dispatcher.finish("eca1", ok=True)
    dispatcher.finish("eda1", ok=True)
    lost = dispatcher.finish("eda2", ok=False)
    assert sorted(lost) == [("eta1", "eda2"), ("x0-d0", "eda2"), ("x0-m", "eda2")]


def test_the_longest_chain_goes_first() -> None:
    """With one slot, the manager (whose data nodes wait for it) starts before Trace."""
    fleet = [box("eta1", Role.TRACE), *clusters_fleet(1, data=3)]
    result = plan(fleet, concurrency=1)
    schedule = simulate(Graph.build(result.stages, result.waves), 1)
    assert schedule.starts["x0-m"] < schedule.starts["eta1"]


def test_a_second_finish_changes_nothing() -> None:
    """Finishing an appliance twice (a resumed run settles it) never releases twice."""
    fleet = [*clusters_fleet(1, data=1)]
    result = plan(fleet)
    dispatcher = Dispatcher(Graph.build(result.stages, result.waves))
    dispatcher.finish("eca1", ok=True)
    dispatcher.finish("eca1", ok=True)
    assert dispatcher.pop() in {"eda1", "eda2"}
    assert dispatcher.pop() in {"eda1", "eda2"}
    assert dispatcher.pop() is None


# --- the plan file ---------------------------------------------------------------------------


def test_an_edited_plan_that_drops_a_prerequisite_is_refused() -> None:
    """A stage that no longer waits for its cluster's manager breaks the vendor's order."""
    result = plan(clusters_fleet(1, data=1))
    data = json_with(result, "explore x0 data", after=[], after_stages=["command"])
    with pytest.raises(ValidationError, match="must wait for x0-m"):
        Plan.model_validate_json(data)


def test_an_edited_plan_that_waits_for_a_later_stage_is_refused() -> None:
    """Waiting for a later stage (a circle in the making) is refused."""
    result = plan(clusters_fleet(1, data=1))
    data = json_with(result, "discover", after=["x0-d0"])
    with pytest.raises(ValidationError, match="x0-d0, which come after it"):
        Plan.model_validate_json(data)


def test_a_plan_file_without_a_schedule_runs_in_waves() -> None:
    """A plan saved before graphs existed (no `schedule`) keeps the strict waves it was made for."""
    result = plan(clusters_fleet(1, data=1), schedule="waves")
    data = result.model_dump(mode="json")
    del data["schedule"], data["stages"]
    assert Plan.model_validate(data).schedule == "waves"


def test_gates_and_the_graph_schedule_are_one_flag_too_many() -> None:
    """--pause-after stops between stages: with --schedule graph it is refused; alone, waves."""
    with pytest.raises(ValidationError, match="use --schedule waves"):
        Settings.model_validate({"schedule": "graph", "pause_after": "stage"})
    assert Settings.model_validate({"pause_after": "stage"}).schedule_kind == "waves"
    assert Settings().schedule_kind == "graph"


def json_with(
    result: Plan, stage: str, *, after: list[str], after_stages: list[str] | None = None
) -> str:
    data = result.model_dump(mode="json")
    for entry in data["stages"]:
        if entry["name"] == stage:
            entry["after"] = after
            if after_stages is not None:
                entry["after_stages"] = after_stages
    return json.dumps(data)


def test_a_large_fleet_s_plan_names_whole_stages_not_every_discover() -> None:
    """400 clusters waiting for 300 Discover appliances (not known): the saved plan stays small."""
    fleet = [box("eca1", Role.COMMAND), *(box(f"eda{i}", Role.DISCOVER) for i in range(300))]
    for c in range(400):
        fleet.append(exa(f"x{c}-m", NodeKind.MANAGER, cluster=f"x{c}"))
        fleet.append(exa(f"x{c}-d", NodeKind.DATA, cluster=f"x{c}"))
    result = plan(fleet)
    managers = next(s for s in result.stages if s.name == "explore x0 managers")
    assert (managers.after_stages, managers.after) == (("command", "discover"), ())
    assert len(result.waits_for(managers)) == 301
    assert sum(len(stage.after) for stage in result.stages) == 0


def test_the_confirmation_counts_many_halted_clusters_and_says_how_many_at_once() -> None:
    """40 clusters are counted, not listed one by one, before apply asks; the limit is said."""
    lines = summary_lines(plan(clusters_fleet(40), concurrency=50, clusters_at_once=10))
    halted = next(line for line in lines if line.startswith("Explore ingest halted"))
    assert halted == (
        "Explore ingest halted while upgrading: 40 clusters (200 nodes): x0 … x39; "
        "at most 10 at a time"
    )
    few = summary_lines(plan(clusters_fleet(2, data=1)))
    assert "Explore ingest halted while upgrading: x0 (2 nodes), x1 (2 nodes)" in few
