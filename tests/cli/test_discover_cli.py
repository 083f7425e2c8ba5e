"""`orchestrator discover` run as a user would: written, refused, and never showing a key."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from fleetrun import lab
from simproc import orchestrator

from orchestrator.simulator import Scenario, SimulatedFleet

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

pytestmark = pytest.mark.slow  # the command line runs as a process


async def run(*args: str, cwd: Path, key: str) -> subprocess.CompletedProcess[str]:
    """The command line in a thread (this loop serves the fleet), the console's key set."""
    env = {"EXTRAHOP_API_KEY": key}
    return await asyncio.to_thread(orchestrator, "discover", *args, cwd=cwd, env=env)


async def test_discover_writes_then_refuses_to_overwrite_and_names_a_refused_key(
    tmp_path: Path,
) -> None:
    """Exit 0 with a summary of what to fill in; 2 for an existing --out; 1 for a wrong key."""
    async with SimulatedFleet(Scenario.model_validate(lab(small=True)), tls=True) as fleet:
        (tmp_path / "ca.pem").write_bytes(fleet.ca_pem or b"")
        key, url = fleet.api_key("eca1"), fleet.url("eca1")
        flags = ("--out", "fleet.yaml", "--ca-bundle", "ca.pem")
        written = await run(url, *flags, cwd=tmp_path, key=key)
        again = await run(url, *flags, cwd=tmp_path, key=key)
        refused = await run(
            url, "--out", "other.yaml", "--ca-bundle", "ca.pem", cwd=tmp_path, key="x"
        )
    assert written.returncode == 0, written.stderr
    assert written.stdout.splitlines()[:2] == [
        "fleet.yaml: written, 5 appliances (1 command, 1 discover, 2 explore, 1 trace)",
        "  fill in: the cluster and node of exa-m1, exa-d1",
    ]
    assert "orchestrator validate fleet.yaml && orchestrator trust fleet.yaml" in written.stdout
    assert again.returncode == 2
    assert "error: --out fleet.yaml exists; give --merge fleet.yaml to update it" in again.stderr
    assert refused.returncode == 1
    assert f"error: {url}: HTTP 401" in refused.stderr
    assert not (tmp_path / "other.yaml").exists()
    for result in (written, again, refused):
        assert key not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
