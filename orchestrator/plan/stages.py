"""The stages of a graph plan: who waits for whom, by the vendor's rules (pure).

Command before everything; Discover before the Explore and Trace appliances connected to it;
within an Explore cluster, managers before data nodes; nothing between clusters, nor between
Explore and Trace. Connections come from the Discover appliances' own lists
(`Facts.connected`); when any Discover appliance's list is not known, every Explore cluster
and Trace appliance waits for every Discover appliance.

A whole stage waited for is named once (`after_stages`), not appliance by appliance, so a
plan stays small however many appliances wait for however many Discover appliances.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.plan.model import Stage, WaveKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from orchestrator.core.models import Facts
    from orchestrator.plan.model import PlannedAppliance

__all__ = ["build_stages"]

COMMAND, DISCOVER = "command", "discover"


class _Waits:
    """What an Explore cluster or a Trace appliance waits for: (stages, appliances)."""

    def __init__(
        self, commands: Sequence[str], discovers: Sequence[str], facts: Mapping[str, Facts] | None
    ) -> None:
        self.command = (COMMAND,) if commands else ()
        self.discovers = discovers
        self.known = True
        self.listed_by: dict[str, set[str]] = {}  # appliance -> the Discover appliances listing it
        for name in discovers:
            observed = facts.get(name) if facts is not None else None
            if observed is None or observed.connected is None:
                self.known = False
                return
            for listed in observed.connected:
                self.listed_by.setdefault(listed, set()).add(name)

    def of(self, names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if not self.discovers:
            return self.command, ()
        if not self.known:
            return (*self.command, DISCOVER), ()
        serving = set().union(*(self.listed_by.get(name, set()) for name in names))
        return self.command, tuple(d for d in self.discovers if d in serving)


def build_stages(
    planned: Sequence[PlannedAppliance], facts: Mapping[str, Facts] | None
) -> tuple[Stage, ...]:
    """The plan's stages, in an order where each comes after what it waits for."""
    placed = [line for line in planned if line.wave is not None]
    commands = _names(placed, WaveKind.COMMAND)
    discovers = _names(placed, WaveKind.DISCOVER)
    waits = _Waits(commands, discovers, facts)
    stages: list[Stage] = []
    if commands:
        stages.append(Stage(name=COMMAND, kind=WaveKind.COMMAND, members=commands))
    if discovers:
        stages.append(
            Stage(
                name=DISCOVER, kind=WaveKind.DISCOVER, members=discovers, after_stages=waits.command
            )
        )
    for cluster, nodes in _clusters(placed).items():
        first, after = waits.of(line.name for line in nodes)
        managers = tuple(n.name for n in nodes if n.wave is WaveKind.EXPLORE_MANAGERS)
        data = tuple(n.name for n in nodes if n.wave is WaveKind.EXPLORE_DATA)
        name = f"explore {cluster} managers"
        if managers:
            stages.append(_stage(name, cluster, managers, (first, after), known=waits.known))
        if data:  # its managers waited for the Discover appliances already
            before = ((*waits.command, name), ()) if managers else (first, after)
            stages.append(
                _stage(f"explore {cluster} data", cluster, data, before, known=waits.known)
            )
    stages += _trace_stages(_lines(placed, WaveKind.TRACE), waits)
    return tuple(stages)


def _stage(
    name: str,
    cluster: str,
    members: tuple[str, ...],
    before: tuple[tuple[str, ...], tuple[str, ...]],
    *,
    known: bool,
) -> Stage:
    kind = WaveKind.EXPLORE_DATA if name.endswith(" data") else WaveKind.EXPLORE_MANAGERS
    return Stage(
        name=name,
        kind=kind,
        cluster=cluster,
        members=members,
        after_stages=before[0],
        after=before[1],
        connections_known=known,
    )


def _trace_stages(traces: Sequence[PlannedAppliance], waits: _Waits) -> list[Stage]:
    """Trace appliances grouped by what they wait for: one stage per set of Discover links."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for line in traces:
        groups.setdefault(waits.of((line.name,)), []).append(line.name)
    return [
        Stage(
            name="trace" if len(groups) == 1 else f"trace {index}",
            kind=WaveKind.TRACE,
            members=tuple(members),
            after_stages=before[0],
            after=before[1],
            connections_known=waits.known,
        )
        for index, (before, members) in enumerate(groups.items(), start=1)
    ]


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
