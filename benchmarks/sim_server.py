"""Serve a scenario's simulated fleet in its own process for the benchmarks.

    python benchmarks/sim_server.py SCENARIO.yaml --inventory fleet.yaml --summary sim.json [--tls]

Like `orchestrator simulate`, but without an event-log file (writing one line per event
would cost the simulator's core) and, on SIGTERM or SIGINT, it writes a JSON summary:
every event (with `t` in the system-wide monotonic clock, comparable across processes), the
requests each appliance received, and the simulator's own CPU time. With `--tls` every
appliance serves HTTPS with a certificate from the fleet's own CA, which the written inventory
names as its `ca_bundle` (as `orchestrator simulate --tls`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
from pathlib import Path
from typing import Any

from orchestrator.simulator import SimulatedFleet, load_scenario


def _summary(fleet: SimulatedFleet) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "events": [
            {"t": e.t, "appliance": e.appliance, "kind": e.kind, "data": e.data}
            for e in fleet.events
        ],
        "requests": {name: fleet.request_count(name) for name in fleet.names},
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }


async def serve(scenario: Path, inventory: Path, summary: Path, mode: str, *, tls: bool) -> None:
    """Serve (over HTTPS with `tls`) until SIGTERM/SIGINT, then write the summary."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with SimulatedFleet(load_scenario(scenario), tls=tls) as fleet:
        fleet.write_inventory(inventory, keys="file", mode=mode)  # type: ignore[arg-type]
        inventory.with_suffix(".ready").touch()  # the harness waits for this
        await stop.wait()
        text = json.dumps(_summary(fleet))
    await asyncio.to_thread(summary.write_text, text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--summary", type=Path, required=True)
    parser.add_argument("--mode", default="file", choices=("file", "url", "cloud"))
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (the fleet's own CA)")
    args = parser.parse_args()
    asyncio.run(serve(args.scenario, args.inventory, args.summary, args.mode, tls=args.tls))


if __name__ == "__main__":
    main()
