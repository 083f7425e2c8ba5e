"""The schedule's measures of a run (makespan and ingest-off against bounds); graph / waves.

The bound comes from the plan the run executed (its folder's `plan.json`): a graph plan's
stages (`bounds.graph_bound`), or a waves plan's waves (`bounds.waves_bound`). The makespan
is measured twice: the orchestrator process's own wall time (start-up, planning, the run and
the report) and the report's `started_at` → `finished_at`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bounds import cluster_bounds, graph_bound, waves_bound
from ingestoff import measures, spans

if TYPE_CHECKING:
    from pathlib import Path

MAKESPAN_TARGET = 1.05


def executed_plan(workdir: Path) -> dict[str, Any]:
    """The plan the run in `workdir` executed (runs/<id>/plan.json beside the state db)."""
    found = sorted((workdir / "runs").glob("*/plan.json"))
    if len(found) != 1:
        raise SystemExit(f"expected one run's plan.json under {workdir / 'runs'}, found {found}")
    plan: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return plan


def _bounds(plan: dict[str, Any], d: float) -> dict[str, Any]:
    if plan["schedule"] != "graph":
        bound = waves_bound(plan, d)
        return {"lower_bound_seconds": bound, "staged_bound_seconds": bound}
    found = graph_bound(plan, d)
    return {
        "lower_bound_seconds": found.bound_seconds,
        "staged_bound_seconds": found.staged_seconds,
        "chain_appliances": found.chain_appliances,
        "chain_seconds": found.chain_seconds,
        "work_over_slots_seconds": found.work_seconds,
    }


def schedule_measures(
    plan: dict[str, Any], events: list[dict[str, Any]], d: float, *, wall: float, makespan: float
) -> dict[str, Any]:
    """Bounds, makespan / bound both ways, and each cluster's ingest-off against its bound."""
    found = {k: round(v, 3) for k, v in _bounds(plan, d).items()}
    bound, staged = found["lower_bound_seconds"], found["staged_bound_seconds"]
    estimates = [b["off_estimate"] for b in plan["ingest"] if b.get("off_estimate")]
    return {
        **found,
        "makespan_seconds": round(makespan, 3),
        "outside_run_seconds": round(wall - makespan, 3),  # start-up, planning, report
        "makespan_ratio": round(makespan / bound, 4),
        "wall_ratio": round(wall / bound, 4),
        "wall_staged_ratio": round(wall / staged, 4),
        "plan_estimate_seconds": round(plan["estimate"], 3),
        "off_estimate_mean_seconds": round(sum(estimates) / len(estimates), 3) if estimates else 0,
        **measures(spans(events), cluster_bounds(plan, d)),
    }


_COMPARED = {
    "makespan": "process_wall_seconds",
    "ingest_off_mean": "ingest_off_mean_seconds",
    "ingest_off_max": "ingest_off_max_seconds",
}


def graph_vs_waves(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """For each `graph-X` with a `waves-X` beside it: graph / waves of the medians."""
    found = {}
    for key, graph in variants.items():
        waves = variants.get(key.replace("graph-", "waves-", 1))
        if not key.startswith("graph-") or waves is None:
            continue
        found[key.removeprefix("graph-")] = {
            name: round(graph[measure]["median"] / waves[measure]["median"], 4)
            for name, measure in _COMPARED.items()
            if measure in graph and waves[measure]["median"]
        }
    return found
