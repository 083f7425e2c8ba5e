"""The schedule benchmark's bounds and ingest-off spans, on plans small enough to check by hand.

benchmarks/bounds.py and benchmarks/ingestoff.py: what the benchmark sets the runs against.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    """A module of benchmarks/ (a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bounds = _load("bounds")
ingestoff = _load("ingestoff")

WAVES = {
    "command": ["c1"],
    "discover": ["d1", "d2", "d3"],
    "explore-managers": ["m"],
    "explore-data": ["a", "b"],
    "trace": ["t"],
}
# name, members, whole stages waited for, single appliances waited for (as plan files hold them)
STAGES = [
    ("command", ["c1"], [], []),
    ("discover", ["d1", "d2", "d3"], ["command"], []),
    ("explore x managers", ["m"], ["command"], ["d1"]),
    ("explore x data", ["a", "b"], ["command", "explore x managers"], []),
    ("trace", ["t"], ["command"], ["d2"]),
]


def plan(skipped: frozenset[str] = frozenset(), concurrency: int = 2) -> dict[str, Any]:
    """A graph plan of eight appliances on two slots, as a plan file holds it."""
    return {
        "schedule": "graph",
        "concurrency": concurrency,
        "waves": [
            {
                "kind": kind,
                "appliances": [
                    {"name": n, "action": "skip" if n in skipped else "upload"} for n in names
                ],
            }
            for kind, names in WAVES.items()
        ],
        "stages": [
            {"name": s, "members": m, "after_stages": w, "after": a} for s, m, w, a in STAGES
        ],
        "ingest": [{"cluster": "x", "members": ["m", "a", "b"], "halt": True}],
    }


def test_graph_bound_is_the_longest_chain_or_the_work_over_the_slots() -> None:
    """Chain c1 → d1 → m → a is 4 appliances; 8 appliances on 2 slots are 4 rounds."""
    found = bounds.graph_bound(plan(), 1.0)
    assert (found.chain_appliances, found.chain_seconds) == (4, 4.0)
    assert found.work_seconds == 4.0
    assert found.bound_seconds == 4.0


def test_staged_bound_is_the_best_schedule_where_the_simple_one_is_not() -> None:
    """One slot idles beside c1, and d1..d3 must end before m, a and t: 5 rounds at best."""
    assert bounds.graph_bound(plan(), 1.0).staged_seconds == 5.0


def test_skipped_appliances_take_no_slot_and_lengthen_no_chain() -> None:
    """With m skipped the chain is c1 → d1 → a; the seven others take 4 rounds on 2 slots."""
    found = bounds.graph_bound(plan(frozenset({"m"})), 2.0)
    assert found.chain_appliances == 3
    assert found.work_seconds == 7.0
    assert found.staged_seconds == 8.0  # c1 alone, then 6 appliances in 3 rounds of 2 s


@pytest.mark.parametrize(
    ("concurrency", "expected"),
    [pytest.param(2, 2.0, id="two-slots"), pytest.param(1, 3.0, id="one-slot")],
)
def test_cluster_bound_is_its_managers_then_its_data_nodes(
    concurrency: int, expected: float
) -> None:
    """A cluster of one manager and two data nodes: 1 + ceil(2 / c) rounds."""
    assert bounds.cluster_bounds(plan(concurrency=concurrency), 1.0) == {"x": expected}


def test_waves_bound_sums_the_rounds_of_each_wave() -> None:
    """Waves of 1, 3, 1, 2 and 1 appliances on 2 slots: 1 + 2 + 1 + 1 + 1 rounds."""
    assert bounds.waves_bound(plan(), 1.0) == 6.0


def test_ingest_off_runs_from_the_first_halt_to_the_last_restore() -> None:
    """A cluster halted twice and restored twice spans the first halt to the last restore."""
    events = [
        {"t": t, "kind": "ingest.changed", "data": {"cluster": c, "enabled": on}}
        for t, c, on in [(1, "x", False), (2, "x", False), (5, "x", True), (6, "x", True)]
    ]
    events += [{"t": 3, "kind": "ingest.changed", "data": {"cluster": "y", "enabled": False}}]
    assert ingestoff.spans(events) == {"x": 5}  # y was never restored: no span
    found = ingestoff.measures({"x": 5.0}, {"x": 4.0, "y": 2.0})
    assert found["clusters_restored"] == 1
    assert found["cluster_ratio_max"] == 1.25
    assert found["clusters_within_10pct"] == 0
