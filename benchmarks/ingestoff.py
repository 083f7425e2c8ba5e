"""Each Explore cluster's ingest-off time, from the simulator's event log, against its bound.

The span of a cluster is from its first `ingest.changed` to disabled (the halt) to the last
`ingest.changed` to enabled after it (the restore), in the simulator's monotonic clock: what
the customer pays, records not stored, as the appliances saw it.
"""

from __future__ import annotations

import statistics
from typing import Any

CLUSTER_TARGET = 1.10  # a cluster's ingest-off within 10% of its own bound


def spans(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds from halt to restore, per cluster (a cluster never restored is left out)."""
    halted: dict[str, float] = {}
    restored: dict[str, float] = {}
    for event in events:
        if event["kind"] != "ingest.changed":
            continue
        cluster, t = event["data"]["cluster"], event["t"]
        if not event["data"]["enabled"]:
            halted.setdefault(cluster, t)
        elif cluster in halted:
            restored[cluster] = t
    return {cluster: restored[cluster] - halted[cluster] for cluster in restored}


def measures(off: dict[str, float], bounds: dict[str, float]) -> dict[str, Any]:
    """Mean and max ingest-off, and each cluster's off / bound (mean, max, how many within 10%)."""
    if not bounds:
        return {}
    ratios = [off[c] / bounds[c] for c in bounds if c in off and bounds[c] > 0]
    return {
        "clusters_halted": len(bounds),
        "clusters_restored": sum(c in off for c in bounds),
        "ingest_off_mean_seconds": round(statistics.fmean(off.values()), 3) if off else 0.0,
        "ingest_off_max_seconds": round(max(off.values(), default=0.0), 3),
        "cluster_bound_mean_seconds": round(statistics.fmean(bounds.values()), 3),
        "cluster_ratio_mean": round(statistics.fmean(ratios), 4) if ratios else 0.0,
        "cluster_ratio_max": round(max(ratios, default=0.0), 4),
        "clusters_within_10pct": sum(r <= CLUSTER_TARGET for r in ratios),
    }
