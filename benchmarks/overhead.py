"""Orchestration overhead at scale: makespan vs. the plan's lower bound, RSS, CPU, requests.

    python benchmarks/overhead.py --appliances 1000 --concurrency 50 --variants http,tls --runs 3
    python benchmarks/overhead.py --variants graph-http,waves-http --estimates right,short

A fleet (`fleets.py`: `--fleet mix` of N appliances, or `clusters40`) with fixed step
durations is upgraded by `python -m orchestrator apply` in its own process, against the
simulator in another. The lower bound is what the executed plan allows with zero overhead
(`bounds.py`: the graph's stages, or the waves one after another); each Explore cluster's
ingest-off time, from the simulator's events, is set against its own bound (`ingestoff.py`).

Each variant (`VARIANTS`: plain HTTP, or HTTPS with the fleet's own CA as the inventory's
`ca_bundle`; the plan's default schedule, or `--schedule graph` / `waves`, or the graph with
`--clusters-at-once 10`: `atonce10-http`, `atonce10-tls`) is run `--runs`
times with each of `--estimates` (the plan's durations right, 2x long, 2x short), the
combinations alternating, on a fresh fleet each time; every figure is reported as the median
of the runs with their range, and graph against waves as the ratio of the medians. Start-up
is measured too: `orchestrator --version` and `orchestrator validate` of the demo inventory
(lab-sim's twelve appliances), wall time of `--startup-runs` fresh processes, beside a bare
interpreter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fleets
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
    spread,
)
from overheadview import table
from schedmeasure import executed_plan, graph_vs_waves, schedule_measures

DEMO_SCENARIO = HERE.parent / "orchestrator" / "data" / "lab-sim.yaml"


@dataclass(frozen=True)
class Variant:
    """One way of running the same fleet: served over HTTPS or not, extra `apply` arguments."""

    name: str
    tls: bool = False
    apply_args: tuple[str, ...] = ()


def _variants() -> dict[str, Variant]:
    found = [Variant("http"), Variant("tls", tls=True)]  # the plan's default schedule
    for schedule in ("graph", "waves"):
        found.append(Variant(f"{schedule}-http", apply_args=("--schedule", schedule)))
        found.append(Variant(f"{schedule}-tls", tls=True, apply_args=("--schedule", schedule)))
    # The graph with at most ten Explore clusters in progress at once (--clusters-at-once).
    limited = ("--schedule", "graph", "--clusters-at-once", "10")
    found.append(Variant("atonce10-http", apply_args=limited))
    found.append(Variant("atonce10-tls", tls=True, apply_args=limited))
    # The graph with Explore clusters started one way, not as the plan chooses.
    for starts in ("ready", "fit", "fit-or-idle"):
        chosen = ("--schedule", "graph", "--cluster-starts", starts)
        found.append(Variant(f"{starts}-http", apply_args=chosen))
        found.append(Variant(f"{starts}-tls", tls=True, apply_args=chosen))
    return {variant.name: variant for variant in found}


# Add a variant here and it can be run beside the others.
VARIANTS = _variants()
# The plan's upgrade and reboot durations: the truth, twice it, half of it.
ESTIMATES = {"right": 1.0, "long": 2.0, "short": 0.5}


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
        "appliances": fleets.specs(fleets.shape_of(args.fleet, args.appliances), OLD),
    }


def settings(
    args: argparse.Namespace, workdir: Path, estimate: str
) -> dict[str, float | int | str]:
    """The orchestrator's settings: polling scaled to the durations, estimates `estimate`."""
    return {
        "poll_interval": args.poll_interval,
        "poll_interval_max": args.poll_interval_max,
        "requests_per_second": args.requests_per_second,
        "job_deadline": 60 * (args.job + args.restart),
        "reboot_deadline": 60 * (args.job + args.restart),
        "upgrade_duration": args.job * ESTIMATES[estimate],
        "reboot_duration": args.restart * ESTIMATES[estimate],
        "state_db": str(workdir / "state.db"),
        "report": str(workdir / "report.json"),
    }


def _seconds_between(start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def run(args: argparse.Namespace, variant: Variant, estimate: str, workdir: Path) -> dict[str, Any]:
    """Serve the fleet, apply it once in this variant with these estimates, and measure."""
    fleet = scenario(args)
    sim = Simulator(workdir, fleet, tls=variant.tls)
    argv = orchestrator_argv("apply", str(sim.inventory), "--yes", "--log-format", "json")
    argv += ["--concurrency", str(args.concurrency), *variant.apply_args]
    if args.profile is not None:  # py-spy's own costs then count too: for finding hot spots
        found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = [found, "record", "--gil", "--rate", "500", "--format", "raw"]
        argv = [*spy, "-o", str(args.profile), "--", *argv]
    try:
        measured = run_measured(
            argv,
            env=orchestrator_env(settings(args, workdir, estimate)),
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
    makespan = _seconds_between(report["started_at"], report["finished_at"])
    schedule = schedule_measures(
        executed_plan(workdir),
        seen.events,
        args.job + args.restart,
        wall=measured.wall_seconds,
        makespan=makespan,
    )
    # The simulator's view: first change made to an appliance -> last one back up.
    touched = seen.times("upload.started") + seen.times("job.created")
    sim_span = max(seen.times("restart.finished")) - min(touched)
    requests = sum(seen.requests.values())
    n = len(fleet["appliances"])
    return {
        "upgraded": len(done),
        "failed": len(failed),
        "failures": dict(list(failed.items())[:5]),  # what went wrong, for the first few
        "waves": dict(waves),
        **schedule,
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


def _key(variant: Variant, estimate: str) -> str:
    """`graph-http`, or `graph-http/short` for estimates other than right."""
    return variant.name if estimate == "right" else f"{variant.name}/{estimate}"


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every variant and estimate `--runs` times (alternating), then start-up; medians, ranges."""
    combos = [(VARIANTS[name], est) for est in args.estimates for name in args.variants]
    runs: dict[str, list[dict[str, Any]]] = {_key(v, est): [] for v, est in combos}
    for index in range(args.runs):
        for variant, est in combos:
            key = _key(variant, est)
            folder = workdir / f"{key.replace('/', '-')}-{index}"
            runs[key].append(run(args, variant, est, folder))
            # What is measured so far, for a series stopped before its end (--workdir keeps it).
            (workdir / "runs-so-far.json").write_text(json.dumps(runs), encoding="utf-8")
    variants = {name: summarize(found) for name, found in runs.items()}
    shape = fleets.shape_of(args.fleet, args.appliances)
    return {
        "fleet": args.fleet,
        "appliances": len(fleets.specs(shape, OLD)),
        "shape": vars(shape),
        "concurrency": args.concurrency,
        "job_seconds": args.job,
        "restart_seconds": args.restart,
        "time_scale": args.time_scale,
        "poll_interval": args.poll_interval,
        "poll_interval_max": args.poll_interval_max,
        "variants": variants,
        "graph_vs_waves": graph_vs_waves(variants),
        "startup": startup(workdir, args.startup_runs) if args.startup_runs else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appliances", type=int, default=1000, help="of the mix fleet")
    parser.add_argument("--fleet", choices=("mix", "clusters40"), default="mix")
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
    parser.add_argument(
        "--estimates",
        type=lambda text: text.split(","),
        default=["right"],
        help="the plan's durations, comma-separated: right, long (2x), short (1/2)",
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
    wrong = [name for name in args.estimates if name not in ESTIMATES]
    if wrong:
        parser.error(f"--estimates: unknown {', '.join(wrong)}; choose from {', '.join(ESTIMATES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = in_workdir(args.workdir, "bench-overhead-", lambda path: measure(args, path))
    emit(results, as_json=args.json, table=table(args, results))


if __name__ == "__main__":
    main()
