"""`plan` over sockets: what the Discover appliances list narrows who waits for whom."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fleetrun import fast_settings, lab

from orchestrator import workflow
from orchestrator.inventory import load_inventory
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.plan import Plan

CONNECTED = {
    "eda1": ["exa-m1", "exa-d1", "eta1"],
    "eda2": ["exa-m2", "exa-d2"],
    "eda3": ["exa-m3", "exa-d3", "eta2"],
}


def three_clusters(faults: dict[str, dict[str, Any]] | None = None) -> Scenario:
    """The lab fleet with clusters a, b and c (nodes 1, 2 and 3), each on its own Discover."""
    scenario = lab(faults, connected=CONNECTED)
    for spec in scenario["appliances"]:
        if spec["role"] == "explore":
            spec["cluster"] = "abc"[int(spec["name"][-1]) - 1]
    scenario["clusters"] = {}
    return Scenario.model_validate(scenario)


async def plan_of(scenario: Scenario, tmp_path: Path) -> Plan:
    async with SimulatedFleet(scenario) as fleet:
        inventory = load_inventory(fleet.write_inventory(tmp_path / "fleet.yaml", mode="url"))
        return await workflow.make_plan(inventory, fast_settings(tmp_path), offline=False)


def waits(plan: Plan) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Each stage but Command's: all it waits for, and whether connections were known."""
    return {
        s.name: (tuple(sorted(plan.waits_for(s))), s.connections_known)
        for s in plan.stages
        if s.kind.value != "command"
    }


async def test_each_cluster_and_trace_waits_only_for_its_own_discover(tmp_path: Path) -> None:
    """Cluster a and eta1 wait for eda1, cluster b for eda2, cluster c and eta2 for eda3."""
    plan = await plan_of(three_clusters(), tmp_path)
    assert waits(plan) == {
        "discover": (("eca1",), True),
        "explore a managers": (("eca1", "eda1"), True),
        "explore a data": (("eca1", "exa-m1"), True),  # its manager waited for eda1
        "explore b managers": (("eca1", "eda2"), True),
        "explore b data": (("eca1", "exa-m2"), True),
        "explore c managers": (("eca1", "eda3"), True),
        "explore c data": (("eca1", "exa-m3"), True),
        "trace 1": (("eca1", "eda1"), True),
        "trace 2": (("eca1", "eda3"), True),
    }


async def test_one_unreadable_list_makes_everyone_wait_for_every_discover(
    tmp_path: Path,
) -> None:
    """eda2's list is 404: nothing is narrowed; the plan is still made, with no refusal."""
    plan = await plan_of(three_clusters({"eda2": {"no_appliance_list": True}}), tmp_path)
    every = ("eca1", "eda1", "eda2", "eda3")
    assert waits(plan)["explore a managers"] == (every, False)
    assert waits(plan)["trace"] == (every, False)
    assert not plan.refused


async def test_each_appliance_is_read_over_one_connection(tmp_path: Path) -> None:
    """An appliance's reads for the plan share a connection: one TLS handshake, not several."""
    loop = asyncio.get_running_loop()
    opened: list[object] = []
    create = loop.create_connection

    async def counted(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - the loop's own
        opened.append(kwargs.get("server_hostname"))
        return await create(*args, **kwargs)

    loop.create_connection = counted  # type: ignore[method-assign]
    try:
        plan = await plan_of(three_clusters(), tmp_path)
    finally:
        del loop.create_connection
    assert len(opened) == len(list(plan.appliances())) == 12
