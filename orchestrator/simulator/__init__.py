"""An ExtraHop fleet in one process: every appliance on its own port, driven by scenario YAML."""

from orchestrator.simulator.host import Event
from orchestrator.simulator.images import IMAGE_MAGIC, make_image
from orchestrator.simulator.scenario import Scenario, default_scenario, load_scenario
from orchestrator.simulator.server import SimulatedFleet

__all__ = [
    "IMAGE_MAGIC",
    "Event",
    "Scenario",
    "SimulatedFleet",
    "default_scenario",
    "load_scenario",
    "make_image",
]
