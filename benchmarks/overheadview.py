"""The people's view of benchmarks/overhead.py: a block of rows per variant, then start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def _shown(measure: dict[str, float], unit: str, digits: int = 2) -> str:
    """`4.70 ms (4.52-5.31)`: the median and the range."""
    median, low, high = (f"{measure[k]:.{digits}f}" for k in ("median", "min", "max"))
    return f"{median} {unit} ({low}-{high})".replace(" ()", "")


# (label, measure, unit, digits): shown when the variant's runs have the measure.
_ROWS = (
    ("upgraded", "upgraded", "", 0),
    ("failed", "failed", "", 0),
    ("lower bound", "lower_bound_seconds", "s", 2),
    ("  longest chain", "chain_seconds", "s", 2),
    ("  work / slots", "work_over_slots_seconds", "s", 2),
    ("staged bound", "staged_bound_seconds", "s", 2),
    ("makespan (process wall)", "process_wall_seconds", "s", 2),
    ("makespan (report)", "makespan_seconds", "s", 2),
    ("  outside the run", "outside_run_seconds", "s", 2),
    ("wall / bound", "wall_ratio", "", 3),
    ("report / bound", "makespan_ratio", "", 3),
    ("wall / staged bound", "wall_staged_ratio", "", 3),
    ("plan's estimate", "plan_estimate_seconds", "s", 2),
    ("ingest-off mean", "ingest_off_mean_seconds", "s", 2),
    ("ingest-off max", "ingest_off_max_seconds", "s", 2),
    ("plan's ingest-off (mean)", "off_estimate_mean_seconds", "s", 2),
    ("cluster bound (mean)", "cluster_bound_mean_seconds", "s", 2),
    ("cluster off / bound, mean", "cluster_ratio_mean", "", 3),
    ("cluster off / bound, max", "cluster_ratio_max", "", 3),
    ("clusters within 10%", "clusters_within_10pct", "", 0),
    ("peak RSS", "peak_rss_mib", "MiB", 1),
    ("CPU per appliance", "cpu_ms_per_appliance", "ms", 2),
    ("requests per appliance", "requests_per_appliance", "", 1),
)


def _variant_rows(name: str, found: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"[{name}] {label}", _shown(found[measure], unit, digits))
        for label, measure, unit, digits in _ROWS
        if measure in found
    ]


def table(args: argparse.Namespace, results: dict[str, Any]) -> list[tuple[str, str]]:
    """A block of rows per variant, graph / waves, then start-up."""
    rows = [
        ("fleet", f"{results['fleet']}: {results['appliances']} appliances {results['shape']}"),
        ("concurrency", str(args.concurrency)),
        ("job + restart", f"{args.job:g} s + {args.restart:g} s (time scale {args.time_scale:g})"),
        ("poll interval (max)", f"{args.poll_interval:g} s ({args.poll_interval_max:g} s)"),
        ("runs per variant", f"{args.runs} (median and range)"),
    ]
    for name, found in results["variants"].items():
        rows += _variant_rows(name, found)
    for name, ratios in results["graph_vs_waves"].items():
        rows += [(f"graph / waves [{name}] {k}", f"{v:.3f}") for k, v in ratios.items()]
    if results["startup"] is not None:
        boot = results["startup"]
        rows += [
            ("python -c pass", _shown(boot["python_ms"], "ms", 0)),
            ("orchestrator --version", _shown(boot["version_ms"], "ms", 0)),
            ("orchestrator validate (demo)", _shown(boot["validate_ms"], "ms", 0)),
        ]
    return rows
