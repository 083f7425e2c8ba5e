"""Batches and gates in the engine, against appliances in memory, read on the simulator's log.

A failing canary leaves the rest of its stage untouched; batches never overlap; a gate stops
the run starting work until it is answered; resume goes on across a gate and a batch boundary.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

from fleetrun import TARGET, lab
from memrun import MemoryRun, fast

from orchestrator.core.models import Outcome
from orchestrator.engine import runner
from orchestrator.engine.ports import GateAnswered, GateOpened

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    import pytest

    from orchestrator.engine.ports import GateRequest, StateChanged

CHANGING = {"upload.started", "job.created"}  # the first requests that change an appliance


def discover_fleet(count: int, faults: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """One Command appliance and `count` Discover appliances, on a fast clock."""
    scenario = lab(faults, small=True)
    scenario["appliances"] = [a for a in scenario["appliances"] if a["role"] == "command"]
    for i in range(1, count + 1):
        name = f"eda{i}"
        spec: dict[str, Any] = {"name": name, "role": "discover", "version": "9.8.0.100"}
        spec["api_key"] = f"secret-key-{name}-0123456789"
        if faults and name in faults:
            spec["faults"] = faults[name]
        scenario["appliances"].append(spec)
    scenario["time_scale"] = 0.00005
    return scenario


async def planned(tmp_path: Path, scenario: dict[str, Any], **settings: Any) -> MemoryRun:  # noqa: ANN401
    return await MemoryRun.planned(scenario, tmp_path, fast(**settings))


def touched(run: MemoryRun) -> set[str]:
    """The appliances the run sent a changing request to, by the simulator's log."""
    return {e.appliance for e in run.fleet.events if e.kind in CHANGING}


def spans(run: MemoryRun) -> dict[str, tuple[float, float]]:
    """When each appliance's first change began and its restart ended."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for event in run.fleet.events:
        if event.kind in CHANGING:
            starts.setdefault(event.appliance, event.t)
        if event.kind == "restart.finished":
            ends[event.appliance] = event.t
    return {name: (starts[name], ends[name]) for name in starts}


def outcomes(run: MemoryRun) -> dict[str, Outcome]:
    return {r.name: r.outcome for r in run.reports[-1].results}


async def test_a_failing_canary_leaves_the_rest_of_its_stage_untouched(tmp_path: Path) -> None:
    """The canary's job fails: no request changes the others, which are blocked with the reason."""
    run = await planned(
        tmp_path, discover_fleet(4, {"eda1": {"job_result": "FAILED"}}), batches="1,2"
    )
    report = await run.run()
    assert report.exit_code == 1
    assert touched(run) == {"eca1", "eda1"}
    results = {r.name: r for r in report.results}
    assert results["eda1"].outcome is Outcome.FAILED
    for name in ("eda2", "eda3", "eda4"):
        assert results[name].outcome is Outcome.BLOCKED
        assert results[name].error == "batch 1 of wave discover did not finish: eda1"


async def test_batches_never_overlap(tmp_path: Path) -> None:
    """Each batch's first change comes after every appliance of the batch before restarted."""
    run = await planned(tmp_path, discover_fleet(5), batches="1,2", concurrency=4)
    report = await run.run()
    assert report.exit_code == 0
    times = spans(run)
    batches = [["eda1"], ["eda2", "eda3"], ["eda4", "eda5"]]
    for earlier, later in itertools.pairwise(batches):
        assert max(times[n][1] for n in earlier) < min(times[n][0] for n in later)
    # Within a batch the appliances do run at once (concurrency 4): the batch is the limit.
    assert times["eda3"][0] < times["eda2"][1]
    assert set(run.fleet.appliances) == touched(run)
    assert {a.version for a in run.fleet.appliances.values()} == {TARGET}


async def test_a_gate_waits_before_each_batch_showing_what_finished(tmp_path: Path) -> None:
    """With --pause-after batch, nothing of the next batch starts before the gate is answered."""
    run = await planned(tmp_path, discover_fleet(3), batches="1,2", pause_after="batch")
    seen: list[set[str]] = []
    run.gate.answers = ["continue", "continue"]
    run.gate.during = lambda _: seen.append(touched(run))
    report = await run.run()
    assert report.exit_code == 0
    gates = [r.gate for r in run.gate.requests]
    assert gates == ["discover batch 1", "discover batch 2"]
    assert seen == [{"eca1"}, {"eca1", "eda1"}]  # the run waits: nothing new was touched
    assert run.gate.requests[1].finished == (("eda1", Outcome.DONE),)
    assert [(g.gate, g.answer, g.by) for g in report.gates] == [
        ("discover batch 1", "continue", "ops@memory"),
        ("discover batch 2", "continue", "ops@memory"),
    ]
    events = run.reports[-1]
    assert events.gates[0].answered_at >= events.gates[0].opened_at


async def test_gates_after_each_stage_come_before_the_ingest_halt(tmp_path: Path) -> None:
    """With --pause-after stage, the gate before the Explore stage waits with ingest still on."""
    scenario = lab(small=True)
    scenario["time_scale"] = 0.00005
    run = await planned(tmp_path, scenario, pause_after="stage")
    ingest_on: list[bool] = []

    def look(request: GateRequest) -> None:
        cluster = run.fleet.appliances["exa-m1"].cluster
        assert cluster is not None
        ingest_on.append(cluster.ingest_enabled)

    run.gate.answers = ["continue"] * 4
    run.gate.during = look
    report = await run.run()
    assert report.exit_code == 0
    assert [r.gate for r in run.gate.requests] == [
        "discover",
        "explore-managers",
        "explore-data",
        "trace",
    ]
    assert ingest_on[:2] == [True, True]  # before the cluster's first node: not halted yet


async def test_stop_at_a_gate_cancels_the_rest_and_resume_waits_there_again(
    tmp_path: Path,
) -> None:
    """`stop` cancels what is behind the gate (exit 3); resume waits at that gate, then goes on."""
    run = await planned(tmp_path, discover_fleet(3), batches="1", pause_after="batch")
    run.gate.answers = ["continue", "stop"]
    report = await run.run()
    assert report.exit_code == 3
    assert touched(run) == {"eca1", "eda1"}
    assert outcomes(run)["eda2"] is Outcome.CANCELLED
    errors = {r.name: r.error for r in report.results}
    assert errors["eda2"] == "stopped at the gate before discover batch 2 by ops@memory"
    assert errors["eda3"] == errors["eda2"]
    run.gate.answers = ["continue", "continue"]
    resumed = await run.run()
    assert resumed.exit_code == 0
    assert [r.gate for r in run.gate.requests] == [
        "discover batch 1",
        "discover batch 2",
        "discover batch 2",  # stopped there: the resumed run asks again
        "discover batch 3",
    ]
    assert {a.version for a in run.fleet.appliances.values()} == {TARGET}


async def test_resume_across_a_batch_boundary_starts_no_job_twice(tmp_path: Path) -> None:
    """Interrupted in batch 2: resume finishes it, then batch 3; no appliance's job twice."""
    run = await planned(tmp_path, discover_fleet(4), batches="1,2")

    def interrupt(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        del stop
        if event.appliance == "eda2" and event.state is Outcome.REBOOTING:
            task.cancel()

    first = await run.run(trigger=interrupt)
    assert first.exit_code == 3
    assert "eda4" not in touched(run)
    second = await run.run()
    assert second.exit_code == 0
    jobs = [e.appliance for e in run.fleet.events if e.kind == "job.created"]
    assert sorted(jobs) == ["eca1", "eda1", "eda2", "eda3", "eda4"]
    times = spans(run)
    assert max(times["eda2"][1], times["eda3"][1]) < times["eda4"][0]


async def test_a_gate_still_waiting_at_the_window_end_defers_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window closes while the gate waits: what is behind it is deferred, not started."""
    window = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    run = await planned(tmp_path, discover_fleet(2), batches="1", pause_after="batch")
    run.settings = run.settings.model_copy(update={"window_end": window})
    clock = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(runner, "_now", lambda: clock[0])

    def window_passes(request: GateRequest) -> None:
        if request.gate == "discover batch 2":
            clock[0] = window + dt.timedelta(minutes=1)  # the person never came

    run.gate.answers = ["continue", "window"]
    run.gate.during = window_passes
    report = await run.run()
    assert report.exit_code == 3
    assert outcomes(run)["eda2"] is Outcome.DEFERRED
    assert "eda2" not in touched(run)
    assert (report.gates[-1].answer, report.gates[-1].by) == ("window", None)


async def test_gate_events_reach_the_observers(tmp_path: Path) -> None:
    """Observers (the live view, the log) hear that the run waits, then the answer."""
    run = await planned(tmp_path, discover_fleet(2), batches="1", pause_after="batch")
    run.gate.answers = ["continue", "continue"]
    await run.run()
    gates = [e for e in run.observed if isinstance(e, GateOpened | GateAnswered)]
    assert [type(e).__name__ for e in gates] == ["GateOpened", "GateAnswered"] * 2
    opened = [e.request.gate for e in gates if isinstance(e, GateOpened)]
    assert opened == ["discover batch 1", "discover batch 2"]


async def test_a_stage_gate_shows_the_whole_stage_that_finished(tmp_path: Path) -> None:
    """Before a stage's gate the run names every appliance of the stage before, not one batch."""
    scenario = lab()
    scenario["time_scale"] = 0.00005
    run = await planned(tmp_path, scenario, batches="1", pause_after="stage")
    run.gate.answers = ["continue"] * 4
    await run.run()
    before_explore = run.gate.requests[1]
    assert before_explore.gate == "explore-managers"
    assert before_explore.finished == (
        ("eda1", Outcome.DONE),
        ("eda2", Outcome.DONE),
        ("eda3", Outcome.DONE),
    )


async def test_ctrl_c_at_a_gate_stops_the_run_without_an_answer(tmp_path: Path) -> None:
    """The stop event (Ctrl-C) ends the wait: the rest is cancelled and no answer recorded."""
    run = await planned(tmp_path, discover_fleet(2), batches="1", pause_after="batch")
    stop_now: list[asyncio.Event] = []

    def grab(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        del event, task
        stop_now[:] = [stop]

    def interrupt(request: GateRequest) -> None:
        if request.gate == "discover batch 2":
            stop_now[0].set()

    run.gate.answers = ["continue"]
    run.gate.during = interrupt
    run.gate.hold = {"discover batch 2"}
    report = await run.run(trigger=grab)
    assert report.exit_code == 3
    assert [g.gate for g in report.gates] == ["discover batch 1"]
    assert outcomes(run)["eda2"] is Outcome.CANCELLED
    errors = {r.name: r.error for r in report.results}
    assert errors["eda2"] == "run interrupted at the gate before discover batch 2"
