"""Read-only fact gathering for `plan`: what each appliance runs, concurrently and safely.

Per appliance: GET /extrahop, the cluster's ingest state for Explore nodes, the Explore and
Trace appliances connected to a Discover appliance (GET /appliances: `engine.connections`),
and GET /jobs for an appliance below its target (a job it runs now would collide with the
upgrade).

One unreachable or misconfigured appliance never stops the gathering: its trouble becomes
`Facts.error`, a single line the plan shows against its name.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from orchestrator.core.errors import ApplianceError
from orchestrator.core.models import (
    Appliance,
    Facts,
    Role,
    role_for_platform,
    same_version,
)
from orchestrator.engine.connections import InventoryIndex, read_connections
from orchestrator.engine.steps import find_running_job

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.engine.ports import FactsPort

__all__ = ["gather_facts"]

_log = structlog.get_logger(__name__)


async def gather_facts(
    clients: Sequence[FactsPort],
    appliances: Sequence[Appliance],
    *,
    concurrency: int,
    inventory: Sequence[Appliance] | None = None,
) -> dict[str, Facts]:
    """Facts for every appliance (same order as `clients`), at most `concurrency` at a time.

    `inventory`: every appliance a Discover appliance's connections may name (default:
    `appliances`).
    """
    if len(clients) != len(appliances):
        raise ValueError("gather_facts needs one client per appliance")
    limit = asyncio.Semaphore(concurrency)
    known = InventoryIndex(appliances if inventory is None else inventory)  # built once
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(_bounded(limit, client, appliance, known))
            for client, appliance in zip(clients, appliances, strict=True)
        ]
    return {
        appliance.name: task.result() for appliance, task in zip(appliances, tasks, strict=True)
    }


async def _bounded(
    limit: asyncio.Semaphore,
    client: FactsPort,
    appliance: Appliance,
    inventory: InventoryIndex,
) -> Facts:
    async with limit:
        try:
            facts = await _facts(client, appliance, inventory)
        except ApplianceError as exc:
            error = " ".join(exc.message.split())
            _log.warning("facts.failed", appliance=appliance.name, error=error)
            return Facts(name=appliance.name, error=error)
    _log.debug(
        "facts.gathered",
        appliance=appliance.name,
        version=facts.version,
        platform=facts.platform,
        # How many, not which: a Discover appliance may list thousands.
        connected=None if facts.connected is None else len(facts.connected),
        error=facts.error,
    )
    return facts


async def _facts(client: FactsPort, appliance: Appliance, inventory: InventoryIndex) -> Facts:
    info = await client.get_info()
    observed = {"name": appliance.name, "version": info.version, "platform": info.platform}
    platform_role = role_for_platform(info.platform)
    problem = role_problem(info.platform, platform_role, appliance.role)
    if problem is not None:
        return Facts(**observed, role=platform_role, error=problem)
    role = platform_role or appliance.role
    ingest = (await client.get_cluster()).ingest_enabled if role is Role.EXPLORE else None
    connected = (
        await read_connections(client, appliance, inventory) if role is Role.DISCOVER else None
    )
    # A job running now (another run of this tool?) would collide with ours; an appliance
    # already at its target will not be touched, so it is not asked.
    at_target = same_version(info.version, appliance.firmware.version)
    job = None if at_target else await find_running_job(client)
    return Facts(**observed, role=role, ingest_enabled=ingest, running_job=job, connected=connected)


def role_problem(platform: str, observed: Role | None, declared: Role | None) -> str | None:
    """Why the platform and the inventory's role cannot both be right, if they cannot."""
    if observed is None and declared is None:
        return f"platform {platform!r} is not a known role; set role in the inventory"
    if observed is not None and declared is not None and observed is not declared:
        return f"platform says {observed.value} but the inventory says role {declared.value}"
    return None
