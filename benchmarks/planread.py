"""Reading a fleet for its plan: wall time and CPU of `orchestrator plan`, over HTTP or TLS.

    python benchmarks/planread.py --appliances 2000 --tls --runs 3

`plan` reads every appliance before anything is changed (its version and platform, an Explore
node's cluster, a Discover appliance's connected appliances, a job already running): the part
of every `apply` that comes before the first upgrade. The fleet is overhead.py's mix, served by
benchmarks/sim_server.py in its own process; `plan` runs `--runs` times in fresh processes
against the same simulator. Wall time and CPU (user + system, from `os.wait4`) are medians with
their range, never the best run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import overhead
from harness import Simulator, emit, in_workdir, orchestrator_argv, orchestrator_env, spread


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Serve the fleet, plan it `args.runs` times; the medians and ranges."""
    fleet = overhead.parse_args(["--appliances", str(args.appliances)])
    sim = Simulator(workdir, overhead.scenario(fleet), tls=args.tls)
    env = orchestrator_env(overhead.settings(fleet, workdir, "right"))
    argv = orchestrator_argv("plan", str(sim.inventory), "--log-format", "json")
    argv += ["--concurrency", str(args.concurrency), "--out", str(workdir / "plan.json")]
    walls: list[float] = []
    cpus: list[float] = []
    try:
        for _ in range(args.runs):
            began = time.monotonic()
            proc = subprocess.Popen(
                argv, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            _, status, usage = os.wait4(proc.pid, 0)
            walls.append(time.monotonic() - began)
            cpus.append(usage.ru_utime + usage.ru_stime)
            if status != 0:
                error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"plan failed ({status}):\n{error[-2000:]}")
            if proc.stderr:
                proc.stderr.close()
    finally:
        sim.stop()
    return {
        "appliances": args.appliances,
        "tls": args.tls,
        "runs": args.runs,
        "wall_seconds": spread(walls),
        "cpu_seconds": spread(cpus),
        "cpu_ms_per_appliance": spread([1000 * c / args.appliances for c in cpus]),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--tls", action="store_true", help="every appliance serves HTTPS")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = in_workdir(args.workdir, "bench-planread-", lambda path: measure(args, path))
    table = [("fleet", f"{args.appliances:,} appliances over {'TLS' if args.tls else 'HTTP'}")]
    for key, unit in (("wall_seconds", "s"), ("cpu_seconds", "s"), ("cpu_ms_per_appliance", "ms")):
        found = results[key]
        low, median, high = (round(found[k], 3) for k in ("min", "median", "max"))
        shown = f"{median} {unit} ({low} to {high}, {args.runs} runs)"
        table.append((key.replace("_", " "), shown))
    emit(results, as_json=args.json, table=table)


if __name__ == "__main__":
    main()
