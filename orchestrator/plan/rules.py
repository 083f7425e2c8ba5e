"""The vendor's version-order rules, checked on a plan's final versions (pure).

Command firmware must be at least every connected appliance's; Discover at least Explore's
and Trace's; every node of an Explore cluster ends on the same version.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from orchestrator.core.models import Role, parse_version

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from packaging.version import Version

    from orchestrator.plan.model import PlannedAppliance

__all__ = ["check_version_rules", "final_version"]

_DISCOVER_PEERS = "connected Explore and Trace appliances"


def final_version(line: PlannedAppliance) -> str | None:
    """The version an appliance runs after the plan: the target if upgraded, else the current."""
    return line.target_version if line.actionable else line.current_version


def check_version_rules(planned: Sequence[PlannedAppliance]) -> tuple[list[str], list[str]]:
    """Refusals for targets that break the vendor's order, and warnings for unchecked ones."""
    known: list[tuple[PlannedAppliance, Version]] = []
    unknown: list[str] = []
    for line in planned:
        version = parse_version(final_version(line) or "")
        if line.role is None:
            continue  # refused already: nothing to order it by
        if version is not None:
            known.append((line, version))
        elif line.target_version is not None or not line.actionable:
            unknown.append(line.name)  # an unknown target is warned about already
    refusals = [
        *_at_least(known, {Role.COMMAND}, set(Role) - {Role.COMMAND}, "connected appliances"),
        *_at_least(known, {Role.DISCOVER}, {Role.EXPLORE, Role.TRACE}, _DISCOVER_PEERS),
        *_mixed_clusters(known),
    ]
    warnings = []
    if unknown:
        names = ", ".join(unknown)
        warnings.append(f"version order not checked for {names}: final version unknown")
    return refusals, warnings


def _at_least(
    known: Sequence[tuple[PlannedAppliance, Version]],
    upper: set[Role],
    lower: set[Role],
    what: str,
) -> Iterator[str]:
    """One sentence per `upper` appliance that would run older firmware than a `lower` one."""
    lows = [(version, low) for low, version in known if low.role in lower]
    if not lows:
        return
    newest = sorted(version for version, _ in lows)
    _, worst = max(lows, key=lambda pair: pair[0])  # the first of the newest, in plan order
    for high, high_version in known:
        if high.role not in upper:
            continue
        newer = len(newest) - bisect.bisect_right(newest, high_version)
        if not newer:
            continue
        more = f" (and {newer - 1} more)" if newer > 1 else ""
        kind = str(high.role).capitalize()
        yield (
            f"{kind} {high.name} would run {final_version(high)} but {worst.role} {worst.name} "
            f"would run {final_version(worst)}{more}: the vendor requires {kind} >= {what}"
        )


def _mixed_clusters(known: Sequence[tuple[PlannedAppliance, Version]]) -> Iterator[str]:
    clusters: dict[str, list[tuple[PlannedAppliance, Version]]] = {}
    for line, version in known:
        if line.role is Role.EXPLORE and line.cluster:
            clusters.setdefault(line.cluster, []).append((line, version))
    for cluster, nodes in clusters.items():
        if len({version for _, version in nodes}) > 1:
            versions = ", ".join(f"{line.name} {final_version(line)}" for line, _ in nodes)
            yield (
                f"Explore cluster {cluster} would end on mixed versions ({versions}): "
                "every node of a cluster must run the same firmware"
            )
