"""Upgrade the firmware of a whole ExtraHop deployment through the appliances' REST API.

The public names load on first use: `import orchestrator` (and the command line's start-up)
stays cheap, and a Ctrl-C while the program starts is answered, not a traceback.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `from typing import`: `--version` then loads no typing module
if TYPE_CHECKING:
    from typing import Any

    from orchestrator.appliance.client import ApplianceClient
    from orchestrator.core.config import Settings
    from orchestrator.core.errors import OrchestratorError
    from orchestrator.engine.runner import run_plan
    from orchestrator.inventory import load_inventory
    from orchestrator.plan import build_plan

__all__ = [
    "ApplianceClient",
    "OrchestratorError",
    "Settings",
    "build_plan",
    "load_inventory",
    "run_plan",
]

_HOMES = {
    "ApplianceClient": "orchestrator.appliance.client",
    "OrchestratorError": "orchestrator.core.errors",
    "Settings": "orchestrator.core.config",
    "build_plan": "orchestrator.plan",
    "load_inventory": "orchestrator.inventory",
    "run_plan": "orchestrator.engine.runner",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the named module exports
    """Load a public name from its module on first use."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
