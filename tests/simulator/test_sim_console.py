"""The Command appliance as a console: the appliances connected to it, and disconnected ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.scenario import parse_scenario

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Start

CONSOLE = {"name": "eca1", "role": "command", "version": "9.8.0.100"}
EDA1 = {"name": "eda1", "role": "discover", "version": "9.8.0.100"}
EDA2 = {"name": "eda2", "role": "discover", "version": "9.7.0.50"}
ETA1 = {"name": "eta1", "role": "trace", "version": "9.8.0.100"}


async def test_console_lists_each_appliance_with_its_address_and_version(start: Start) -> None:
    """Each listed appliance has an id, platform, version, and a hostname that reaches it."""
    api = await start(CONSOLE, EDA1, EDA2)
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    for item in listed:
        assert f"http://{item['hostname']}" == api.fleet.url(item["display_name"])
        assert item["status_message"] == "Online"
    assert [(a["id"], a["platform"], a["firmware_version"]) for a in listed] == [
        (0, "command", "9.8.0.100"),
        (1, "discover", "9.8.0.100"),
        (2, "discover", "9.7.0.50"),
    ]


async def test_console_lists_only_the_appliances_connected_to_it(start: Start) -> None:
    """`connected:` limits the list; ids stay those of the whole fleet, so they never shift."""
    api = await start({**CONSOLE, "connected": ["eta1"]}, EDA1, ETA1)
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    assert [(a["id"], a["display_name"]) for a in listed] == [(0, "eca1"), (2, "eta1")]
    assert (await api.call("eca1", "GET", "/api/v1/appliances/1")).status == 404


async def test_a_disconnected_appliance_is_listed_unreachable_at_its_old_version(
    start: Start,
) -> None:
    """A disconnected appliance is listed as unable to connect, at the version last seen."""
    eda2 = {**EDA2, "faults": {"disconnected": True}}
    api = await start(CONSOLE, EDA1, eda2)
    api.fleet.appliance("eda2").version = "9.9.1.100"  # upgraded behind the console's back
    listed = {
        a["display_name"]: a for a in (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    }
    assert listed["eda2"]["status_message"].startswith("Unable to connect")
    assert listed["eda2"]["firmware_version"] == "9.7.0.50"
    assert listed["eda1"]["status_message"] == "Online"
    own = (await api.call("eda2", "GET", "/api/v1/extrahop")).json()
    assert own["version"] == "9.9.1.100"  # the appliance itself still answers


@pytest.mark.parametrize(
    ("appliances", "words"),
    [
        pytest.param(
            [{**CONSOLE, "connected": ["eda9"]}, EDA1],
            "eca1.connected: no other appliance is named 'eda9'; use one of eda1",
            id="unknown-name",
        ),
        pytest.param(
            [CONSOLE, {**EDA1, "connected": ["eca1"]}],
            "only a command appliance (a console) has `connected`",
            id="not-a-console",
        ),
    ],
)
def test_connected_names_are_checked(appliances: list[dict[str, object]], words: str) -> None:
    """A console connected to an unknown appliance, or a sensor with `connected`, is refused."""
    text = yaml.safe_dump({"appliances": appliances})
    with pytest.raises(ConfigError, match=r"^fleet\.yaml: ") as caught:
        parse_scenario(text, source="fleet.yaml")
    assert words in str(caught.value)
