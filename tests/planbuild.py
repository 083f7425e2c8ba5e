"""Plans built from small inventories, for the planner's tests (pure: no I/O)."""

from __future__ import annotations

import datetime as dt

from pydantic import SecretStr

from orchestrator.core.config import Settings
from orchestrator.core.models import (
    Appliance,
    Facts,
    Firmware,
    Inventory,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.plan import ImageInfo, Plan, build_plan
from orchestrator.plan.graph import Graph
from orchestrator.plan.projection import simulate

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
OLD = "9.8.0.100"
NEW = "9.9.1.100"
STEPS = {"download_duration": 300, "upgrade_duration": 900, "reboot_duration": 300}
JOB = 1500.0  # download 300 + upgrade 900 + reboot 300, per appliance (STEPS)
IMAGE = ImageInfo(path="images/eda.tar", size=600_000_000, sha256="ab" * 32)


def box(
    name: str,
    role: Role | None = None,
    *,
    target: str | None = NEW,
    firmware: Firmware | None = None,
    cluster: str | None = None,
    node: NodeKind | None = None,
) -> Appliance:
    return Appliance(
        name=name,
        url=f"https://{name}.example.net",
        role=role,
        cluster=cluster,
        node=node,
        firmware=firmware
        or UrlFirmware(url=f"https://repo.example.net/{name}.tar", version=target),
        api_key=SecretStr("key"),
    )


def exa(name: str, node: NodeKind, *, cluster: str = "exa", target: str | None = NEW) -> Appliance:
    return box(name, Role.EXPLORE, cluster=cluster, node=node, target=target)


def fleet() -> list[Appliance]:
    return [
        box("eca1", Role.COMMAND),
        box("eda1", Role.DISCOVER),
        box("eda2", Role.DISCOVER),
        exa("exa-m1", NodeKind.MANAGER),
        exa("exa-d1", NodeKind.DATA),
        exa("exa-d2", NodeKind.DATA),
        box("eta1", Role.TRACE),
    ]


def inventory(appliances: list[Appliance]) -> Inventory:
    return Inventory(source="fleet.yaml", sha256="0" * 64, appliances=tuple(appliances))


def observe(
    appliances: list[Appliance],
    version: str = OLD,
    *,
    ingest: bool | None = True,
    **overrides: Facts,
) -> dict[str, Facts]:
    """Facts for every appliance at `version`, with per-name overrides."""
    facts = {
        a.name: Facts(
            name=a.name,
            version=version,
            role=a.role,
            ingest_enabled=ingest if a.role is Role.EXPLORE else None,
        )
        for a in appliances
    }
    return facts | {name.replace("_", "-"): f for name, f in overrides.items()}


def plan(
    appliances: list[Appliance],
    facts: dict[str, Facts] | None = None,
    *,
    offline: bool = False,
    images: dict[str, ImageInfo] | None = None,
    **settings: object,
) -> Plan:
    if facts is None and not offline:
        facts = observe(appliances)
    return build_plan(
        inventory(appliances),
        None if offline else facts,
        images or {IMAGE.path: IMAGE},
        Settings.model_validate({"upload_throughput": 20e6, **STEPS, **settings}),
        now=NOW,
    )


def clusters_fleet(clusters: int, data: int = 4) -> list[Appliance]:
    """One Command, two Discover, `clusters` Explore clusters of one manager and `data` nodes."""
    fleet = [box("eca1", Role.COMMAND), box("eda1", Role.DISCOVER), box("eda2", Role.DISCOVER)]
    for c in range(clusters):
        fleet.append(exa(f"x{c}-m", NodeKind.MANAGER, cluster=f"x{c}"))
        fleet += [exa(f"x{c}-d{i}", NodeKind.DATA, cluster=f"x{c}") for i in range(data)]
    return fleet


def most_clusters_at_once(result: Plan) -> int:
    """The most clusters whose estimated ingest-off spans overlap at any moment."""
    schedule = simulate(Graph.of(result), result.concurrency)
    spans = [span for b in result.ingest if (span := schedule.span(b.members))]
    return max(sum(1 for start, end in spans if start <= t < end) for t, _ in spans)


def ready_graph(result: Plan) -> Graph:
    """The plan's graph with clusters started as soon as they are ready."""
    return Graph.build(result.stages, result.waves, slots=result.concurrency)
