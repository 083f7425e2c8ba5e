"""Backups and health reads of a simulated appliance, with their faults; pure, like `fleet`.

Customizations, running config, processes and license.

What the sources say (reference/extrahop-api.md §1.6 and §2, the seed guides): `POST
/customizations {"name"}` answers 201 with the backup's path in `Location` (the vendor's
`create_backup.py` takes the id after the last `/`); `POST /customizations/{id}/download` with
`Accept: application/exbk` answers the `.exbk` file; `GET /runningconfig`, `GET
/extrahop/processes` (an array) and `GET /license` exist. The fields of a process and of a
license are documented nowhere we hold [UNVERIFIED]: the simulator answers `{"name",
"status"}` per process and a plain license object, and the orchestrator reads only those.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from orchestrator.simulator.host import Refused

if TYPE_CHECKING:
    from orchestrator.simulator.fleet import SimAppliance

__all__ = [
    "EXBK_MEDIA_TYPE",
    "PROCESSES",
    "create_backup",
    "exbk_file",
    "license_of",
    "processes_of",
    "running_config",
]

EXBK_MEDIA_TYPE = "application/exbk"
# Invented names: the real list is not in any source we hold.
PROCESSES = ("exadmin", "excap", "exconfig", "exportal", "exstore")
_NAME_LIMIT = 200


def _upgraded(appliance: SimAppliance) -> bool:
    """Whether the appliance runs another version than the scenario started it on."""
    return appliance.version != appliance.spec.version


def create_backup(appliance: SimAppliance, name: str) -> str:
    """POST /customizations: record a named backup, its id (fault `backup_fails`: 500)."""
    if not name.strip() or len(name) > _NAME_LIMIT:
        raise Refused(400, f"name: a backup needs a name of 1 to {_NAME_LIMIT} characters")
    if appliance.spec.faults.backup_fails:
        appliance.emit("fault.injected", fault="backup_fails")
        raise Refused(500, "the customizations backup could not be created")
    ident = str(len(appliance.customizations) + 1)
    appliance.customizations[ident] = name
    appliance.emit("backup.created", backup_id=ident, name=name, version=appliance.version)
    return ident


def exbk_file(appliance: SimAppliance, ident: str) -> bytes:
    """POST /customizations/{id}/download: the backup as an `.exbk` file."""
    name = appliance.customizations.get(ident)
    if name is None:
        raise Refused(404, f"no customizations backup with id {ident}")
    body = json.dumps(
        {"name": name, "appliance": appliance.name, "version": appliance.version}
    ).encode()
    # Not the vendor's format (unknown): a recognisable header, then the backup's content.
    data = b"EXBK-SIM\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    appliance.emit("backup.downloaded", backup_id=ident, bytes=len(data))
    return data


def running_config(appliance: SimAppliance) -> dict[str, Any]:
    """GET /runningconfig: the configuration the appliance runs."""
    appliance.emit("runningconfig.read")
    return {
        "hostname": appliance.name,
        "capture": {"enabled": True},
        "ntp": {"servers": ["0.pool.ntp.org"]},
        "snmp": {"enabled": False},
    }


def processes_of(appliance: SimAppliance) -> list[dict[str, str]]:
    """GET /extrahop/processes: every process running (fault `process_down` after an upgrade)."""
    down = appliance.spec.faults.process_down if _upgraded(appliance) else None
    if down is not None:
        appliance.emit("fault.injected", fault="process_down", process=down)
    names = PROCESSES if down is None or down in PROCESSES else (*PROCESSES, down)
    return [{"name": n, "status": "stopped" if n == down else "running"} for n in names]


def license_of(appliance: SimAppliance) -> dict[str, Any]:
    """GET /license: the license applied (fault `license_changes` after an upgrade)."""
    changed = appliance.spec.faults.license_changes and _upgraded(appliance)
    if changed:
        appliance.emit("fault.injected", fault="license_changes")
    modules = ["wire_data"] if changed else ["wire_data", "ndr", "packet_forensics"]
    return {
        "edition": "Reveal(x) Enterprise",
        "platform": appliance.role.value,
        "modules": modules,
        "expires": "2027-12-31",
    }
