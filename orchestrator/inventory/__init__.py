"""Inventories (vendor CSV, headered CSV, YAML) read and checked into an `Inventory`."""

from __future__ import annotations

from orchestrator.inventory.load import (
    load_inventory,
    normalise_url,
)

__all__ = [
    "load_inventory",
    "normalise_url",
]
