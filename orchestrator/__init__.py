"""Upgrade the firmware of a whole ExtraHop deployment through the appliances' REST API."""

from orchestrator.config import Settings
from orchestrator.errors import OrchestratorError

__all__ = ["OrchestratorError", "Settings"]
