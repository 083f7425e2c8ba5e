"""`discover` against a simulated console over real TLS: written, completed, validated, planned."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from discovering import ca, complete, console_env
from fleetrun import TARGET, fast_settings, lab

from orchestrator import workflow
from orchestrator.core.errors import ConfigError, InventoryError, TransportError
from orchestrator.inventory import load_inventory
from orchestrator.inventory.pins import pins_path, read_pins
from orchestrator.simulator import Scenario, SimulatedFleet
from orchestrator.workflow.discover import Request, Result, discover

if TYPE_CHECKING:
    from orchestrator.core.config import Settings


def serve(scenario: dict[str, Any] | None = None) -> SimulatedFleet:
    """The small lab fleet (or `scenario`) over TLS."""
    return SimulatedFleet(Scenario.model_validate(scenario or lab(small=True)), tls=True)


async def run(fleet: SimulatedFleet, tmp_path: Path, settings: Settings, **fields: Any) -> Result:  # noqa: ANN401
    """Run discover with the console's URL and the fleet's CA, and `fields` of the request."""
    request: dict[str, Any] = {"out": tmp_path / "fleet.yaml", "ca_bundle": ca(fleet, tmp_path)}
    request |= fields
    return await discover(Request(fleet.url("eca1"), **request), settings, console_env(fleet))


async def test_discovered_inventory_validates_and_plans_once_completed(tmp_path: Path) -> None:
    """Every appliance is written with its role, console id and key variable; it then plans."""
    settings = fast_settings(tmp_path)
    async with serve() as fleet:
        result = await run(fleet, tmp_path, settings, version=TARGET)
        text = result.path.read_text()
        assert [e.name for e in result.entries] == list(fleet.names)
        assert [e.console_id for e in result.entries] == list(range(len(fleet.names)))
        assert "exa-m1" in text
        assert text.count("FILL IN its cluster and node") == 2
        assert "ca_bundle: corp-ca.pem" in text
        assert all(fleet.api_key(name) not in text for name in fleet.names)
        assert result.path.stat().st_mode & 0o777 == 0o600

        with pytest.raises(InventoryError) as caught:
            load_inventory(result.path, env=console_env(fleet))
        lines = caught.value.lines()
        assert len(lines) == 2
        assert all("has no cluster or node (the console cannot tell)" in line for line in lines)
        assert "fleet.yaml:appliances[2]: explore appliance exa-m1" in lines[0]

        complete(result.path)
        inventory = load_inventory(result.path, env=console_env(fleet))
        assert {a.name: a.url for a in inventory.appliances} == {
            name: fleet.url(name) for name in fleet.names
        }
        plan = await workflow.make_plan(inventory, settings, offline=False)
        assert not plan.refused
        assert {line.name: line.target_version for line in plan.appliances()} == dict.fromkeys(
            fleet.names, TARGET
        )


async def test_merge_adds_new_appliances_and_keeps_every_hand_edit(tmp_path: Path) -> None:
    """--merge appends what the console lists anew; settings, comments and gone ones stay."""
    settings = fast_settings(tmp_path)
    existing = tmp_path / "fleet.yaml"
    async with serve() as fleet:
        hand_written = (
            "# our lab, reviewed by the change board\n"
            "defaults: {api_key_env: LAB_KEY}\n"
            "firmware:\n"
            f"  discover: {{cloud_version: {TARGET}}}\n"
            "appliances:\n"
            f"  - name: console   # renamed by hand\n"
            f"    url: {fleet.url('eca1')}\n"
            "    role: command\n"
            "  - {name: eda1, url: 'https://eda1.example.net', role: discover, verify_tls: true}\n"
            "  - name: old-eda\n"
            "    url: https://10.9.9.9\n"
            "    role: discover\n"
            "    # retired next quarter\n"
            "\n"
            "# end of the list\n"
        )
        existing.write_text(hand_written)
        result = await run(fleet, tmp_path, settings, out=None, merge=existing)
        text = existing.read_text()
        again = await run(fleet, tmp_path, settings, out=None, merge=existing)
    assert again.added == ()
    assert existing.read_text() == text  # nothing new: the file is left as it was
    assert result.added == ("exa-m1", "exa-d1", "eta1")
    assert result.unlisted == ("old-eda",)
    head, _ = hand_written.split("\n\n# end of the list\n")
    assert text.startswith(head + "\n  - name: exa-m1\n")
    assert text.endswith("\n\n# end of the list\n")
    assert text.count("name: eda1") == 1  # matched by name, even at another URL
    assert text.count("name: console") == 1  # matched by URL under its own name
    assert text.count("- name:") == 5  # console, old-eda and the three added
    assert "LAB_KEY" in text


async def test_only_connected_appliances_are_written_and_a_disconnected_one_is_flagged(
    tmp_path: Path,
) -> None:
    """A console lists only what is connected to it; one it cannot reach is written, flagged."""
    scenario = lab(small=True, faults={"eda1": {"disconnected": True}})
    scenario["appliances"][0]["connected"] = ["eda1", "eta1"]
    async with serve(scenario) as fleet:
        result = await run(fleet, tmp_path, fast_settings(tmp_path))
    assert [(e.name, e.console_id, e.online) for e in result.entries] == [
        ("eca1", 0, True),
        ("eda1", 1, False),
        ("eta1", 4, True),
    ]
    text = result.path.read_text()
    assert "# the console could not reach it (Unable to connect to the appliance)" in text
    assert "# FILL IN the firmware" in text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        pytest.param({"version": "latest"}, "--version 'latest' is not a version", id="version"),
        pytest.param({"pin": "sha1:abc"}, "--pin is not a SHA-256 fingerprint", id="pin"),
        pytest.param({"key_env": "NOPE"}, "NOPE is unset or empty", id="key-unset"),
        pytest.param({"key_file": Path("missing.key")}, "cannot read key file", id="key-file"),
        pytest.param({"ca_bundle": Path("missing.pem")}, "--ca-bundle missing.pem", id="ca"),
        pytest.param({"out": Path("fleet.csv")}, "discover writes YAML", id="csv"),
        pytest.param({"out": None}, "give --out PATH", id="no-out"),
        pytest.param({"merge": Path("missing.yaml")}, "--merge missing.yaml", id="no-merge"),
    ],
)
async def test_bad_input_is_refused_before_the_console_is_asked(
    tmp_path: Path, fields: dict[str, Any], words: str
) -> None:
    """One clear error, no request to the console, nothing written."""
    async with serve() as fleet:
        with pytest.raises((ConfigError, InventoryError)) as caught:
            await run(fleet, tmp_path, fast_settings(tmp_path), **fields)
        assert fleet.request_count("eca1") == 0
    assert words in str(caught.value)
    assert not (tmp_path / "fleet.yaml").exists()


async def test_an_existing_inventory_is_never_overwritten(tmp_path: Path) -> None:
    """--out naming an existing file is refused; --merge is the way to update it."""
    (tmp_path / "fleet.yaml").write_text("appliances: []\n")
    async with serve() as fleet:
        with pytest.raises(ConfigError, match="give --merge"):
            await run(fleet, tmp_path, fast_settings(tmp_path))
    assert (tmp_path / "fleet.yaml").read_text() == "appliances: []\n"


async def test_a_refused_certificate_is_shown_and_pinning_it_works(tmp_path: Path) -> None:
    """Without the CA: the error gives the fingerprint; --pin with it reads the console."""
    settings = fast_settings(tmp_path)
    async with serve() as fleet:
        with pytest.raises(TransportError) as caught:
            await run(fleet, tmp_path, settings, ca_bundle=None)
        fingerprint = re.search(r"--pin (sha256:[0-9a-f]{64})", str(caught.value))
        assert fingerprint is not None
        assert "signed by an unknown CA" in str(caught.value)
        assert not (tmp_path / "fleet.yaml").exists()

        result = await run(fleet, tmp_path, settings, ca_bundle=None, pin=fingerprint.group(1))
    assert read_pins(pins_path(result.path))["eca1"].fingerprint == fingerprint.group(1)
