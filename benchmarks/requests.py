"""Request economy: what one appliance's upgrade costs in requests with the default polling.

    python benchmarks/requests.py

Upgrades simulated appliances whose job takes 15 minutes and restart 5 (20 minutes in all)
with the default settings (poll after 5 s, then waits of half the time left to the 20-minute
estimate, at least 60 s, then from 5 s, x1.5, at most every 60 s; 5 requests/s per
appliance), everything scaled by --time-scale so it runs in seconds, in-process with the
real client, steps and runner. The simulator counts the requests each appliance received;
the same policy is also computed from its definition, for this and longer upgrades, to show
the count is bounded: with a right estimate it grows with the logarithm of the upgrade's
length; past the estimate by one request per poll_interval_max of overrun, never faster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from harness import OLD, TARGET, emit

from orchestrator import workflow
from orchestrator.core.config import Settings
from orchestrator.engine.logs import LogObserver, configure_logging
from orchestrator.inventory import load_inventory
from orchestrator.simulator import Scenario, SimulatedFleet

# Requests besides polling: facts (GET /extrahop, GET /appliances for the Explore and Trace
# appliances a Discover appliance, as every one here is, lists as connected, and GET /jobs for
# a job already running), precheck, the backup (create, download, running config), upload,
# start the job, the GET /extrahop after the restart that shows the new version (and is
# verified), and the post-checks (processes, license): 13, as the simulator counts them.
FIXED_REQUESTS = 13
DEFAULTS = Settings()


def poll_times(job: float, restart: float, settings: Settings = DEFAULTS) -> list[float]:
    """When the job is polled, from the policy's definition (steps.job_polls), until DONE.

    One poll after poll_interval, then waits of half the time left to the estimate
    (upgrade_duration + reboot_duration; at least poll_interval_max) until it is reached, one
    then, and from there backoff
    (poll_interval, x1.5, at most poll_interval_max and a tenth of the estimate, never below
    poll_interval) until the job and restart are over.
    """
    end = job + restart
    estimate = settings.upgrade_duration + settings.reboot_duration
    elapsed = settings.poll_interval
    times = [elapsed]
    while elapsed < end and (left := estimate - elapsed) > settings.poll_interval:
        elapsed += min(left, max(left / 2, settings.poll_interval_max))
        times.append(elapsed)
    cap = max(settings.poll_interval, min(settings.poll_interval_max, estimate / 10))
    interval = settings.poll_interval
    while elapsed < end:
        elapsed += interval
        times.append(elapsed)
        interval = min(interval * 1.5, cap)
    return times


def predict(job: float, restart: float, settings: Settings = DEFAULTS) -> dict[str, int]:
    """The default policy's requests, from its definition (`poll_times`).

    When the job ends the appliance restarts at once, so polls during the restart are
    refused (they never reach the appliance, so it does not count them), and the first poll
    after it sees DONE. Then GET /extrahop at once, which is verified.
    """
    times = poll_times(job, restart, settings)
    refused = sum(1 for t in times if job <= t < job + restart)
    return {"counted": len(times) - refused + FIXED_REQUESTS, "refused": refused}


def scenario(args: argparse.Namespace) -> dict[str, Any]:
    """Discover appliances with a `--job` s job and a `--restart` s restart (simulated)."""
    return {
        "time_scale": args.time_scale,
        "target_version": TARGET,
        "image_size": 64 * 1024,
        "available_versions": [TARGET],
        "defaults": {
            "upload_throughput": 0,
            "job_steps": 4,
            "job_duration": args.job,
            "restart_downtime": args.restart,
        },
        "appliances": [
            {"name": f"eda{i}", "role": "discover", "version": OLD} for i in range(args.appliances)
        ],
    }


def scaled_settings(scale: float, state_db: Path, appliances: int) -> Settings:
    """The default settings with every duration (and the request rate) scaled by `scale`."""
    d = DEFAULTS
    return Settings(
        state_db=state_db,
        concurrency=appliances,
        poll_interval=d.poll_interval * scale,
        poll_interval_max=d.poll_interval_max * scale,
        requests_per_second=d.requests_per_second / scale,
        job_deadline=d.job_deadline * scale,
        reboot_deadline=d.reboot_deadline * scale,
        upgrade_duration=d.upgrade_duration * scale,
        reboot_duration=d.reboot_duration * scale,
    )


async def measure(args: argparse.Namespace, workdir: Path) -> dict[str, int]:
    """Upgrade the fleet in-process; the requests each appliance received."""
    async with SimulatedFleet(Scenario.model_validate(scenario(args))) as fleet:
        inventory = load_inventory(fleet.write_inventory(workdir / "fleet.yaml"))
        settings = scaled_settings(args.time_scale, workdir / "state.db", args.appliances)
        plan = await workflow.make_plan(inventory, settings, offline=False)
        report = await workflow.execute(
            plan, inventory, settings, observer=LogObserver(), stop=asyncio.Event()
        )
        if report.exit_code != 0:
            raise SystemExit(f"the upgrade did not succeed (exit code {report.exit_code})")
        return {name: fleet.request_count(name) for name in fleet.names}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Measure the 20-minute upgrade, and compute the policy for longer ones."""
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        configure_logging("json", stream=sink)
        counts = asyncio.run(measure(args, workdir))
    minutes = args.job / 60 + args.restart / 60
    bounded = {
        f"{job + restart:g} min": predict(job * 60.0, restart * 60.0)["counted"]
        for job, restart in ((5, 5), (15, 5), (45, 15), (60, 30))
    }
    return {
        "upgrade_minutes": minutes,
        "poll_interval": DEFAULTS.poll_interval,
        "poll_interval_max": DEFAULTS.poll_interval_max,
        "measured_requests_per_appliance": max(counts.values()),
        "predicted": predict(args.job, args.restart),
        "predicted_requests_by_upgrade_length": bounded,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", type=float, default=900.0, help="simulated seconds of the job")
    parser.add_argument("--restart", type=float, default=300.0, help="simulated seconds down")
    parser.add_argument("--appliances", type=int, default=4)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp:
        results = run(args, Path(tmp))
    predicted = results["predicted"]
    table = [
        ("upgrade (job + restart)", f"{args.job / 60:g} + {args.restart / 60:g} min"),
        ("polling", "5 s, every 60 s to the estimate, then 5 s x1.5 up to 60 s (defaults)"),
        ("requests per appliance", f"{results['measured_requests_per_appliance']} (measured)"),
        ("predicted", f"{predicted['counted']} (+ {predicted['refused']} refused while down)"),
    ]
    table += [
        (f"predicted, {length} upgrade", str(count))
        for length, count in results["predicted_requests_by_upgrade_length"].items()
    ]
    emit(results, as_json=args.json, table=table)


if __name__ == "__main__":
    main()
