"""`orchestrator simulate`: serve a scenario's fleet until cancelled."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, cast

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.scenario import default_scenario, load_scenario
from orchestrator.simulator.server import SimulatedFleet
from orchestrator.simulator.writer import FIRMWARE_MODES, KEY_MODES, FirmwareMode, KeyMode

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _check_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{flag} {value}: write one of {', '.join(choices)}")


def _write_exports(fleet: SimulatedFleet, inventory: Path) -> Path:
    """Write the key exports for keys=env beside the inventory, readable by the owner only."""
    target = inventory.with_suffix(".env")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(fleet.key_exports())
    target.chmod(0o600)
    return target


async def serve_forever(
    scenario_path: Path | None,
    *,
    write_inventory: Path | None,
    event_log: Path | None,
    keys: str,
    mode: str,
    announce: Callable[[str], None],
    tls: bool = False,
) -> None:
    """Load the scenario (default: the built-in lab fleet), serve it, announce it, wait."""
    _check_choice("--keys", keys, KEY_MODES)
    _check_choice("--mode", mode, FIRMWARE_MODES)
    scenario = default_scenario() if scenario_path is None else load_scenario(scenario_path)
    async with SimulatedFleet(scenario, event_log=event_log, tls=tls) as fleet:
        for name in fleet.names:
            role = fleet.appliance(name).role.value
            announce(f"{name:<12} {role:<9} {fleet.url(name)}")
        announce(f"{'firmware':<12} {'images':<9} {fleet.repository_url}/firmware/")
        if write_inventory is not None:
            fleet.write_inventory(
                write_inventory, keys=cast("KeyMode", keys), mode=cast("FirmwareMode", mode)
            )
            announce(f"inventory written to {write_inventory}")
            if tls:
                ca = write_inventory.with_name(f"{write_inventory.stem}-ca.pem")
                announce(f"the fleet's CA (ca_bundle) written to {ca}")
            if keys == "env":
                announce(f"API keys: source {_write_exports(fleet, write_inventory)}")
        await asyncio.Event().wait()
