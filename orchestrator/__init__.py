"""Upgrade the firmware of a whole ExtraHop deployment through the appliances' REST API."""

from orchestrator.client import ApplianceClient
from orchestrator.config import Settings
from orchestrator.errors import OrchestratorError
from orchestrator.inventory import load_inventory
from orchestrator.plan import build_plan
from orchestrator.runner import run_plan

__all__ = [
    "ApplianceClient",
    "OrchestratorError",
    "Settings",
    "build_plan",
    "load_inventory",
    "run_plan",
]
