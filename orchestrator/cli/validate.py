"""`orchestrator validate INVENTORY`: parse and check an inventory; no network, no state."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from orchestrator.cli.args import settings_from
from orchestrator.cli.exitcodes import EXIT_OK
from orchestrator.inventory import load_inventory

if TYPE_CHECKING:
    import argparse

    from orchestrator.cli.voice import Voice
    from orchestrator.core.models import Inventory

__all__ = ["validate"]


def validate(args: argparse.Namespace, voice: Voice) -> int:
    """Check the settings and the inventory; say what the inventory holds (stdout)."""
    settings_from(args)  # a bad setting is refused here as by every other command
    inventory = load_inventory(args.inventory)
    for warning in inventory.warnings:
        voice.warning(warning, event="inventory.warned")
    sys.stdout.write(f"{inventory.source}: OK, {summary(inventory)}\n")
    return EXIT_OK


def summary(inventory: Inventory) -> str:
    """`5 appliances (1 command, 1 discover, 2 explore, 1 trace)`."""
    roles: dict[str, int] = {}
    for appliance in inventory.appliances:
        key = appliance.role.value if appliance.role else "role from platform"
        roles[key] = roles.get(key, 0) + 1
    detail = ", ".join(f"{n} {r}" for r, n in roles.items())
    count = len(inventory.appliances)
    noun = "appliance" if count == 1 else "appliances"
    return f"{count} {noun} ({detail})"
