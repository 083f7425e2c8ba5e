"""The Command appliance's view of its fleet: `GET /appliances` as a console answers it.

A console lists itself as id 0, then each appliance connected to it (the scenario's
`connected:`, every other appliance by default) with a stable id: its position among the
console's others, so an id never changes when another appliance is disconnected. The
`hostname` is the address the console reaches it at: on the simulator, `127.0.0.1:PORT`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.core.consolelist import ONLINE
from orchestrator.core.models import Role

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from orchestrator.simulator.fleet import SimAppliance

__all__ = ["DISCONNECTED", "appliance_list"]

HOST = "127.0.0.1"
DISCONNECTED = "Unable to connect to the appliance"


def appliance_list(
    local: SimAppliance, fleet: Iterable[SimAppliance], ports: Mapping[str, int]
) -> list[dict[str, Any]]:
    """What `local` answers to GET /appliances: itself, and on a console its connected ones."""
    result = [_entry(local, 0, ports, local=True)]
    if local.role is not Role.COMMAND:
        return result
    wanted = local.spec.connected
    others = [appliance for appliance in fleet if appliance is not local]
    for ident, other in enumerate(others, start=1):
        if wanted is None or other.name in wanted:
            result.append(_entry(other, ident, ports, local=False))
    return result


def _entry(
    appliance: SimAppliance, ident: int, ports: Mapping[str, int], *, local: bool
) -> dict[str, Any]:
    cut_off = appliance.spec.faults.disconnected and not local
    port = ports.get(appliance.name)
    return {
        "id": ident,
        "uuid": f"00000000-0000-4000-8000-{ident:012d}",
        "hostname": f"{HOST}:{port}" if port else appliance.name,
        "display_name": appliance.name,
        "nickname": "",
        "platform": appliance.role.value,
        # A console reports what it last saw of an appliance it cannot reach.
        "firmware_version": appliance.spec.version if cut_off else appliance.version,
        "connection_type": "local" if local else "direct",
        "status_message": ONLINE if appliance.up and not cut_off else DISCONNECTED,
        "managed_by_local": not local,
        "manages_local": False,
        "data_access": not cut_off,
    }
