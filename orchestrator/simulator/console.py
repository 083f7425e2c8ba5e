"""The Command appliance as a console: its connected appliances, and upgrading them.

A console lists itself as id 0, then each appliance connected to it (the scenario's
`connected:`, every other appliance by default) with a stable id: its position among the
console's others, so an id never changes when another appliance is disconnected. The
`hostname` is the address the console reaches it at: on the simulator, `127.0.0.1:PORT`.
A Discover appliance lists the same way the Explore and Trace appliances connected to it
(by default every Explore and Trace appliance); any other appliance lists only itself.

`POST /appliances/firmware/upgrade` starts one console job whose `remote_jobs` follow a
Cloud Services download-and-install job on each appliance named (`ConsoleJob`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.core.consolelist import ONLINE
from orchestrator.core.models import Role, parse_version
from orchestrator.simulator.host import Refused
from orchestrator.simulator.jobs import Job
from orchestrator.simulator.scenario import CONNECTED_ROLES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from orchestrator.simulator.fleet import SimAppliance

__all__ = ["DISCONNECTED", "ConsoleJob", "appliance_list", "firmware_next", "start_upgrade"]

HOST = "127.0.0.1"
DISCONNECTED = "Unable to connect to the appliance"


def appliance_list(
    local: SimAppliance, fleet: Iterable[SimAppliance], ports: Mapping[str, int]
) -> list[dict[str, Any]]:
    """What `local` answers to GET /appliances: itself, and its connected appliances."""
    if local.spec.faults.no_appliance_list:
        local.emit("fault.injected", fault="no_appliance_list")
        raise Refused(404, "GET /api/v1/appliances: Not Found")
    return [_entry(local, 0, ports, local=True)] + [
        _entry(other, ident, ports, local=False) for ident, other in connected(local, fleet).items()
    ]


def connected(local: SimAppliance, fleet: Iterable[SimAppliance]) -> dict[int, SimAppliance]:
    """The appliances connected to `local` (a console or a Discover), by their id on it."""
    wanted = local.spec.connected
    listed = CONNECTED_ROLES.get(local.role, frozenset())
    others = [appliance for appliance in fleet if appliance is not local]
    return {
        ident: other
        for ident, other in enumerate(others, start=1)
        if other.role in listed and (wanted is None or other.name in wanted)
    }


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


# -- upgrades through the console ------------------------------------------------------------


@dataclass
class Remote:
    """One appliance's part of a console job: the job it runs, or why it could not start."""

    system_id: int
    appliance: SimAppliance
    job: Job | None
    failure: str = ""

    def as_json(self) -> dict[str, Any]:
        """A `remote_jobs` entry."""
        if self.job is None:
            return {
                "job_id": None,
                "system_id": self.system_id,
                "status": "FAILED",
                "step_description": None,
                "step_number": None,
                "total_steps": None,
                "details": self.failure,
            }
        own = self.job.as_json()
        fields = ("status", "step_description", "step_number", "total_steps", "details")
        return {"job_id": own["id"], "system_id": self.system_id} | {f: own[f] for f in fields}


@dataclass
class ConsoleJob(Job):
    """A console's job upgrading connected appliances: it ends when every remote job has."""

    remotes: list[Remote] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JobStatus object, its status and remote_jobs read from the appliances' jobs."""
        remote_jobs = [remote.as_json() for remote in self.remotes]
        ended = [r["status"] for r in remote_jobs if r["status"] in _TERMINAL]
        if len(ended) == len(remote_jobs):
            failed = len([status for status in ended if status != "DONE"])
            self.status = "FAILED" if failed else "DONE"
            self.details = f"{failed} of {len(ended)} remote jobs failed" if failed else ""
        return super().as_json() | {"remote_jobs": remote_jobs}


_TERMINAL = frozenset({"DONE", "FAILED", "TIMEOUT"})
_CONSOLE_STEP = ("Upgrading connected appliances",)


def _console(appliance: SimAppliance) -> SimAppliance:
    if appliance.role is not Role.COMMAND:
        raise Refused(400, "only a Command appliance upgrades connected appliances")
    return appliance


def firmware_next(
    console: SimAppliance,
    fleet: Iterable[SimAppliance],
    available: Sequence[str],
    ids: Sequence[int] | None,
) -> list[dict[str, Any]]:
    """GET /appliances/firmware/next: each newer version, and which of `ids` can go to it."""
    appliances = _chosen(connected(_console(console), fleet), ids)
    releases: dict[str, list[dict[str, Any]]] = {}
    newest_first = sorted(available, key=lambda v: parse_version(v) or 0, reverse=True)
    for version in newest_first:
        target = parse_version(version)
        system_ids = [
            ident
            for ident, appliance in appliances.items()
            if target is not None and target > (parse_version(appliance.version) or target)
        ]
        if system_ids:
            release = ".".join(version.split(".")[:2])
            releases.setdefault(release, []).append({"version": version, "system_ids": system_ids})
    return [{"release": name, "versions": versions} for name, versions in releases.items()]


def start_upgrade(
    console: SimAppliance,
    fleet: Iterable[SimAppliance],
    available: Sequence[str],
    system_ids: Sequence[int],
    version: str,
) -> ConsoleJob:
    """POST /appliances/firmware/upgrade: one remote job per appliance; the console's job."""
    appliances = _chosen(connected(_console(console), fleet), system_ids)
    if not appliances:
        raise Refused(400, "system_ids: name at least one connected appliance")
    if version not in available:
        raise Refused(400, f"version {version} is not available from Cloud Services")
    console.check_can_start()
    job = ConsoleJob(
        id=str(uuid.uuid4()),
        type="remote_upgrade",
        target_version=version,
        steps=_CONSOLE_STEP,
        install=False,
        restart_after=False,
        public=True,
    )
    job.remotes = [_remote(ident, appliance, version) for ident, appliance in appliances.items()]
    console.jobs[job.id] = job
    console.emit(
        "console.upgrade_started", job_id=job.id, system_ids=list(appliances), version=version
    )
    return job


def _chosen(
    appliances: dict[int, SimAppliance], ids: Sequence[int] | None
) -> dict[int, SimAppliance]:
    if ids is None:
        return appliances
    unknown = [str(ident) for ident in ids if ident not in appliances]
    if unknown:
        raise Refused(400, f"no connected appliance has id {', '.join(unknown)}")
    return {ident: appliances[ident] for ident in dict.fromkeys(ids)}


def _remote(system_id: int, appliance: SimAppliance, version: str) -> Remote:
    """Start `appliance`'s download-and-install job, or record why it could not start."""
    if appliance.spec.faults.disconnected or not appliance.up:
        failure = f"the console cannot reach {appliance.name} ({DISCONNECTED.lower()})"
        appliance.emit("console.remote_failed", reason=failure)
        return Remote(system_id, appliance, None, failure)
    try:
        job = appliance.start_download("download_version", version, upgrade=True)
    except Refused as exc:
        appliance.emit("console.remote_failed", reason=exc.message)
        return Remote(system_id, appliance, None, exc.message)
    return Remote(system_id, appliance, job)
