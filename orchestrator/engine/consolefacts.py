"""Plan-time facts of appliances in console mode: what their console says about them.

An appliance the console upgrades may have no key of its own: its version, platform and
reachability come from the console's list (GET /appliances), matched by `console_id`. An
Explore node that has a key is also asked for its cluster's ingest state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.errors import ApplianceError, one_line
from orchestrator.core.models import Facts, Role, role_for_platform
from orchestrator.engine.console import running_console_jobs
from orchestrator.engine.facts import role_problem

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from orchestrator.core.consolelist import ListedAppliance
    from orchestrator.core.models import Appliance
    from orchestrator.engine.ports import ConsolePort, FactsPort

__all__ = ["console_facts"]


async def console_facts(
    console: ConsolePort,
    appliances: Sequence[Appliance],
    client_for: Callable[[str], FactsPort],
) -> dict[str, Facts]:
    """Facts for each appliance the console upgrades, from one read of its list and jobs."""
    try:
        listed = {item.id: item for item in await console.list_appliances()}
        running = await running_console_jobs(console)
    except ApplianceError as exc:
        error = f"its console {console.name} could not be read ({one_line(exc)})"
        return {a.name: Facts(name=a.name, error=error) for a in appliances}
    facts = {a.name: await _facts(a, listed, console.name, client_for) for a in appliances}
    return {name: _with_job(fact, running, appliances) for name, fact in facts.items()}


def _with_job(facts: Facts, running: dict[int, str], appliances: Sequence[Appliance]) -> Facts:
    """`facts` with the console job already upgrading it (another run?), if there is one."""
    ident = next(a.console_id for a in appliances if a.name == facts.name)
    job = running.get(ident) if ident is not None else None
    if job is None or facts.error is not None:
        return facts
    return facts.model_copy(update={"running_job": job})


async def _facts(
    appliance: Appliance,
    listed: dict[int, ListedAppliance],
    console: str,
    client_for: Callable[[str], FactsPort],
) -> Facts:
    item = listed.get(appliance.console_id) if appliance.console_id is not None else None
    if item is None:
        fix = "run `orchestrator discover` with --merge on this inventory, or fix console_id"
        error = f"console {console} lists no appliance with id {appliance.console_id}; {fix}"
        return Facts(name=appliance.name, error=error)
    role = role_for_platform(item.platform)
    seen = {"name": appliance.name, "version": item.firmware_version, "platform": item.platform}
    problem = role_problem(item.platform, role, appliance.role)
    if problem is None and not item.online:
        problem = f"console {console} cannot reach it ({item.status_message}): reconnect it"
    if problem is not None:
        return Facts(**seen, role=role, error=problem)
    ingest = None
    if appliance.role is Role.EXPLORE and appliance.api_key is not None:
        try:
            ingest = (await client_for(appliance.name).get_cluster()).ingest_enabled
        except ApplianceError as exc:
            return Facts(**seen, role=role, error=one_line(exc))
    return Facts(**seen, role=role or appliance.role, ingest_enabled=ingest)
