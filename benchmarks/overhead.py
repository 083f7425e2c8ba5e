"""Orchestration overhead at scale: makespan vs. the critical-path bound, RSS, CPU, requests.

    python benchmarks/overhead.py --appliances 1000 --concurrency 50 --variants http,tls --runs 3

A fleet of N simulated appliances (1% Command, 10% Trace, Explore clusters of one manager
and four data nodes making up 20%, the rest Discover) with fixed step durations is upgraded
by `python -m orchestrator apply` in its own process, against the simulator in another.
The lower bound is what the plan allows with zero overhead: waves run one after another, and
a wave of n identical appliances of duration d on c slots cannot end before ceil(n / c) * d
(some slot must take ceil(n / c) of them; list scheduling reaches exactly that).

Each variant (`VARIANTS`: plain HTTP, or HTTPS with the fleet's own CA as the inventory's
`ca_bundle`) is run `--runs` times, the variants alternating, on a fresh fleet each time;
every figure is reported as the median of the runs with their range. Start-up is measured
too: `orchestrator --version` and `orchestrator validate` of the demo inventory (lab-sim's
twelve appliances), wall time of `--startup-runs` fresh processes, beside a bare interpreter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from harness import (
    HERE,
    OLD,
    TARGET,
    Simulator,
    emit,
    in_workdir,
    orchestrator_argv,
    orchestrator_env,
    run_measured,
)

CLUSTER_SIZE = 5  # one manager and four data nodes
DEMO_SCENARIO = HERE.parent / "orchestrator" / "data" / "lab-sim.yaml"


@dataclass(frozen=True)
class Variant:
    """One way of running the same fleet: served over HTTPS or not, extra `apply` arguments."""

    name: str
    tls: bool = False
    apply_args: tuple[str, ...] = ()


# Add a variant here (e.g. `--schedule waves`) and it can be run beside the others.
VARIANTS = {variant.name: variant for variant in (Variant("http"), Variant("tls", tls=True))}


def fleet(count: int) -> list[dict[str, Any]]:
    """A fleet shaped like a large deployment: all five waves, Explore in clusters."""
    commands = max(1, count // 100)
    traces = max(1, count // 10)
    clusters = max(1, count // (5 * CLUSTER_SIZE)) if count >= 2 * CLUSTER_SIZE else 0
    discovers = count - commands - traces - clusters * CLUSTER_SIZE
    if discovers < 1:
        raise SystemExit("--appliances: at least 3 appliances, please")
    specs = [{"name": f"eca{i}", "role": "command"} for i in range(commands)]
    specs += [{"name": f"eda{i}", "role": "discover"} for i in range(discovers)]
    for c in range(clusters):
        specs.append(
            {"name": f"exa{c}-m", "role": "explore", "cluster": f"exa{c}", "node": "manager"}
        )
        specs += [
            {"name": f"exa{c}-d{i}", "role": "explore", "cluster": f"exa{c}", "node": "data"}
            for i in range(CLUSTER_SIZE - 1)
        ]
    specs += [{"name": f"eta{i}", "role": "trace"} for i in range(traces)]
    for spec in specs:
        spec["version"] = OLD
    return specs


def scenario(args: argparse.Namespace) -> dict[str, Any]:
    """Fixed durations, in simulated seconds at `time_scale` wall seconds each."""
    return {
        "time_scale": args.time_scale,
        "target_version": TARGET,
        "image_size": args.image_size,
        "available_versions": [TARGET],
        "defaults": {
            "upload_throughput": 0,  # unlimited: the upload is not what this measures
            "job_steps": 4,
            "job_duration": args.job / args.time_scale,
            "download_duration": 0,
            "restart_downtime": args.restart / args.time_scale,
        },
        "appliances": fleet(args.appliances),
    }


def settings(args: argparse.Namespace, workdir: Path) -> dict[str, float | int | str]:
    """The orchestrator's settings: polling scaled to the durations, estimates matching them."""
    return {
        "poll_interval": args.poll_interval,
        "poll_interval_max": args.poll_interval_max,
        "requests_per_second": args.requests_per_second,
        "job_deadline": 60 * (args.job + args.restart),
        "reboot_deadline": 60 * (args.job + args.restart),
        "upgrade_duration": args.job,
        "reboot_duration": args.restart,
        "state_db": str(workdir / "state.db"),
        "report": str(workdir / "report.json"),
    }


def lower_bound(waves: Counter[str], concurrency: int, per_appliance: float) -> float:
    """Sum over waves of ceil(n / c) * d: no schedule of the plan can finish sooner."""
    return sum(math.ceil(n / concurrency) * per_appliance for n in waves.values())


def _seconds_between(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def run(args: argparse.Namespace, variant: Variant, workdir: Path) -> dict[str, Any]:
    """Serve the fleet, apply it once in this variant, and measure."""
    sim = Simulator(workdir, scenario(args), tls=variant.tls)
    argv = orchestrator_argv("apply", str(sim.inventory), "--yes", "--log-format", "json")
    argv += ["--concurrency", str(args.concurrency), *variant.apply_args]
    if args.profile is not None:  # py-spy's own costs then count too: for finding hot spots
        found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = [found, "record", "--gil", "--rate", "500", "--format", "raw"]
        argv = [*spy, "-o", str(args.profile), "--", *argv]
    try:
        measured = run_measured(
            argv,
            env=orchestrator_env(settings(args, workdir)),
            cwd=workdir,
            stdout=workdir / "apply.out",
            stderr=workdir / "apply.log",
        )
    finally:
        seen = sim.stop()
    if measured.returncode not in {0, 1}:  # 1: some appliance failed, which is reported
        tail = (workdir / "apply.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"apply exited {measured.returncode}; see {workdir}:\n{tail}")
    report = json.loads((workdir / "report.json").read_text(encoding="utf-8"))
    done = [a for a in report["appliances"] if a["outcome"] == "done"]
    failed = {a["name"]: a.get("error") for a in report["appliances"] if a["outcome"] == "failed"}
    waves = Counter(a["wave"] for a in done)
    bound = lower_bound(waves, args.concurrency, args.job + args.restart)
    makespan = _seconds_between(report["started_at"], report["finished_at"])
    # The simulator's view: first change made to an appliance -> last one back up.
    touched = seen.times("upload.started") + seen.times("job.created")
    sim_span = max(seen.times("restart.finished")) - min(touched)
    requests = sum(seen.requests.values())
    n = args.appliances
    return {
        "upgraded": len(done),
        "failed": len(failed),
        "failures": dict(list(failed.items())[:5]),  # what went wrong, for the first few
        "waves": dict(waves),
        "lower_bound_seconds": round(bound, 3),
        "makespan_seconds": round(makespan, 3),
        "makespan_ratio": round(makespan / bound, 4),
        "simulator_span_seconds": round(sim_span, 3),
        "process_wall_seconds": round(measured.wall_seconds, 3),
        "peak_rss_mib": round(measured.max_rss_mib, 1),
        "cpu_seconds": round(measured.cpu_seconds, 3),
        "cpu_ms_per_appliance": round(1000 * measured.cpu_seconds / n, 3),
        "cpu_user_seconds": round(measured.user_seconds, 3),
        "requests": requests,
        "requests_per_appliance": round(requests / n, 2),
        "simulator_cpu_seconds": round(seen.cpu_seconds, 3),
    }


def spread(values: list[float]) -> dict[str, float]:
    """The median of several runs and their range (never the best run alone)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every numeric measure of a variant's runs as median and range; the runs themselves."""
    numeric = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    return {"runs": runs, **{key: spread([run[key] for run in runs]) for key in numeric}}


def _wall_ms(argv: list[str], cwd: Path, runs: int) -> dict[str, float]:
    """Wall time of `runs` fresh processes of `argv`, in ms (they must succeed)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(1000 * (time.perf_counter() - start))
    return {k: round(v, 1) for k, v in spread(times).items()}


def startup(workdir: Path, runs: int) -> dict[str, Any]:
    """`orchestrator --version` and `validate` of the demo inventory, and a bare interpreter."""
    demo = Simulator(workdir / "demo", yaml.safe_load(DEMO_SCENARIO.read_text(encoding="utf-8")))
    demo.stop()  # validate reads no appliance: the written inventory is all it needs
    script = Path(sys.executable).with_name("orchestrator")
    command = [str(script)] if script.exists() else orchestrator_argv()
    return {
        "runs": runs,
        "python_ms": _wall_ms([sys.executable, "-c", "pass"], workdir, runs),
        "version_ms": _wall_ms([*command, "--version"], workdir, runs),
        "validate_ms": _wall_ms([*command, "validate", str(demo.inventory)], workdir, runs),
    }


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every variant `--runs` times (alternating), then start-up; medians and ranges."""
    variants = [VARIANTS[name] for name in args.variants]
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    for index in range(args.runs):
        for variant in variants:
            runs[variant.name].append(run(args, variant, workdir / f"{variant.name}-{index}"))
    return {
        "appliances": args.appliances,
        "concurrency": args.concurrency,
        "job_seconds": args.job,
        "restart_seconds": args.restart,
        "time_scale": args.time_scale,
        "poll_interval": args.poll_interval,
        "poll_interval_max": args.poll_interval_max,
        "variants": {name: summarize(found) for name, found in runs.items()},
        "startup": startup(workdir, args.startup_runs) if args.startup_runs else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--job", type=float, default=2.0, help="wall seconds of a firmware job")
    parser.add_argument("--restart", type=float, default=1.0, help="wall seconds of a restart")
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--image-size", type=int, default=64 * 1024)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--poll-interval-max", type=float, default=0.1)
    parser.add_argument("--requests-per-second", type=float, default=100.0)
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=["http"],
        help=f"comma-separated, run alternately: {', '.join(VARIANTS)} (default http)",
    )
    parser.add_argument("--tls", action="store_true", help="the same as --variants tls")
    parser.add_argument("--runs", type=int, default=1, help="runs of each variant (medians)")
    parser.add_argument("--startup-runs", type=int, default=5, help="0: no start-up figures")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--profile", type=Path, help="record collapsed py-spy stacks here")
    args = parser.parse_args(argv)
    if args.tls:
        args.variants = ["tls"]
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return args


def _shown(measure: dict[str, float], unit: str, digits: int = 2) -> str:
    """`4.70 ms (4.52-5.31)`: the median and the range."""
    median, low, high = (f"{measure[k]:.{digits}f}" for k in ("median", "min", "max"))
    return f"{median} {unit} ({low}-{high})".replace(" ()", "")


def table(args: argparse.Namespace, results: dict[str, Any]) -> list[tuple[str, str]]:
    """The people's view: a block of rows per variant, then start-up."""
    rows = [
        ("appliances", str(args.appliances)),
        ("concurrency", str(args.concurrency)),
        ("job + restart", f"{args.job:g} s + {args.restart:g} s (time scale {args.time_scale:g})"),
        ("poll interval (max)", f"{args.poll_interval:g} s ({args.poll_interval_max:g} s)"),
        ("runs per variant", f"{args.runs} (median and range)"),
    ]
    for name, found in results["variants"].items():
        rows += [
            (f"[{name}] upgraded", _shown(found["upgraded"], "", 0)),
            (f"[{name}] failed", _shown(found["failed"], "", 0)),
            (f"[{name}] lower bound", _shown(found["lower_bound_seconds"], "s")),
            (f"[{name}] makespan / bound", _shown(found["makespan_ratio"], "", 3)),
            (f"[{name}] peak RSS", _shown(found["peak_rss_mib"], "MiB", 1)),
            (f"[{name}] CPU per appliance", _shown(found["cpu_ms_per_appliance"], "ms")),
            (f"[{name}] requests per appliance", _shown(found["requests_per_appliance"], "", 1)),
        ]
    if results["startup"] is not None:
        boot = results["startup"]
        rows += [
            ("python -c pass", _shown(boot["python_ms"], "ms", 0)),
            ("orchestrator --version", _shown(boot["version_ms"], "ms", 0)),
            ("orchestrator validate (demo)", _shown(boot["validate_ms"], "ms", 0)),
        ]
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = in_workdir(args.workdir, "bench-overhead-", lambda path: measure(args, path))
    emit(results, as_json=args.json, table=table(args, results))


if __name__ == "__main__":
    main()
