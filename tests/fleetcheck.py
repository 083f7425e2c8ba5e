"""Test helpers: wait for the simulator's event log, and check a fleet finished cleanly.

The simulator runs in its own process (`simproc.Sim`) and outlives the orchestrator; its event
log is the ground truth for what each appliance went through.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import TYPE_CHECKING, Any

from fleetrun import TARGET, lab

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

    from simproc import Sim

Event = dict[str, Any]
WAVES = [["eca1"], ["eda1"], ["exa-m1"], ["exa-d1"], ["eta1"]]
NAMES = [name for wave in WAVES for name in wave]
# The vendor's rules order every pair of waves but Explore and Trace (graph plans run them
# side by side): Command before all, Discover before Explore and Trace, managers before data.
UNORDERED = {(2, 4), (3, 4)}


def slow_lab() -> dict[str, Any]:
    """The small lab fleet, with uploads slow enough to be interrupted mid-way."""
    scenario = lab(small=True)
    scenario["defaults"]["upload_throughput"] = 400  # simulated B/s: ~0.6 s a 256 KiB image
    return scenario


def wait_for(sim: Sim, condition: Callable[[list[Event]], bool], timeout: float = 60) -> None:
    """Block until the simulator's event log satisfies `condition`."""
    deadline = time.monotonic() + timeout
    while not condition(sim.events()):
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.01)


def has(kind: str, appliance: str | None = None, **data: object) -> Callable[[list[Event]], bool]:
    """A condition: an event of `kind` (for `appliance`, with `data`) happened."""

    def check(events: list[Event]) -> bool:
        return any(
            e["kind"] == kind
            and (appliance is None or e["appliance"] == appliance)
            and all(e["data"].get(k) == v for k, v in data.items())
            for e in events
        )

    return check


def assert_fleet_finished_cleanly(sim: Sim, *, may_upload_again: str | None = None) -> None:
    """Every appliance on the target, ingest enabled, nothing done twice, the vendor's order.

    `may_upload_again`: the appliance whose upload a kill may have caught between its 201 and
    the journal (uploaded at most twice; its job, like every job, started once).
    """
    events = sim.events()
    versions = {}
    for event in events:
        if event["kind"] == "restart.finished":
            versions[event["appliance"]] = event["data"]["version"]
    assert versions == dict.fromkeys(NAMES, TARGET)
    ingest = [e["data"]["enabled"] for e in events if e["kind"] == "ingest.changed"]
    assert ingest
    assert ingest[-1] is True
    jobs = collections.Counter(e["appliance"] for e in events if e["kind"] == "job.created")
    assert max(jobs.values()) == 1, f"upgraded twice: {jobs}"
    uploads = collections.Counter(e["appliance"] for e in events if e["kind"] == "upload.completed")
    if may_upload_again is not None:
        assert uploads.pop(may_upload_again) <= 2, f"uploaded three times: {may_upload_again}"
    assert max(uploads.values()) == 1, f"uploaded twice: {uploads}"
    times = {
        name: (
            min(e["t"] for e in events if e["appliance"] == name and e["kind"] == "job.created"),
            max(
                e["t"] for e in events if e["appliance"] == name and e["kind"] == "restart.finished"
            ),
        )
        for name in NAMES
    }
    for (i, earlier), (j, later) in itertools.combinations(enumerate(WAVES), 2):
        if (i, j) in UNORDERED:
            continue
        assert max(times[n][1] for n in earlier) < min(times[n][0] for n in later)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler runs, nothing is flushed but what was committed."""
    proc.kill()
    proc.communicate(timeout=10)
