"""Plan-time facts: the Explore and Trace appliances each Discover appliance lists as connected."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import stamina
from aioresponses import aioresponses
from fleetrun import lab
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator import workflow
from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core.config import Settings
from orchestrator.core.consolelist import ListedAppliance
from orchestrator.core.models import Appliance, Facts, FileFirmware, Role
from orchestrator.engine.connections import connected_names
from orchestrator.engine.facts import gather_facts
from orchestrator.inventory import load_inventory
from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SETTINGS = Settings(requests_per_second=1000, retry_attempts=2, retry_timeout=5)
KEYS = {"eda1": "k-eda1-0123456789abcdef", "eda2": "k-eda2-0123456789abcdef"}


def _explore(name: str, cluster: str, node: str) -> dict[str, Any]:
    return {"name": name, "role": "explore", "cluster": cluster, "node": node}


def topology(**discover: dict[str, Any]) -> Scenario:
    """eda1 connected to cluster a and eta1, eda2 to cluster b; `discover` adds to their specs."""
    appliances: list[dict[str, Any]] = [
        {"name": "eca1", "role": "command"},
        {"name": "eda1", "role": "discover", "connected": ["exa-m1", "exa-d1", "eta1"]},
        {"name": "eda2", "role": "discover", "connected": ["exb-m1", "exb-d1"]},
        _explore("exa-m1", "a", "manager"),
        _explore("exa-d1", "a", "data"),
        _explore("exb-m1", "b", "manager"),
        _explore("exb-d1", "b", "data"),
        {"name": "eta1", "role": "trace"},
        {"name": "eta2", "role": "trace"},
    ]
    specs = [
        spec
        | {"version": "9.8.0.100", "api_key": KEYS.get(spec["name"], f"k-{spec['name']}")}
        | discover.get(spec["name"], {})
        for spec in appliances
    ]
    return Scenario.model_validate({"time_scale": 0.001, "appliances": specs})


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def inventory(
    fleet: SimulatedFleet,
    url: Callable[[str], str] | None = None,
    names: dict[str, str] | None = None,
) -> list[Appliance]:
    """The fleet as an inventory: `names` renames appliances, `url` gives other addresses."""
    return [
        Appliance(
            name=(names or {}).get(name, name),
            url=url(name) if url else fleet.url(name),
            role=Role(fleet.appliance(name).role),
            firmware=FileFirmware(file=Path(f"{name}.tar"), version="9.9.1.100"),
            api_key=SecretStr(fleet.api_key(name)),
        )
        for name in fleet.names
    ]


async def gather(appliances: list[Appliance]) -> dict[str, Facts]:
    async with open_session(SETTINGS) as session:
        clients = [ApplianceClient(session, a, SETTINGS) for a in appliances]
        return await gather_facts(clients, appliances, concurrency=4)


def connections(facts: dict[str, Facts]) -> dict[str, tuple[str, ...] | None]:
    return {name: fact.connected for name, fact in facts.items()}


async def test_each_discover_gives_the_appliances_connected_to_it() -> None:
    """eda1 lists cluster a and eta1, eda2 cluster b: exactly those names; others know none."""
    async with SimulatedFleet(topology()) as fleet:
        facts = await gather(inventory(fleet))
    assert connections(facts) == {
        "eca1": None,
        "eda1": ("exa-m1", "exa-d1", "eta1"),
        "eda2": ("exb-m1", "exb-d1"),
        "exa-m1": None,
        "exa-d1": None,
        "exb-m1": None,
        "exb-d1": None,
        "eta1": None,
        "eta2": None,
    }
    assert all(fact.error is None for fact in facts.values())


async def test_by_default_a_discover_is_connected_to_every_explore_and_trace() -> None:
    """A Discover without `connected:` lists, and so gives, every Explore and Trace appliance."""
    async with SimulatedFleet(topology(eda2={"connected": None})) as fleet:
        facts = await gather(inventory(fleet))
    assert facts["eda2"].connected == ("exa-m1", "exa-d1", "exb-m1", "exb-d1", "eta1", "eta2")


async def test_an_address_the_list_does_not_use_is_matched_by_name() -> None:
    """Inventory URLs that name `localhost` match no hostname; the display names still match."""
    async with SimulatedFleet(topology()) as fleet:
        facts = await gather(
            inventory(fleet, lambda n: fleet.url(n).replace("127.0.0.1", "localhost"))
        )
    assert facts["eda1"].connected == ("exa-m1", "exa-d1", "eta1")
    assert facts["eda2"].connected == ("exb-m1", "exb-d1")


async def test_an_address_matches_whatever_the_inventory_calls_the_appliance() -> None:
    """An inventory name the Discover never shows is still matched, by its address."""
    async with SimulatedFleet(topology()) as fleet:
        facts = await gather(inventory(fleet, names={"exa-d1": "recorder-7"}))
    assert facts["eda1"].connected == ("exa-m1", "recorder-7", "eta1")


async def test_an_unreadable_list_leaves_the_connections_unknown() -> None:
    """A 404 (firmware without the list): None, one warning naming eda1 and why; no error."""
    scenario = topology(eda1={"faults": {"no_appliance_list": True}})
    async with SimulatedFleet(scenario) as fleet:
        with capture_logs() as logs:
            facts = await gather(inventory(fleet))
    assert (facts["eda1"].connected, facts["eda1"].error) == (None, None)
    assert facts["eda1"].version == "9.8.0.100"
    assert facts["eda2"].connected == ("exb-m1", "exb-d1")
    warnings = [log for log in logs if log["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["event"] == "facts.connections_unknown"
    assert warnings[0]["appliance"] == "eda1"
    assert "404" in warnings[0]["reason"]
    assert "list could not be read" in warnings[0]["reason"]
    assert KEYS["eda1"] not in str(warnings)


async def test_a_list_cut_off_in_transit_leaves_the_connections_unknown() -> None:
    """eda1's list request is disconnected (aioresponses): None and a warning, never an error."""
    async with SimulatedFleet(topology()) as fleet:
        appliances = inventory(fleet)
        with aioresponses(passthrough_unmatched=True) as mock, capture_logs() as logs:
            mock.get(
                f"{fleet.url('eda1')}/api/v1/appliances",
                exception=aiohttp.ServerDisconnectedError(),
                repeat=True,
            )
            facts = await gather(appliances)
    assert (facts["eda1"].connected, facts["eda1"].error) == (None, None)
    assert facts["eda1"].version == "9.8.0.100"
    assert facts["eda2"].connected == ("exb-m1", "exb-d1")
    (warning,) = [log for log in logs if log["event"] == "facts.connections_unknown"]
    assert warning["appliance"] == "eda1"
    assert "list could not be read" in warning["reason"]
    assert "facts.failed" not in [log["event"] for log in logs]


async def test_a_listed_appliance_missing_from_the_inventory_leaves_them_unknown() -> None:
    """eda2 lists exb-d1, which the inventory lacks: its connections are not known."""
    async with SimulatedFleet(topology()) as fleet:
        appliances = [a for a in inventory(fleet) if a.name != "exb-d1"]
        with capture_logs() as logs:
            facts = await gather(appliances)
    assert facts["eda2"].connected is None
    assert facts["eda2"].error is None
    assert facts["eda1"].connected == ("exa-m1", "exa-d1", "eta1")
    (warning,) = [log for log in logs if log["log_level"] == "warning"]
    assert warning["appliance"] == "eda2"
    assert "exb-d1" in warning["reason"]
    assert "matches no appliance of the inventory" in warning["reason"]


async def test_names_come_from_the_whole_inventory_not_only_those_read() -> None:
    """Appliances read elsewhere (console mode) are still matched: `inventory` names them all."""
    async with SimulatedFleet(topology()) as fleet:
        everyone = inventory(fleet)
        direct = [a for a in everyone if a.name != "exb-d1"]
        async with open_session(SETTINGS) as session:
            clients = [ApplianceClient(session, a, SETTINGS) for a in direct]
            facts = await gather_facts(clients, direct, concurrency=4, inventory=everyone)
    assert "exb-d1" not in facts
    assert facts["eda2"].connected == ("exb-m1", "exb-d1")


async def test_only_discover_appliances_are_asked_for_the_list() -> None:
    """One GET /appliances per Discover appliance at plan time; none for any other role."""
    async with SimulatedFleet(topology()) as fleet:
        appliances = inventory(fleet)
        before = {n: fleet.request_count(n) for n in fleet.names}
        await gather(appliances)
        asked = {n: fleet.request_count(n) - before[n] for n in fleet.names}
    # GET /extrahop and GET /jobs each; + the cluster for Explore, + the list for Discover.
    assert asked == {
        "eca1": 2,
        "eda1": 3,
        "eda2": 3,
        "exa-m1": 3,
        "exa-d1": 3,
        "exb-m1": 3,
        "exb-d1": 3,
        "eta1": 2,
        "eta2": 2,
    }


async def test_the_lab_fleet_read_through_its_written_inventory(tmp_path: Path) -> None:
    """The lab fleet with connections, its inventory as `simulate` writes it, planning's clients."""
    cluster = [f"exa-{kind}{i}" for kind in "md" for i in (1, 2, 3)]
    scenario = lab(connected={"eda1": cluster, "eda2": ["eta1", "eta2"], "eda3": []})
    async with SimulatedFleet(Scenario.model_validate(scenario)) as fleet:
        loaded = load_inventory(fleet.write_inventory(tmp_path / "fleet.yaml", mode="url"))
        async with open_session(SETTINGS) as session:
            client_for = workflow.clients_for(session, loaded, SETTINGS)
            clients = [client_for(a.name) for a in loaded.appliances]
            facts = await gather_facts(clients, loaded.appliances, concurrency=4)
    assert {n: f.connected for n, f in facts.items() if f.role is Role.DISCOVER} == {
        "eda1": tuple(cluster),  # in inventory order
        "eda2": ("eta1", "eta2"),
        "eda3": (),
    }


# --- matching, table-driven ----------------------------------------------------------------


def _listed(ident: int, platform: str, hostname: str = "", name: str = "") -> ListedAppliance:
    return ListedAppliance(id=ident, platform=platform, hostname=hostname, display_name=name)


def _appliance(name: str, url: str, role: Role | None = Role.EXPLORE) -> Appliance:
    return Appliance(
        name=name,
        url=url,
        role=role,
        firmware=FileFirmware(file=Path("x.tar"), version="9.9.1.100"),
        api_key=SecretStr("k"),
    )


DISCOVER = _appliance("eda1", "https://eda1.example.net", Role.DISCOVER)
FLEET = [
    DISCOVER,
    _appliance("exa1", "https://exa1.example.net"),
    _appliance("exa2", "https://10.0.0.12:8443"),
    _appliance("eta1", "https://eta1.example.net", None),  # vendor CSV: role not yet known
    _appliance("eda2", "https://eda2.example.net", Role.DISCOVER),
]
SELF = _listed(0, "discover", "eda1.example.net", "eda1")


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        pytest.param([SELF], (), id="lists-only-itself"),
        pytest.param(
            [
                SELF,
                _listed(2, "explore", "10.0.0.12:8443"),
                _listed(1, "explore", "EXA1.example.net"),
            ],
            ("exa1", "exa2"),
            id="by-address-in-inventory-order",
        ),
        pytest.param(
            [SELF, _listed(1, "explore", "exa1.example.net:443")], ("exa1",), id="default-port"
        ),
        pytest.param(
            [SELF, _listed(1, "trace", "10.9.9.9", "ETA1")], ("eta1",), id="by-display-name"
        ),
        pytest.param(
            [SELF, ListedAppliance(id=1, platform="explore", hostname="x", nickname="exa2")],
            ("exa2",),
            id="by-nickname",
        ),
        pytest.param(
            [SELF, _listed(1, "command", "eca1.example.net"), _listed(2, "discover", "eda9")],
            (),
            id="command-and-discover-entries-ignored",
        ),
        pytest.param(
            [SELF, _listed(1, "explore", "10.0.0.12:9443", "exa9")],
            "it lists explore exa9 (10.0.0.12:9443), which matches no appliance of the inventory",
            id="other-port-unmatched",
        ),
        pytest.param(
            [SELF, _listed(1, "explore", "eda2.example.net", "eda2")],
            "it lists explore eda2 (eda2.example.net), which matches no appliance of the inventory",
            id="a-discover-of-the-inventory-is-no-match",
        ),
        pytest.param(
            [SELF, _listed(1, "", "exa1.example.net")],
            "it lists unknown platform id 1 (exa1.example.net), whose platform names no role",
            id="platform-unknown",
        ),
    ],
)
def test_listed_appliances_are_matched_by_address_or_name(
    listed: list[ListedAppliance], expected: tuple[str, ...] | str
) -> None:
    """Entries match by host[:port] or by name; one unmatched Explore or Trace: not known."""
    assert connected_names(listed, DISCOVER, FLEET) == expected
