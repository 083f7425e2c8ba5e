"""The benchmark fleets (`--fleet`): appliance specs for a simulator scenario.

`mix`: a large deployment of `--appliances` N: 1% Command, 10% Trace, Explore clusters of one
manager and four data nodes making up 20%, the rest Discover. `clusters40`: 40 Explore
clusters of one manager and four data nodes, 1 Command, 8 Discover and 40 Trace (249).

Each Discover appliance lists its connections (`connected:`), spread round robin: with D
Discover appliances and K clusters, Discover i and cluster k are connected when
i mod g = k mod g, g = min(D, K) (so every Discover lists a cluster and every cluster is listed
by one Discover at least); Trace appliances likewise. Without them the simulator's Discover
appliances would each list every Explore and Trace appliance: one deployment where everything
waits for every Discover, and at 10,000 appliances answers of 3,000 entries each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLUSTER_SIZE = 5  # one manager and four data nodes


@dataclass(frozen=True)
class Shape:
    """How many appliances of each role, Explore as clusters."""

    commands: int
    discovers: int
    clusters: int
    traces: int


def mix(count: int) -> Shape:
    """1% Command, 10% Trace, 20% Explore in clusters of five, the rest Discover."""
    commands = max(1, count // 100)
    traces = max(1, count // 10)
    clusters = max(1, count // (5 * CLUSTER_SIZE)) if count >= 2 * CLUSTER_SIZE else 0
    discovers = count - commands - traces - clusters * CLUSTER_SIZE
    if discovers < 1:
        raise SystemExit("--appliances: at least 3 appliances, please")
    return Shape(commands=commands, discovers=discovers, clusters=clusters, traces=traces)


CLUSTERS40 = Shape(commands=1, discovers=8, clusters=40, traces=40)


def shape_of(name: str, count: int) -> Shape:
    """The shape `--fleet NAME` means (`count` is used by `mix` only)."""
    return mix(count) if name == "mix" else CLUSTERS40


def _linked(index: int, count: int, discovers: int) -> list[int]:
    """The indexes (of `count` appliances) Discover `index` is connected to, round robin."""
    g = min(discovers, count)
    return list(range(index % g, count, g)) if g else []


def _cluster(c: int) -> list[dict[str, Any]]:
    nodes = [{"name": f"exa{c}-m", "role": "explore", "cluster": f"exa{c}", "node": "manager"}]
    nodes += [
        {"name": f"exa{c}-d{i}", "role": "explore", "cluster": f"exa{c}", "node": "data"}
        for i in range(CLUSTER_SIZE - 1)
    ]
    return nodes


def specs(shape: Shape, version: str) -> list[dict[str, Any]]:
    """The scenario's appliances, every one at `version`, Discover connections spread."""
    clusters = [_cluster(c) for c in range(shape.clusters)]
    traces = [{"name": f"eta{i}", "role": "trace"} for i in range(shape.traces)]
    found: list[dict[str, Any]] = [
        {"name": f"eca{i}", "role": "command"} for i in range(shape.commands)
    ]
    for i in range(shape.discovers):
        listed = [
            n["name"] for k in _linked(i, shape.clusters, shape.discovers) for n in clusters[k]
        ]
        listed += [traces[k]["name"] for k in _linked(i, shape.traces, shape.discovers)]
        found.append({"name": f"eda{i}", "role": "discover", "connected": listed})
    found += [node for nodes in clusters for node in nodes] + traces
    return [{**spec, "version": version} for spec in found]
