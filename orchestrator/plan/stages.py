"""The stages of a graph plan: who waits for whom, by the vendor's rules (pure).

Command before everything; Discover before the Explore and Trace appliances connected to it;
within an Explore cluster, managers before data nodes; nothing between clusters, nor between
Explore and Trace. Connections come from the Discover appliances' own lists
(`Facts.connected`); when any Discover appliance's list is not known, every Explore cluster
and Trace appliance waits for every Discover appliance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.plan.model import Stage, WaveKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from orchestrator.core.models import Facts
    from orchestrator.plan.model import PlannedAppliance

__all__ = ["build_stages"]


def build_stages(
    planned: Sequence[PlannedAppliance], facts: Mapping[str, Facts] | None
) -> tuple[Stage, ...]:
    """The plan's stages, in an order where each comes after what it waits for."""
    placed = [line for line in planned if line.wave is not None]
    commands = _names(placed, WaveKind.COMMAND)
    discovers = _names(placed, WaveKind.DISCOVER)
    links = _connections(discovers, facts)
    stages: list[Stage] = []
    if commands:
        stages.append(Stage(name="command", kind=WaveKind.COMMAND, members=commands))
    if discovers:
        stages.append(
            Stage(name="discover", kind=WaveKind.DISCOVER, members=discovers, after=commands)
        )

    def after(names: set[str]) -> tuple[str, ...]:
        connected = discovers if links is None else tuple(d for d in discovers if links[d] & names)
        return (*commands, *connected)

    for cluster, nodes in _clusters(placed).items():
        waits = after({line.name for line in nodes})
        managers = tuple(n.name for n in nodes if n.wave is WaveKind.EXPLORE_MANAGERS)
        data = tuple(n.name for n in nodes if n.wave is WaveKind.EXPLORE_DATA)
        known = links is not None
        if managers:
            stages.append(
                _stage(f"explore {cluster} managers", cluster, managers, waits, known=known)
            )
        if data:  # its managers waited for the Discover appliances already
            first = (*commands, *managers) if managers else waits
            stages.append(_stage(f"explore {cluster} data", cluster, data, first, known=known))
    stages += _trace_stages(_lines(placed, WaveKind.TRACE), after, links)
    return tuple(stages)


def _stage(
    name: str, cluster: str, members: tuple[str, ...], after: tuple[str, ...], *, known: bool
) -> Stage:
    kind = WaveKind.EXPLORE_DATA if name.endswith(" data") else WaveKind.EXPLORE_MANAGERS
    return Stage(
        name=name,
        kind=kind,
        cluster=cluster,
        members=members,
        after=after,
        connections_known=known,
    )


def _trace_stages(
    traces: Sequence[PlannedAppliance],
    after: Callable[[set[str]], tuple[str, ...]],
    links: Mapping[str, frozenset[str]] | None,
) -> list[Stage]:
    """Trace appliances grouped by what they wait for: one stage per set of Discover links."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for line in traces:
        groups.setdefault(after({line.name}), []).append(line.name)
    stages = []
    for index, (waits, members) in enumerate(groups.items(), start=1):
        name = "trace" if len(groups) == 1 else f"trace {index}"
        stages.append(
            Stage(
                name=name,
                kind=WaveKind.TRACE,
                members=tuple(members),
                after=waits,
                connections_known=links is not None,
            )
        )
    return stages


def _lines(placed: Sequence[PlannedAppliance], kind: WaveKind) -> list[PlannedAppliance]:
    return [line for line in placed if line.wave is kind]


def _names(placed: Sequence[PlannedAppliance], kind: WaveKind) -> tuple[str, ...]:
    return tuple(line.name for line in _lines(placed, kind))


def _clusters(placed: Sequence[PlannedAppliance]) -> dict[str, list[PlannedAppliance]]:
    clusters: dict[str, list[PlannedAppliance]] = {}
    for line in placed:
        if line.cluster and line.wave in {WaveKind.EXPLORE_MANAGERS, WaveKind.EXPLORE_DATA}:
            clusters.setdefault(line.cluster, []).append(line)
    return clusters


def _connections(
    discovers: Sequence[str], facts: Mapping[str, Facts] | None
) -> dict[str, frozenset[str]] | None:
    """Each Discover appliance's connected appliances; None unless every one of them is known."""
    if facts is None:
        return None
    links: dict[str, frozenset[str]] = {}
    for name in discovers:
        observed = facts.get(name)
        if observed is None or observed.connected is None:
            return None
        links[name] = frozenset(observed.connected)
    return links
