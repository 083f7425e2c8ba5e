"""Console mode in the plan: which console upgrades whom, and which API keys a run needs.

An appliance whose firmware is `console_version` is upgraded by the inventory's Command
appliance (the console) through Cloud Services: only the console's key is needed, plus one
node's key per Explore cluster, to halt and restore ingest. Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.models import ConsoleFirmware, NodeKind, Role
from orchestrator.plan.model import Action

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.core.models import Inventory
    from orchestrator.plan.model import IngestBracket, Plan, PlannedAppliance

__all__ = ["console_name", "ingest_via", "key_lines", "keyless_refusals"]


def console_name(inventory: Inventory) -> str | None:
    """The Command appliance that upgrades the console-mode appliances (None: no console mode)."""
    if not any(isinstance(a.firmware, ConsoleFirmware) for a in inventory.appliances):
        return None
    return next((a.name for a in inventory.appliances if a.role is Role.COMMAND), None)


def ingest_via(nodes: Sequence[PlannedAppliance], keyless: frozenset[str]) -> str | None:
    """The node an Explore cluster's ingest is halted through: a manager first, one with a key."""
    acting = [n for n in nodes if n.actionable]
    ordered = [n for n in acting if n.node is NodeKind.MANAGER] + acting + list(nodes)
    return next((n.name for n in ordered if n.name not in keyless), None)


def keyless_refusals(brackets: Sequence[IngestBracket], keyless: frozenset[str]) -> list[str]:
    """A refusal for each cluster none of whose nodes has a key to halt ingest with."""
    return [
        f"no node of Explore cluster {b.cluster} has an API key to halt and restore ingest: "
        f"give one (e.g. {b.via}) api_key_env or api_key_file"
        for b in brackets
        if b.via in keyless
    ]


def key_lines(plan: Plan) -> list[str]:
    """Which appliances' API keys the run uses in console mode (empty otherwise)."""
    lines = [line for line in plan.appliances() if line.action is Action.CONSOLE]
    consoles = sorted({line.console for line in lines if line.console})
    if not consoles:
        return []
    vias = {b.cluster: b.via for b in plan.ingest if any(m in _names(lines) for m in b.members)}
    out = [f"{name}: the console, upgrades {len(lines)} appliances" for name in consoles]
    out += [f"{via}: halts and restores ingest on cluster {c}" for c, via in sorted(vias.items())]
    spare = [line.name for line in lines if line.name not in vias.values()]
    if spare:
        out.append(f"no key needed: {', '.join(spare)} (the console answers for them)")
    return out


def _names(lines: Sequence[PlannedAppliance]) -> set[str]:
    return {line.name for line in lines}
