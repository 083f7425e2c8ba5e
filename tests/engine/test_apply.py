"""End-to-end runs of the engine against the simulated fleet, checked on its event log."""

from __future__ import annotations

import itertools
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fleetrun import (
    OLD,
    TARGET,
    apply_scenario,
    came_back,
    fast_settings,
    first_change,
    lab,
    wave_members,
)

from orchestrator.core.errors import PlanError
from orchestrator.core.tls import TlsCheck
from orchestrator.plan import WAVE_ORDER, WaveKind

if TYPE_CHECKING:
    from fleetrun import RunResult

    from orchestrator.plan import Plan
    from orchestrator.simulator import SimulatedFleet

pytestmark = pytest.mark.slow


# What the vendor's rules leave unordered (a graph plan runs them side by side).
UNORDERED = {
    (WaveKind.EXPLORE_MANAGERS, WaveKind.TRACE),
    (WaveKind.EXPLORE_DATA, WaveKind.TRACE),
}


def assert_wave_order(run: RunResult) -> None:
    """No appliance was touched before every one the vendor puts before it came back.

    A waves plan: every earlier wave; a graph plan: Command before everything, Discover
    before Explore and Trace, managers before data nodes (the lab has one cluster).
    """
    members = wave_members(run.plan)
    events = run.events
    for earlier, later in itertools.combinations(WAVE_ORDER, 2):
        if run.plan.schedule == "graph" and (earlier, later) in UNORDERED:
            continue
        done = [came_back(events, n) for n in members[earlier]]
        started = [first_change(events, n) for n in members[later]]
        done_times = [t for t in done if t is not None]
        start_times = [t for t in started if t is not None]
        if done_times and start_times:
            assert max(done_times) < min(start_times), f"{later} started before {earlier} ended"


def ingest_changes(run: RunResult) -> list[tuple[float, bool]]:
    """(time, enabled) of every ingest change the simulator saw."""
    return [(e.t, bool(e.data["enabled"])) for e in run.events if e.kind == "ingest.changed"]


def explore_nodes(run: RunResult) -> list[str]:
    """Names of the Explore nodes in the fleet."""
    return [a.name for a in run.plan.appliances() if a.cluster == "exa"]


@pytest.mark.parametrize("mode", ["file", "url", "cloud"])
async def test_full_fleet_upgrades_over_tls_in_every_firmware_mode(
    tmp_path: Path, mode: str
) -> None:
    """Every appliance of lab-sim, served over HTTPS, ends on the target, whatever the source."""
    run = await apply_scenario(lab(), tmp_path, mode=mode, tls=True)
    assert run.report.exit_code == 0
    assert {r.outcome.value for r in run.report.results} == {"done"}
    assert {r.tls for r in run.report.results} == {TlsCheck.CA}
    assert all(run.inventory.by_name(n).url.startswith("https://") for n in run.fleet.names)
    assert all(run.fleet.version(n) == TARGET for n in run.fleet.names)
    assert run.fleet.ingest_enabled("exa")
    assert_wave_order(run)
    if mode == "url":  # each appliance fetched its whole image from the repository, over TLS
        downloads = run.fleet.events_of("download.completed")
        assert sorted(e.appliance for e in downloads) == sorted(run.fleet.names)
        assert {e.data["bytes"] for e in downloads} == {lab()["image_size"]}


async def test_a_failed_url_download_fails_the_appliance_in_its_own_words(
    tmp_path: Path,
) -> None:
    """An image URL nothing answers: the job ends FAILED, reported with the appliance's words."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/firmware/trace-{TARGET}.tar"

    def unreachable_trace_image(inventory: dict[str, Any]) -> None:
        inventory["firmware"]["trace"]["url"] = url

    run = await apply_scenario(
        lab(small=True), tmp_path, mode="url", edit_inventory=unreachable_trace_image
    )
    assert run.outcome("eta1") == "failed"
    assert run.error("eta1").endswith(
        f"ended FAILED: download failed: cannot connect to 127.0.0.1:{port} (Connection refused)"
    )
    assert run.fleet.version("eta1") == OLD
    assert run.report.exit_code == 1


async def test_an_allowed_downgrade_by_url_is_forced(tmp_path: Path) -> None:
    """With --allow-downgrade, a URL download of an older image sends force and goes through."""
    settings = fast_settings(tmp_path, allow_downgrade=True)
    scenario = lab(small=True, versions={"eda1": "9.9.5.100"})
    run = await apply_scenario(scenario, tmp_path, mode="url", settings=settings)
    assert run.report.exit_code == 0, run.error("eda1")
    assert run.plan.by_name("eda1").downgrade
    assert run.fleet.version("eda1") == TARGET


async def test_ingest_is_halted_before_the_first_explore_node_and_restored_after_the_last(
    tmp_path: Path,
) -> None:
    """The cluster stops ingesting before any node is touched and resumes after all are back."""
    run = await apply_scenario(lab(small=True), tmp_path)
    changes = ingest_changes(run)
    assert [enabled for _, enabled in changes] == [False, True]
    nodes = explore_nodes(run)
    first = min(t for n in nodes if (t := first_change(run.events, n)) is not None)
    last = max(t for n in nodes if (t := came_back(run.events, n)) is not None)
    assert changes[0][0] < first
    assert changes[1][0] > last


async def test_ingest_already_off_is_left_off(tmp_path: Path) -> None:
    """A cluster found disabled, kept off by choice, is neither halted nor re-enabled."""
    settings = fast_settings(tmp_path, ingest_found_off="keep")
    run = await apply_scenario(lab(small=True, ingest_enabled=False), tmp_path, settings=settings)
    assert run.report.exit_code == 0
    assert ingest_changes(run) == []
    assert not run.fleet.ingest_enabled("exa")
    assert [a.action for a in run.report.ingest] == ["left_off"]
    assert run.report.ingest_found_off == {"exa": "keep"}


async def test_ingest_found_off_is_never_left_off_without_a_choice(tmp_path: Path) -> None:
    """Without a choice for a cluster found disabled, the run refuses before changing anything."""
    with pytest.raises(PlanError, match="--ingest-found-off keep"):
        await apply_scenario(lab(small=True, ingest_enabled=False), tmp_path)


async def test_ingest_found_off_is_enabled_after_the_upgrade_when_chosen(tmp_path: Path) -> None:
    """`--ingest-found-off enable`: halted (already off) before Explore, enabled after it."""
    settings = fast_settings(tmp_path, ingest_found_off="enable")
    run = await apply_scenario(lab(small=True, ingest_enabled=False), tmp_path, settings=settings)
    assert run.report.exit_code == 0
    assert ingest_changes(run)[-1][1] is True
    assert run.fleet.ingest_enabled("exa")
    assert run.report.ingest_found_off == {"exa": "enable"}
    explore_jobs = [e.t for e in run.events if e.kind == "job.created" and "exa" in e.appliance]
    enabled_at = [e.t for e in run.events if e.kind == "ingest.changed" and e.data["enabled"]]
    assert min(enabled_at) > max(explore_jobs)


async def test_failed_explore_manager_blocks_its_data_nodes_and_restores_ingest(
    tmp_path: Path,
) -> None:
    """A manager's job failing blocks its cluster's data nodes, and nothing else (exit 1).

    Ingest is enabled again; Trace waits for no Explore appliance, so it is upgraded.
    """
    run = await apply_scenario(lab({"exa-m1": {"job_result": "FAILED"}}, small=True), tmp_path)
    assert run.report.exit_code == 1
    assert run.outcome("exa-m1") == "failed"
    assert "FAILED" in run.error("exa-m1")
    assert run.outcome("exa-d1") == "blocked"
    assert run.error("exa-d1") == "waits for exa-m1, which failed"
    assert first_change(run.events, "exa-d1") is None
    assert run.fleet.ingest_enabled("exa")
    assert run.outcome("eta1") == "done"


async def test_with_waves_a_failed_explore_node_blocks_trace(tmp_path: Path) -> None:
    """`--schedule waves`: the Explore waves failing leave Trace untouched (exit 1)."""
    scenario = lab({"exa-m1": {"job_result": "FAILED"}}, small=True)
    run = await apply_scenario(
        scenario, tmp_path, settings=fast_settings(tmp_path, schedule="waves")
    )
    assert run.plan.schedule == "waves"
    assert run.outcome("exa-d1") == "blocked"
    assert run.outcome("eta1") == "blocked"
    assert run.fleet.ingest_enabled("exa")
    assert first_change(run.events, "eta1") is None


async def test_discover_failure_blocks_explore_and_trace_but_its_wave_finishes(
    tmp_path: Path,
) -> None:
    """One Discover failing lets the other Discovers finish and blocks every later wave."""
    run = await apply_scenario(lab({"eda2": {"job_result": "TIMEOUT"}}), tmp_path)
    assert run.report.exit_code == 1
    assert run.outcome("eda2") == "failed"
    assert run.outcome("eda1") == "done"
    assert run.outcome("eda3") == "done"
    later = [*list(explore_nodes(run)), "eta1", "eta2"]
    assert all(run.outcome(n) == "blocked" for n in later)
    assert all(first_change(run.events, n) is None for n in later)
    assert "eda2" in run.error("eta1")
    assert run.fleet.ingest_enabled("exa")


async def test_version_unchanged_after_done_is_a_failure(tmp_path: Path) -> None:
    """An appliance that reports DONE but comes back on the old version is failed, not done."""
    run = await apply_scenario(lab({"eta1": {"version_unchanged": True}}, small=True), tmp_path)
    assert run.outcome("eta1") == "failed"
    assert "version unchanged" in run.error("eta1")
    assert run.fleet.version("eta1") == OLD
    assert run.report.exit_code == 1


async def test_transient_faults_are_survived(tmp_path: Path) -> None:
    """5xx bursts, 429s, a dropped upload, a busy appliance and a slow restart all end done."""
    faults: dict[str, dict[str, Any]] = {
        "eca1": {"http_5xx": 3},
        "eda1": {"rate_limit": {"count": 2, "retry_after": 0.05}},
        "exa-m1": {"drop_upload_at": 0.5},
        "exa-d1": {"slow_restart": 4.0},
        "eta1": {"http_5xx": 2},
    }
    run = await apply_scenario(lab(faults, small=True), tmp_path)
    assert run.report.exit_code == 0, [(r.name, r.error) for r in run.report.results]
    assert all(run.fleet.version(n) == TARGET for n in run.fleet.names)


async def test_an_appliance_that_stays_down_after_its_restart_is_not_a_running_job(
    tmp_path: Path,
) -> None:
    """Down from the restart until the job deadline: it did not come back, for how long."""
    scenario = lab({"eca1": {"slow_restart": 50.0}}, small=True)  # down 12 s, deadline 2 s
    run = await apply_scenario(scenario, tmp_path, settings=fast_settings(tmp_path, job_deadline=2))
    assert run.outcome("eca1") == "failed"
    error = run.error("eca1")
    assert re.search(r"did not come back after its restart: not answering for [12]s \(job ", error)
    assert error.endswith(", deadline 2s)")
    assert "still running" not in error
    assert run.outcome("eda1") == "blocked"


async def test_an_image_changed_after_the_plan_fails_its_appliance_unsent(tmp_path: Path) -> None:
    """An image edited between plan and apply is never installed: failed in one line, no retry."""
    changed: list[str] = []

    def tamper(plan: Plan) -> None:
        image = plan.by_name("eca1").image
        assert image is not None
        with Path(image.path).open("r+b") as handle:
            handle.seek(image.size - 8)
            handle.write(b"tampered")
        changed.append(image.path)

    scenario = lab(small=True) | {"image_size": 2 * 1024 * 1024 + 5}  # three chunks
    run = await apply_scenario(scenario, tmp_path, after_plan=tamper)
    assert run.outcome("eca1") == "failed"
    assert re.fullmatch(
        rf"eca1: image {re.escape(changed[0])} changed since the plan "
        r"\(sha256 [0-9a-f]{12}… -> [0-9a-f]{12}…\); plan again",
        run.error("eca1"),
    )
    kinds = [e.kind for e in run.events if e.appliance == "eca1"]
    assert kinds.count("upload.started") == 1
    assert "upload.completed" not in kinds
    assert "job.created" not in kinds
    assert run.outcome("eda1") == "blocked"
    assert run.report.exit_code == 1


async def test_pre_85_appliance_without_job_location_is_verified_by_version(
    tmp_path: Path,
) -> None:
    """Without a job to poll, the upgrade is followed through the running version."""
    run = await apply_scenario(lab({"eda1": {"no_job_location": True}}, small=True), tmp_path)
    assert run.outcome("eda1") == "done"
    assert run.fleet.version("eda1") == TARGET


async def test_concurrency_never_exceeds_the_limit(tmp_path: Path) -> None:
    """At most --concurrency appliances are being changed at any moment."""
    run = await apply_scenario(lab(), tmp_path, settings=fast_settings(tmp_path, concurrency=2))
    spans = []
    for name in run.fleet.names:
        start, end = first_change(run.events, name), came_back(run.events, name)
        assert start is not None
        assert end is not None
        spans.append((start, end))
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    busy = peak = 0
    for _, delta in points:
        busy += delta
        peak = max(peak, busy)
    assert peak == 2


async def test_appliances_at_the_target_are_skipped_untouched(tmp_path: Path) -> None:
    """An appliance already at the target is reported skipped and never changed."""
    run = await apply_scenario(lab(versions={"eda1": TARGET}, small=True), tmp_path)
    assert run.outcome("eda1") == "skipped"
    assert first_change(run.events, "eda1") is None
    assert run.report.exit_code == 0


async def test_stop_lets_running_upgrades_finish_and_restores_ingest(tmp_path: Path) -> None:
    """A stop during the Explore waves finishes the running node, starts nothing new, exit 3."""

    def explore_started(fleet: SimulatedFleet) -> bool:
        return any(
            e.kind == "job.created" and e.appliance.startswith("exa-m") for e in fleet.events
        )

    run = await apply_scenario(lab(), tmp_path, stop_when=explore_started)
    assert run.report.exit_code == 3
    outcomes = {r.name: r.outcome.value for r in run.report.results}
    assert outcomes["eca1"] == "done"
    assert "cancelled" in outcomes.values()
    assert outcomes["eta1"] == "cancelled"
    assert first_change(run.events, "eta1") is None
    assert run.fleet.ingest_enabled("exa")
    for name, outcome in outcomes.items():
        if outcome == "done":
            assert run.fleet.version(name) == TARGET


async def test_failure_budget_stops_starting_new_appliances(tmp_path: Path) -> None:
    """Past --max-failures no new appliance starts; those left are blocked."""
    faults = {"eda1": {"job_result": "FAILED"}}
    settings = fast_settings(tmp_path, concurrency=1, max_failures="0")
    run = await apply_scenario(lab(faults), tmp_path, settings=settings)
    assert run.outcome("eda1") == "failed"
    assert run.outcome("eda2") == "blocked"
    assert "failure budget" in run.error("eda2")
    assert first_change(run.events, "eda2") is None


async def test_window_end_defers_what_cannot_finish(tmp_path: Path) -> None:
    """An appliance whose estimate overruns the window is deferred, not started (exit 3)."""
    import datetime as dt  # noqa: PLC0415

    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    settings = fast_settings(tmp_path, window_end=end, upgrade_duration=3600.0)
    run = await apply_scenario(lab(small=True), tmp_path, settings=settings)
    assert run.report.exit_code == 3
    assert {r.outcome.value for r in run.report.results} == {"deferred"}
    assert all(first_change(run.events, n) is None for n in run.fleet.names)


async def test_ingest_is_not_halted_when_the_window_closed_before_any_node_could_start(
    tmp_path: Path,
) -> None:
    """A slow Discover job used up the window the plan fitted: Explore never starts.

    Its cluster keeps recording: no pointless halt and restore.
    """
    import datetime as dt  # noqa: PLC0415

    scenario = lab(small=True)
    for spec in scenario["appliances"]:
        if spec["name"] == "eda1":
            spec["job_duration"] = 4000  # 4 s instead of the 0.6 s the plan expects
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3.5)
    run = await apply_scenario(scenario, tmp_path, settings=fast_settings(tmp_path, window_end=end))
    assert run.outcome("eda1") == "done"
    assert run.outcome("exa-m1") == "deferred"
    planned = {a.name: a for a in run.plan.appliances()}
    assert planned["exa-m1"].fits_window  # deferred at run time, not in the plan
    assert ingest_changes(run) == []
    assert run.report.ingest == ()


async def test_ingest_that_cannot_be_re_enabled_makes_the_run_fail(tmp_path: Path) -> None:
    """Every appliance upgraded but ingest left off is exit 1, with the failure reported."""
    stuck = {"exa-m1": {"ingest_stuck": True}, "exa-d1": {"ingest_stuck": True}}
    settings = fast_settings(tmp_path, retry_attempts=1)
    run = await apply_scenario(lab(stuck, small=True), tmp_path, settings=settings)
    assert {r.outcome.value for r in run.report.results} == {"done"}
    assert run.report.exit_code == 1
    assert not run.fleet.ingest_enabled("exa")
    actions = [a.action for a in run.report.ingest]
    # The halt is journalled as requested before its PATCH, then as acknowledged.
    assert actions == ["halt_requested", "halted", "restore_failed", "restore_failed"]
    assert "could not resume record ingest" in (run.report.ingest[-1].error or "")
