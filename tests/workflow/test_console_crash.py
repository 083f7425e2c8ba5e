"""Console mode on real processes over TLS: discover, validate, plan, apply; SIGKILL, resume.

The simulator runs in its own process (`simulate --tls`); its event log is the ground truth:
one upgrade request to the console per appliance, however the run was interrupted.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import pytest
import yaml
from discovering import complete
from fleetcheck import has, kill, slow_lab, wait_for
from fleetrun import TARGET
from simproc import Sim, orchestrator, start_orchestrator

from orchestrator.inventory.discovered import key_variable

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

THROUGH = {"eda1": 1, "exa-m1": 2, "exa-d1": 3, "eta1": 4}  # their ids on the console


@pytest.fixture
def tls_sim(tmp_path: Path) -> Iterator[Sim]:
    """The small lab fleet over HTTPS, eda1's remote job long enough to be killed during."""
    scenario = slow_lab()
    next(a for a in scenario["appliances"] if a["name"] == "eda1")["job_duration"] = 4000
    fleet = Sim(tmp_path, scenario, tls=True)
    yield fleet
    fleet.stop()


def operator_keys(sim: Sim) -> dict[str, str]:
    """What the operator exports: the console's key and exa-m1's (ingest), nothing else."""
    keys = dict(zip(["eca1", "eda1", "exa-m1", "exa-d1", "eta1"], sim.keys, strict=True))
    return {"EXTRAHOP_API_KEY": keys["eca1"], key_variable("exa-m1"): keys["exa-m1"]}


def discover_in_console_mode(sim: Sim) -> str:
    """`discover` the console into console.yaml, fill in the clusters, choose console mode."""
    written = yaml.safe_load(sim.inventory.read_text())
    console_url = written["appliances"][0]["url"]
    ca = written["defaults"]["ca_bundle"]
    env = operator_keys(sim)
    found = orchestrator(
        "discover", console_url, "--out", "console.yaml", "--ca-bundle", ca,
        "--version", TARGET, cwd=sim.dir, env=env,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    path = sim.dir / "console.yaml"
    complete(path)
    path.write_text(path.read_text().replace("cloud_version", "console_version"))
    assert orchestrator("validate", "console.yaml", cwd=sim.dir, env=env).returncode == 0
    return "console.yaml"


def test_discover_plan_apply_sigkill_resume_asks_the_console_once_per_appliance(
    tls_sim: Sim,
) -> None:
    """Killed during eda1's remote job, resume re-attaches it: one request each, all upgraded."""
    sim = tls_sim
    env = operator_keys(sim)
    inventory = discover_in_console_mode(sim)
    plan = orchestrator("plan", inventory, cwd=sim.dir, env=env | {"COLUMNS": "80"})
    assert plan.returncode == 0, plan.stderr
    assert "console 9.9.1.100 via eca1 (id 1)" in plan.stdout
    assert "eca1: the console, upgrades 4 appliances" in plan.stdout
    proc = start_orchestrator("apply", inventory, "--yes", cwd=sim.dir, env=env)
    wait_for(sim, has("job.created", "eda1"))
    kill(proc)
    result = orchestrator("resume", cwd=sim.dir, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    events = sim.events()
    asked = collections.Counter(
        ident
        for e in events
        if e["kind"] == "console.upgrade_started"
        for ident in e["data"]["system_ids"]
    )
    assert asked == dict.fromkeys(THROUGH.values(), 1)
    jobs = collections.Counter(e["appliance"] for e in events if e["kind"] == "job.created")
    assert jobs == dict.fromkeys(["eca1", *THROUGH], 1)
    versions = {
        e["appliance"]: e["data"]["version"] for e in events if e["kind"] == "restart.finished"
    }
    assert versions == dict.fromkeys(["eca1", *THROUGH], TARGET)
    ingest = [e["data"]["enabled"] for e in events if e["kind"] == "ingest.changed"]
    assert ingest == [False, True]
