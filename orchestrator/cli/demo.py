"""`orchestrator demo`: the lab-sim fleet served in-process, planned and upgraded end to end.

Over HTTPS, as real appliances speak: the fleet's certificates come from its own CA, which the
written inventory names as its `ca_bundle`, so every request is verified.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.inventory import load_inventory
from orchestrator.simulator import SimulatedFleet, default_scenario

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory
    from orchestrator.simulator import Scenario


def scaled_settings(scenario: Scenario, base: Settings, state_db: Path) -> Settings:
    """Settings whose polling and estimates fit the scenario's scaled-down clock."""
    scale = scenario.time_scale
    timing = scenario.defaults
    return base.model_copy(
        update={
            "state_db": state_db,
            "concurrency": max(base.concurrency, 3),
            "poll_interval": max(0.05, 5.0 * scale),
            "poll_interval_max": max(0.25, 60.0 * scale),
            "upload_throughput": (timing.upload_throughput or 1e9) / scale,
            "download_duration": timing.download_duration * scale,
            "upgrade_duration": timing.job_duration * scale,
            "reboot_duration": timing.restart_downtime * scale,
            "job_deadline": max(30.0, 3600.0 * scale),
            "reboot_deadline": max(30.0, 1800.0 * scale),
            "retry_timeout": max(10.0, 120.0 * scale),
        }
    )


@contextlib.asynccontextmanager
async def demo_fleet(base: Settings) -> AsyncIterator[tuple[Inventory, Settings, SimulatedFleet]]:
    """Serve lab-sim on loopback over TLS, write its inventory, yield it with matching settings."""
    scenario = default_scenario()
    with tempfile.TemporaryDirectory(prefix="orchestrator-demo-") as tmp:
        async with SimulatedFleet(scenario, tls=True) as fleet:
            path = fleet.write_inventory(Path(tmp) / "fleet.yaml")
            inventory = load_inventory(path)
            settings = scaled_settings(scenario, base, Path(tmp) / "state.db")
            yield inventory, settings, fleet
