"""Trust on first use against a self-signed fleet over real TLS: refused, pinned, run, replaced."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from typing import TYPE_CHECKING, Any

from fleetrun import TARGET, fast_settings, lab

from orchestrator import workflow
from orchestrator.core.tls import TlsCheck
from orchestrator.engine.logs import LogObserver
from orchestrator.inventory import load_inventory
from orchestrator.inventory.pins import pins_path, read_pins
from orchestrator.plan import Action
from orchestrator.simulator import Scenario, SimulatedFleet
from orchestrator.workflow.trust import Standing, record_pins, survey

if TYPE_CHECKING:
    from pathlib import Path

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def self_signed_lab(**certificates: str) -> dict[str, Any]:
    """The small lab fleet, every appliance with the self-signed certificate it shipped with."""
    scenario = lab(small=True)
    for spec in scenario["appliances"]:
        spec["certificate"] = certificates.get(spec["name"], "self-signed")
    return scenario


async def test_a_self_signed_fleet_is_pinned_then_upgraded_then_a_new_cert_refused(
    tmp_path: Path,
) -> None:
    """Trust → pinned run → certificate replaced → refusal naming both fingerprints."""
    settings = fast_settings(tmp_path)
    async with SimulatedFleet(Scenario.model_validate(self_signed_lab()), tls=True) as fleet:
        path = fleet.write_inventory(tmp_path / "fleet.yaml")
        inventory = load_inventory(path)

        refused = await workflow.make_plan(inventory, settings, offline=False)
        reasons = {line.name: line.reason or "" for line in refused.appliances()}
        assert set(reasons) == set(fleet.names)  # every appliance is reported, not the first
        assert all("its certificate is self-signed" in r for r in reasons.values())

        sightings = await survey(inventory, settings)
        assert {s.standing for s in sightings} == {Standing.NEW}
        problems = {s.presented.ca_problem for s in sightings if s.presented}
        assert problems == {"its certificate is self-signed"}
        record_pins(inventory, sightings, now=NOW)

        pinned = load_inventory(path)
        assert {a.tls_check for a in pinned.appliances} == {TlsCheck.PIN}
        plan = await workflow.make_plan(pinned, settings, offline=False)
        assert not plan.refused
        assert {line.tls for line in plan.appliances()} == {TlsCheck.PIN}
        stop = asyncio.Event()
        report = await workflow.execute(plan, pinned, settings, observer=LogObserver(), stop=stop)
        assert report.exit_code == 0
        assert {r.tls for r in report.results} == {TlsCheck.PIN}
        assert all(fleet.version(name) == TARGET for name in fleet.names)

        old = pinned.by_name("eda1").pin
        fleet.replace_certificate("eda1")
        again = await workflow.make_plan(pinned, settings, offline=False)
        line = again.by_name("eda1")
        assert line.action is Action.REFUSED
        new = next(s for s in await survey(pinned, settings) if s.appliance.name == "eda1")
        assert new.standing is Standing.CHANGED
        assert new.presented is not None
        assert f"pinned {old}, now {new.presented.certificate.fingerprint}" in (line.reason or "")
        assert "re-pin it with `orchestrator trust INVENTORY`" in (line.reason or "")
        assert again.by_name("eca1").action is Action.SKIP  # the others still verify


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_survey_tells_each_appliance_apart(tmp_path: Path) -> None:
    """CA-verified, self-signed, unreachable and plain-HTTP appliances each get their standing."""
    settings = fast_settings(tmp_path, connect_timeout=2)
    scenario = self_signed_lab(eca1="fleet", eda1="expired")
    closed = closed_port()
    async with SimulatedFleet(Scenario.model_validate(scenario), tls=True) as fleet:
        path = fleet.write_inventory(tmp_path / "fleet.yaml")
        text = path.read_text().replace(fleet.url("eta1"), f"https://127.0.0.1:{closed}")
        text += f"  - {{name: sim1, url: 'http://127.0.0.1:{closed}', role: discover,"
        text += " api_key_file: fleet-keys/eca1.key}\n"
        path.write_text(text)
        sightings = {s.appliance.name: s for s in await survey(load_inventory(path), settings)}
    assert sightings["eca1"].presented is not None
    assert sightings["eca1"].presented.ca_problem is None  # its CA (ca_bundle) vouches for it
    assert sightings["eda1"].presented is not None
    assert sightings["eda1"].presented.ca_problem == "its certificate has expired"
    assert sightings["eta1"].standing is Standing.FAILED
    assert sightings["eta1"].error == f"cannot connect to 127.0.0.1:{closed} (Connection refused)"
    assert sightings["sim1"].standing is Standing.PLAIN
    others = {s.standing for name, s in sightings.items() if name not in {"eta1", "sim1"}}
    assert others == {Standing.NEW}


async def test_recording_keeps_every_other_pin(tmp_path: Path) -> None:
    """Reading certificates sends no request; pinning some keeps the others' pins, in order."""
    settings = fast_settings(tmp_path)
    async with SimulatedFleet(Scenario.model_validate(self_signed_lab()), tls=True) as fleet:
        path = fleet.write_inventory(tmp_path / "fleet.yaml")
        inventory = load_inventory(path)
        sightings = await survey(inventory, settings)
        # A handshake only: no request reached any appliance, so no API key was sent.
        assert {fleet.request_count(name) for name in fleet.names} == {0}
        record_pins(inventory, [s for s in sightings if s.appliance.name == "eta1"], now=NOW)
        record_pins(inventory, [s for s in sightings if s.appliance.name == "eca1"], now=NOW)
    pins = read_pins(pins_path(path))
    assert list(pins) == ["eca1", "eta1"]
    assert pins["eta1"].comment[0].startswith(f"eta1  {fleet.url('eta1')}  (pinned 2026-12-01")
    assert "(self-signed)" in pins["eta1"].comment[2]
