"""`orchestrator trust` run as a user would, against a self-signed fleet served over TLS."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from simproc import in_terminal, orchestrator

from orchestrator.inventory.pins import pins_path, read_pins
from orchestrator.simulator import SimulatedFleet
from orchestrator.simulator.testing import fast_scenario

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

pytestmark = pytest.mark.slow  # the command line runs as a process

FLEET = (
    {"name": "eda1", "role": "discover", "version": "9.8.0.100", "certificate": "self-signed"},
    {"name": "eta1", "role": "trace", "version": "9.8.0.100", "certificate": "self-signed"},
)


async def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a thread, so that this test's event loop keeps serving the fleet."""
    return await asyncio.to_thread(orchestrator, *args, cwd=cwd)


async def test_trust_pins_asks_refuses_a_changed_certificate_and_re_pins(tmp_path: Path) -> None:
    """No terminal: nothing pinned; --yes pins; a new certificate is refused; --replace re-pins."""
    async with SimulatedFleet(fast_scenario(*FLEET), tls=True) as fleet:
        inventory = fleet.write_inventory(tmp_path / "fleet.yaml")
        pins = pins_path(inventory)

        asked = await run("trust", str(inventory), cwd=tmp_path)
        assert asked.returncode == 2
        assert "no terminal to confirm on" in asked.stderr
        assert "CA check fails: its certificate is self-signed" in asked.stdout
        assert not pins.exists()

        pinned = await run("trust", str(inventory), "--yes", cwd=tmp_path)
        assert pinned.returncode == 0, pinned.stderr
        assert f"pinned 2 appliance(s) in {pins}" in pinned.stdout
        first = read_pins(pins)
        for name in ("eda1", "eta1"):
            assert f"{name}  {fleet.url(name)}\n    {first[name].fingerprint}\n" in pinned.stdout
        assert (await run("plan", str(inventory), cwd=tmp_path)).returncode == 0

        fleet.replace_certificate("eda1")
        changed = await run("trust", str(inventory), "--yes", cwd=tmp_path)
        assert changed.returncode == 1
        assert f"CHANGED since it was pinned (pinned {first['eda1'].fingerprint})" in changed.stdout
        assert "error: eda1: still pinned to its old certificate" in changed.stderr
        assert read_pins(pins) == first
        refused = await run("plan", str(inventory), cwd=tmp_path)
        assert refused.returncode == 2
        assert "its certificate changed since it was pinned" in " ".join(refused.stdout.split())
        assert "Traceback" not in refused.stderr

        replaced = await run("trust", str(inventory), "--yes", "--replace", cwd=tmp_path)
        assert replaced.returncode == 0, replaced.stderr
        assert read_pins(pins)["eda1"].fingerprint != first["eda1"].fingerprint
        assert read_pins(pins)["eta1"] == first["eta1"]
        assert (await run("plan", str(inventory), cwd=tmp_path)).returncode == 0


@pytest.mark.parametrize(("answer", "code"), [("y", 0), ("n", 4)], ids=["yes", "no"])
async def test_trust_asks_on_a_terminal(tmp_path: Path, answer: str, code: int) -> None:
    """On a terminal, trust shows the certificates and pins them only if the operator says yes."""
    async with SimulatedFleet(fast_scenario(*FLEET), tls=True) as fleet:
        inventory = fleet.write_inventory(tmp_path / "fleet.yaml")
        got, shown = await asyncio.to_thread(
            in_terminal, "trust", str(inventory), answer=answer, cwd=tmp_path, columns=120
        )
    assert got == code, shown
    assert "Pin the certificate(s) of eda1, eta1 as shown above?" in shown
    pinned = set(read_pins(pins_path(inventory)))
    assert pinned == ({"eda1", "eta1"} if answer == "y" else set())
