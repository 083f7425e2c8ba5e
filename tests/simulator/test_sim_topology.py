"""A Discover appliance lists the Explore and Trace appliances connected to it (GET /appliances)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.simulator.memory import MemoryFleet
from orchestrator.simulator.testing import fast_scenario

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Start

ECA1 = {"name": "eca1", "role": "command", "version": "9.8.0.100"}
EDA1 = {"name": "eda1", "role": "discover", "version": "9.8.0.100"}
EDA2 = {"name": "eda2", "role": "discover", "version": "9.8.0.100"}
EXA1 = {
    "name": "exa1",
    "role": "explore",
    "version": "9.8.0.100",
    "cluster": "a",
    "node": "manager",
}
EXB1 = {**EXA1, "name": "exb1", "cluster": "b"}
ETA1 = {"name": "eta1", "role": "trace", "version": "9.7.0.50"}
FLEET = (ECA1, EDA1, EDA2, EXA1, EXB1, ETA1)
PATH = "/api/v1/appliances"


async def test_a_discover_lists_every_explore_and_trace_appliance_by_default(start: Start) -> None:
    """Without `connected:`, a Discover lists itself, then every Explore and Trace appliance."""
    api = await start(*FLEET)
    listed = (await api.call("eda1", "GET", PATH)).json()
    assert [(a["id"], a["display_name"], a["platform"]) for a in listed] == [
        (0, "eda1", "discover"),
        (3, "exa1", "explore"),
        (4, "exb1", "explore"),
        (5, "eta1", "trace"),
    ]
    for item in listed:
        assert f"http://{item['hostname']}" == api.fleet.url(item["display_name"])
    assert listed[3]["firmware_version"] == "9.7.0.50"


async def test_a_discover_lists_what_the_scenario_connects_to_it(start: Start) -> None:
    """`connected:` on a Discover narrows its list; ids stay those of the whole fleet."""
    eda1 = {**EDA1, "connected": ["exa1", "eta1"]}
    eda2 = {**EDA2, "connected": ["exb1"]}
    api = await start(ECA1, eda1, eda2, EXA1, EXB1, ETA1)
    first = (await api.call("eda1", "GET", PATH)).json()
    second = (await api.call("eda2", "GET", PATH)).json()
    assert [(a["id"], a["display_name"]) for a in first] == [(0, "eda1"), (3, "exa1"), (5, "eta1")]
    assert [(a["id"], a["display_name"]) for a in second] == [(0, "eda2"), (4, "exb1")]
    assert (await api.call("eda1", "GET", f"{PATH}/5")).json()["display_name"] == "eta1"
    assert (await api.call("eda1", "GET", f"{PATH}/4")).status == 404


async def test_a_discover_entry_has_the_shape_of_a_console_entry(start: Start) -> None:
    """A Discover's entries carry the same fields as the console's."""
    api = await start(*FLEET)
    from_console = (await api.call("eca1", "GET", PATH)).json()
    from_discover = (await api.call("eda1", "GET", PATH)).json()
    exa1 = next(a for a in from_console if a["display_name"] == "exa1")
    assert next(a for a in from_discover if a["display_name"] == "exa1").keys() == exa1.keys()


async def test_explore_and_trace_list_only_themselves(start: Start) -> None:
    """An Explore or a Trace appliance answers with itself alone."""
    api = await start(*FLEET)
    for name in ("exa1", "eta1"):
        listed = (await api.call(name, "GET", PATH)).json()
        assert [(a["id"], a["display_name"]) for a in listed] == [(0, name)]


async def test_a_console_still_lists_every_other_appliance(start: Start) -> None:
    """The console's list is unchanged: every other appliance, Discover ones included."""
    api = await start(*FLEET)
    listed = (await api.call("eca1", "GET", PATH)).json()
    assert [a["display_name"] for a in listed] == ["eca1", "eda1", "eda2", "exa1", "exb1", "eta1"]


async def test_firmware_without_the_list_answers_404(start: Start) -> None:
    """The `no_appliance_list` fault: GET /appliances is Not Found; the rest answers as usual."""
    api = await start({**EDA1, "faults": {"no_appliance_list": True}}, EXA1)
    assert (await api.call("eda1", "GET", PATH)).status == 404
    assert (await api.call("eda1", "GET", "/api/v1/extrahop")).status == 200
    assert "fault.injected" in [e.kind for e in api.fleet.events if e.appliance == "eda1"]


async def test_the_memory_fleet_lists_the_same() -> None:
    """Appliances held in memory answer the same list as the served ones."""
    fleet = MemoryFleet(fast_scenario(ECA1, {**EDA1, "connected": ["exb1"]}, EXA1, EXB1, ETA1))
    try:
        listed = await fleet.client("eda1").list_appliances()
    finally:
        fleet.close()
    assert [(a.id, a.display_name, a.platform) for a in listed] == [
        (0, "eda1", "discover"),
        (3, "exb1", "explore"),
    ]
