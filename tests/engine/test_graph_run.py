"""A graph plan run through the engine's ports, checked on the simulator's own event list.

No appliance starts before what it waits for restarted; Trace runs beside Explore; a cluster's
ingest is off only while its own nodes are upgraded; a failure blocks only what waits for it.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from fleetrun import TARGET, lab
from memrun import (
    MemoryRun,
    assert_each_once_in_order,
    assert_prerequisites_first,
    cut_at,
    fast,
)

from orchestrator.core.models import Outcome

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from orchestrator.engine.ports import StateChanged
    from orchestrator.plan.model import ClusterStarts


def quick(faults: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The lab fleet (1 Command, 3 Discover, one cluster of 3 + 3, 2 Trace), fast clock."""
    scenario = lab(faults)
    scenario["time_scale"] = 0.00005
    return scenario


def times(run: MemoryRun, kind: str) -> dict[str, float]:
    return {e.appliance: e.t for e in run.fleet.events if e.kind == kind}


def ingest_changes(run: MemoryRun) -> list[tuple[float, bool]]:
    return [(e.t, bool(e.data["enabled"])) for e in run.fleet.events if e.kind == "ingest.changed"]


async def test_trace_is_upgraded_beside_explore_and_nothing_jumps_its_turn(
    tmp_path: Path,
) -> None:
    """Trace's jobs start before the cluster's data nodes finish; every rule is kept."""
    run = await MemoryRun.planned(quick(), tmp_path, fast(concurrency=6))
    assert run.plan.schedule == "graph"
    report = await run.run()
    assert report.exit_code == 0
    assert_each_once_in_order(run, version=TARGET, kind="job.created")
    started, restarted = times(run, "job.created"), times(run, "restart.finished")
    last_data = max(restarted[n] for n in ("exa-d1", "exa-d2", "exa-d3"))
    assert min(started[n] for n in ("eta1", "eta2")) < last_data
    run.fleet.close()


async def test_a_cluster_s_ingest_is_off_only_while_its_own_nodes_are_upgraded(
    tmp_path: Path,
) -> None:
    """Halted after every Discover restarted, before its first node's job; restored after.

    Its last node restarted first: never off while it waits for other appliances.
    """
    run = await MemoryRun.planned(quick(), tmp_path, fast(concurrency=6))
    await run.run()
    (off, on) = ingest_changes(run)
    assert (off[1], on[1]) == (False, True)
    restarted, started = times(run, "restart.finished"), times(run, "job.created")
    cluster = [f"exa-{kind}{i}" for kind in ("m", "d") for i in (1, 2, 3)]
    assert max(restarted[n] for n in ("eda1", "eda2", "eda3")) < off[0]
    assert off[0] < min(started[n] for n in cluster)
    assert max(restarted[n] for n in cluster) < on[0]
    run.fleet.close()


async def test_a_failed_manager_blocks_its_data_nodes_and_nothing_else(tmp_path: Path) -> None:
    """exa-m2's job fails: the data nodes are blocked, untouched, naming it; Trace is done."""
    run = await MemoryRun.planned(
        quick({"exa-m2": {"job_result": "FAILED"}}), tmp_path, fast(concurrency=6)
    )
    report = await run.run()
    results = {r.name: r for r in report.results}
    assert report.exit_code == 1
    assert results["exa-m2"].outcome is Outcome.FAILED
    for name in ("exa-d1", "exa-d2", "exa-d3"):
        assert results[name].outcome is Outcome.BLOCKED
        assert results[name].error == "waits for exa-m2, which failed"
        assert name not in times(run, "job.created")
    assert {results[n].outcome for n in ("eta1", "eta2", "exa-m1", "exa-m3")} == {Outcome.DONE}
    assert_prerequisites_first(run, "job.created")
    assert all(enabled for _, enabled in ingest_changes(run)[-1:])  # restored at the end
    run.fleet.close()


async def test_a_failed_discover_blocks_every_explore_and_trace_appliance(tmp_path: Path) -> None:
    """Connections not known: everything after Discover waits for eda2, so all is blocked."""
    run = await MemoryRun.planned(
        quick({"eda2": {"job_result": "FAILED"}}), tmp_path, fast(concurrency=6)
    )
    report = await run.run()
    results = {r.name: r for r in report.results}
    later = ["exa-m1", "exa-m2", "exa-m3", "exa-d1", "exa-d2", "exa-d3", "eta1", "eta2"]
    assert {results[n].outcome for n in later} == {Outcome.BLOCKED}
    assert {results[n].error for n in later} == {"waits for eda2, which failed"}
    assert {results[n].outcome for n in ("eda1", "eda3")} == {Outcome.DONE}
    assert ingest_changes(run) == []  # no cluster was halted for nothing
    run.fleet.close()


async def test_a_stop_lets_what_runs_finish_and_resume_keeps_the_order(tmp_path: Path) -> None:
    """Stopped as the first manager starts, resumed: every rule kept across both runs."""
    run = await MemoryRun.planned(quick(), tmp_path, fast(concurrency=6))

    def stop_at_manager(event: StateChanged, stop: asyncio.Event, _: asyncio.Task[Any]) -> None:
        if event.appliance == "exa-m1" and event.state is Outcome.UPGRADING:
            stop.set()

    first = await run.run(trigger=stop_at_manager)
    assert first.exit_code == 3
    held = {r.name for r in first.results if r.outcome is Outcome.CANCELLED}
    assert {"exa-d1", "exa-d2", "exa-d3"} <= held  # they wait for managers that had not ended
    second = await run.run()
    assert second.exit_code == 0
    assert_each_once_in_order(run, version=TARGET, kind="job.created")
    run.fleet.close()


async def test_connections_learned_from_discover_narrow_what_a_failure_blocks(
    tmp_path: Path,
) -> None:
    """eda1 serves the cluster, eda2 eta1, eda3 eta2: eda2 failing blocks eta1 alone."""
    cluster = [f"exa-{kind}{i}" for kind in ("m", "d") for i in (1, 2, 3)]
    scenario = lab(
        {"eda2": {"job_result": "FAILED"}},
        connected={"eda1": cluster, "eda2": ["eta1"], "eda3": ["eta2"]},
    )
    scenario["time_scale"] = 0.00005
    run = await MemoryRun.planned(scenario, tmp_path, fast(concurrency=6))
    waits = {stage.name: set(run.plan.waits_for(stage)) for stage in run.plan.stages}
    assert waits["explore exa managers"] == {"eca1", "eda1"}
    assert waits["trace 2"] == {"eca1", "eda3"}
    report = await run.run()
    results = {r.name: r for r in report.results}
    assert results["eta1"].outcome is Outcome.BLOCKED
    assert results["eta1"].error == "waits for eda2, which failed"
    assert "eta1" not in times(run, "job.created")
    done = {n for n, r in results.items() if r.outcome is Outcome.DONE}
    assert done == {"eca1", "eda1", "eda3", "eta2", *cluster}
    assert_prerequisites_first(run, "job.created", after=waits_of(run))
    run.fleet.close()


def waits_of(run: MemoryRun) -> dict[str, set[str]]:
    """Each appliance's prerequisites as the plan's stages say (connections known)."""
    plan = run.plan
    return {name: set(plan.waits_for(stage)) for stage in plan.stages for name in stage.members}


def three_clusters() -> dict[str, Any]:
    """The quick lab with clusters a, b and c of a manager and a data node each (1, 2, 3)."""
    scenario = quick()
    for spec in scenario["appliances"]:
        if spec["role"] == "explore":
            spec["cluster"] = "abc"[int(spec["name"][-1]) - 1]
    scenario["clusters"] = {}
    return scenario


def off_spans(run: MemoryRun) -> dict[str, tuple[float, float]]:
    """Each cluster's ingest off, halt to restore, on the simulator's clock."""
    spans: dict[str, list[float]] = {}
    for event in run.fleet.events:
        if event.kind == "ingest.changed":
            spans.setdefault("abc"[int(event.appliance[-1]) - 1], []).append(event.t)
    return {cluster: (min(ts), max(ts)) for cluster, ts in spans.items()}


def assert_one_cluster_off_at_a_time(run: MemoryRun) -> None:
    """All upgraded once, in order; each cluster halted after the one before was restored."""
    assert_each_once_in_order(run, version=TARGET, kind="job.created")
    spans = sorted(off_spans(run).values())
    assert len(spans) == 3
    for (_, restored), (halted, _) in itertools.pairwise(spans):
        assert restored < halted


async def test_with_clusters_at_once_no_two_clusters_have_ingest_off_together(
    tmp_path: Path,
) -> None:
    """One cluster at a time: each is halted after the one before was restored; all done."""
    settings = fast(concurrency=6, clusters_at_once=1)
    run = await MemoryRun.planned(three_clusters(), tmp_path, settings)
    assert run.plan.clusters_at_once == 1
    report = await run.run()
    assert report.exit_code == 0
    assert_one_cluster_off_at_a_time(run)
    free = await MemoryRun.planned(three_clusters(), tmp_path / "free", fast(concurrency=6))
    await free.run()
    together = sorted(off_spans(free).values())
    assert any(halted < restored for (_, restored), (halted, _) in itertools.pairwise(together))
    run.fleet.close()
    free.fleet.close()


async def test_clusters_at_once_holds_across_a_cut_and_the_resume(tmp_path: Path) -> None:
    """Cut hard as cluster b's manager upgrades (its ingest left off), then resumed.

    Still one cluster at a time across both runs (b ends before c is halted), every
    appliance upgraded once and in the vendor's order.
    """
    settings = fast(concurrency=6, clusters_at_once=1)
    run = await MemoryRun.planned(three_clusters(), tmp_path, settings)
    first = await run.run(trigger=cut_at("exa-m2", Outcome.UPGRADING, how="cancel"))
    assert first.exit_code == 3
    second = await run.run()
    assert second.exit_code == 0
    assert_one_cluster_off_at_a_time(run)
    run.fleet.close()


def halts_after_managers(run: MemoryRun) -> list[tuple[float, float]]:
    """For each cluster after the first to be halted: (its halt, the manager before restarted).

    Clusters in the order their ingest was halted, on the simulator's clock.
    """
    halted: dict[str, float] = {}
    for event in run.fleet.events:
        if event.kind == "ingest.changed" and not event.data["enabled"]:
            halted.setdefault("abc"[int(event.appliance[-1]) - 1], event.t)
    restarted = times(run, "restart.finished")
    order = sorted(halted, key=halted.__getitem__)
    return [
        (halted[after], restarted[f"exa-m{'abc'.index(before) + 1}"])
        for before, after in itertools.pairwise(order)
    ]


async def three_on_three(folder: Path, starts: ClusterStarts = "fit") -> MemoryRun:
    """Three clusters of two nodes on three slots, clusters started as `starts` says."""
    run = await MemoryRun.planned(three_clusters(), folder, fast(concurrency=3))
    run.plan = run.plan.model_copy(update={"cluster_starts": starts})
    return run


def assert_each_halted_after_the_manager_before(run: MemoryRun) -> None:
    """All upgraded once, in order; each next cluster halted after the one before's manager."""
    assert_each_once_in_order(run, version=TARGET, kind="job.created")
    pairs = halts_after_managers(run)
    assert len(pairs) == 2
    assert all(halted > restarted for halted, restarted in pairs)


async def test_with_clusters_started_as_they_fit_the_next_waits_for_the_last_node_to_start(
    tmp_path: Path,
) -> None:
    """Two nodes each on three slots: a cluster is halted after the one before restarted.

    It waits until the one before has started its data node, which waits for that cluster's
    manager to restart; all done, in order. Started when ready, a cluster is halted while the
    one before still upgrades its manager.
    """
    run = await three_on_three(tmp_path)
    report = await run.run()
    assert report.exit_code == 0
    assert_each_halted_after_the_manager_before(run)
    free = await three_on_three(tmp_path / "free", "ready")
    await free.run()
    assert any(halted < restarted for halted, restarted in halts_after_managers(free))
    run.fleet.close()
    free.fleet.close()


async def test_clusters_started_as_they_fit_across_a_cut_and_the_resume(tmp_path: Path) -> None:
    """Cut hard as cluster b's manager upgrades (its data node not started), then resumed.

    c still waits for b's data node; every appliance is upgraded once and in order.
    """
    run = await three_on_three(tmp_path)
    first = await run.run(trigger=cut_at("exa-m2", Outcome.UPGRADING, how="cancel"))
    assert first.exit_code == 3
    second = await run.run()
    assert second.exit_code == 0
    assert_each_halted_after_the_manager_before(run)
    run.fleet.close()
