"""A scenario's appliances held in memory, reached through the engine's appliance port.

The seam below the client (as httpx's `MockTransport`): the same pure state machines as the
served simulator (`orchestrator.simulator.fleet`), with no socket in between, so the engine
can be run and interrupted at any step directly, fast, and without timing luck. Each
`MemoryAppliance` answers as `orchestrator.appliance.ApplianceClient` would, errors included:
a refused request is an `ApiError`, an appliance that is restarting refuses connections
(`TransportError`). Nothing is retried (that is the client's business, tested apart).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from orchestrator.core.consolelist import ConsoleJob, ListedAppliance
from orchestrator.core.errors import ApiError, AuthError, TransportError
from orchestrator.core.models import (
    ApplianceInfo,
    ClusterInfo,
    JobState,
    PreviousFirmware,
    ProcessState,
)
from orchestrator.simulator import snapshots
from orchestrator.simulator.console import appliance_list, start_upgrade
from orchestrator.simulator.fleet import build_appliances
from orchestrator.simulator.host import Event, Refused
from orchestrator.simulator.images import (
    HEADER_LIMIT,
    image_header,
    parse_image_header,
    served_image,
)
from orchestrator.simulator.jobs import Fetched

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from orchestrator.simulator.fleet import SimAppliance
    from orchestrator.simulator.jobs import Job
    from orchestrator.simulator.scenario import Scenario

__all__ = ["MemoryAppliance", "MemoryFleet"]

T = TypeVar("T")

_AUTH = frozenset({401, 403})


class MemoryFleet:
    """Every appliance of `scenario`, in memory; use inside a running event loop."""

    def __init__(self, scenario: Scenario) -> None:
        self.events: list[Event] = []
        self.down: set[str] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self.appliances = build_appliances(scenario, self)
        self.available = (*scenario.available_versions, scenario.target_version or "")
        self.image_size = scenario.image_size

    def client(self, name: str) -> MemoryAppliance:
        """The appliance called `name`, as the engine's appliance port."""
        return MemoryAppliance(self, self.appliances[name])

    def close(self) -> None:
        """Cancel every timer (jobs and restarts under way stop where they are)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def kinds(self, name: str) -> list[str]:
        """The kinds of event of one appliance, in order."""
        return [e.kind for e in self.events if e.appliance == name]

    # -- Host protocol (called by the appliances) ---------------------------------------

    def now(self) -> float:
        """Monotonic wall time in seconds."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` after `delay` seconds on the running loop."""
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.discard(holder[0])
            callback()

        holder.append(asyncio.get_running_loop().call_later(max(delay, 0.0), fire))
        self._timers.add(holder[0])

    def emit(self, appliance: str, kind: str, data: dict[str, Any]) -> None:
        """Record an event."""
        self.events.append(Event(time.monotonic(), appliance, kind, data))

    def go_down(self, appliance: str) -> None:
        """The appliance refuses connections until it comes up."""
        self.down.add(appliance)

    def come_up(self, appliance: str, then: Callable[[], None]) -> None:
        """The appliance answers again."""
        self.down.discard(appliance)
        then()

    def download(self, appliance: str, url: str, then: Callable[[Fetched], None]) -> None:
        """A URL download, answered by the fleet's repository whatever the host (no socket)."""
        del appliance
        header = served_image(urlsplit(url).path)
        if header is None:
            fetched = Fetched(error="the server answered HTTP 404 Not Found")
        else:
            fetched = Fetched(image_header(*header), max(self.image_size, HEADER_LIMIT))
        self.call_later(0, lambda: then(fetched))


class MemoryAppliance:
    """One in-memory appliance behind the engine's `AppliancePort`."""

    def __init__(self, fleet: MemoryFleet, appliance: SimAppliance) -> None:
        self.fleet = fleet
        self.appliance = appliance
        self.name = appliance.name

    async def _call(self, answer: Callable[[], T]) -> T:
        """One request: through the gate (faults, key), then `answer`; errors as the client's."""
        await asyncio.sleep(0)  # a request yields to the loop, as I/O would
        if self.name in self.fleet.down:
            raise TransportError(self.name, "cannot connect (Connection refused)")
        appliance = self.appliance
        appliance.requests += 1
        try:
            appliance.gate(f"ExtraHop apikey={appliance.api_key}")
            return answer()
        except Refused as exc:
            kind = AuthError if exc.status in _AUTH else ApiError
            after = exc.headers.get("Retry-After")
            retry_after = float(after) if after is not None else None
            raise kind(self.name, exc.status, exc.message, retry_after=retry_after) from None

    # -- identity and ingest --------------------------------------------------------------

    async def get_info(self, *, retry: bool = True) -> ApplianceInfo:
        """GET /extrahop."""
        del retry
        a = self.appliance
        return await self._call(
            lambda: ApplianceInfo(version=a.version, platform=a.role.value, hostname=a.name)
        )

    async def get_version(self, *, retry: bool = True) -> str:
        """GET /extrahop/version."""
        del retry
        version: str = await self._call(lambda: self.appliance.version)
        return version

    async def get_cluster(self) -> ClusterInfo:
        """GET /extrahop/cluster."""

        def answer() -> ClusterInfo:
            cluster = self.appliance.cluster
            if cluster is None:
                raise Refused(404, "this appliance is not an Explore cluster node")
            return ClusterInfo(ingest_enabled=cluster.ingest_enabled)

        info: ClusterInfo = await self._call(answer)
        return info

    async def set_ingest(self, *, enabled: bool) -> None:
        """PATCH /extrahop/cluster."""
        await self._call(lambda: self.appliance.change_ingest(enabled=enabled))

    # -- firmware ------------------------------------------------------------------------

    async def upload_firmware(
        self,
        path: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        expected: object | None = None,
    ) -> None:
        """POST /extrahop/firmware: the image is taken at once, its header read."""
        del expected
        data = await asyncio.to_thread(path.read_bytes)
        if progress is not None:
            progress(0, len(data))

        def accept() -> None:
            self.appliance.check_upload_allowed()
            self.appliance.emit("upload.started")
            header = parse_image_header(data[:HEADER_LIMIT])
            platform, version = (header.platform, header.version) if header else (None, None)
            self.appliance.accept_image(platform, version, len(data))

        await self._call(accept)
        if progress is not None:
            progress(len(data), len(data))

    async def start_upgrade(self, *, restart_after: bool = True) -> str | None:
        """POST /extrahop/firmware/latest/upgrade."""
        job: Job = await self._call(
            lambda: self.appliance.start_upgrade(restart_after=restart_after)
        )
        return job.public_id

    async def download_url(
        self, url: str, *, upgrade: bool = True, force: bool = False
    ) -> str | None:
        """POST /extrahop/firmware/download/url."""
        job: Job = await self._call(
            lambda: self.appliance.download_from_url(url, upgrade=upgrade, force=force)
        )
        return job.public_id

    async def download_version(self, version: str, *, upgrade: bool = False) -> str | None:
        """POST /extrahop/firmware/download/version."""

        def start() -> Job:
            if version not in self.fleet.available:
                raise Refused(400, f"version {version} is not available from Cloud Services")
            return self.appliance.start_download("download_version", version, upgrade=upgrade)

        job: Job = await self._call(start)
        return job.public_id

    # -- the console (a Command appliance upgrading its connected appliances) -------------

    async def list_appliances(self) -> list[ListedAppliance]:
        """GET /appliances: itself as id 0, and its connected ones (console, Discover)."""

        def answer() -> list[ListedAppliance]:
            listed = appliance_list(self.appliance, self.fleet.appliances.values(), {})
            return [ListedAppliance.model_validate(_listed(item)) for item in listed]

        items: list[ListedAppliance] = await self._call(answer)
        return items

    async def console_upgrade(self, system_ids: list[int], version: str) -> str | None:
        """POST /appliances/firmware/upgrade: the console job's id."""
        fleet = self.fleet.appliances.values()
        available = self.fleet.available
        job: Job = await self._call(
            lambda: start_upgrade(self.appliance, fleet, available, system_ids, version)
        )
        return job.public_id

    async def get_console_job(self, job_id: str, *, retry: bool = True) -> ConsoleJob:
        """GET /jobs/{id} of a console job, with its remote_jobs."""
        del retry

        def answer() -> ConsoleJob:
            data = self._job(job_id).as_json()
            return ConsoleJob.model_validate({k: data.get(k) for k in _CONSOLE_JOB_FIELDS})

        polled: ConsoleJob = await self._call(answer)
        return polled

    async def get_previous(self) -> PreviousFirmware:
        """GET /extrahop/firmware/previous."""

        def answer() -> PreviousFirmware:
            a = self.appliance
            if a.previous is None:
                raise Refused(404, "there is no previous firmware on this appliance")
            return PreviousFirmware(version=a.previous, backup_time=a.previous_time_ms)

        previous: PreviousFirmware = await self._call(answer)
        return previous

    async def rollback_firmware(self) -> None:
        """POST /extrahop/firmware/previous/rollback."""
        await self._call(self.appliance.rollback)

    # -- jobs ------------------------------------------------------------------------------

    def _jobs(self) -> dict[str, Job]:
        if self.appliance.spec.faults.no_job_location:
            raise Refused(404, "GET /api/v1/jobs: Not Found")
        return self.appliance.jobs

    def _job(self, job_id: str) -> Job:
        job = self._jobs().get(job_id)
        if job is None:
            raise Refused(404, f"no job with id {job_id}")
        return job

    async def get_job(self, job_id: str, *, retry: bool = True) -> JobState:
        """GET /jobs/{id}."""
        del retry

        def answer() -> JobState:
            return JobState.model_validate(_known(self._job(job_id).as_json()))

        state: JobState = await self._call(answer)
        return state

    async def list_jobs(self) -> list[JobState]:
        """GET /jobs."""
        jobs: list[JobState] = await self._call(
            lambda: [JobState.model_validate(_known(j.as_json())) for j in self._jobs().values()]
        )
        return jobs

    # -- backup and health -----------------------------------------------------------------

    async def create_backup(self, name: str) -> str:
        """POST /customizations."""
        ident: str = await self._call(lambda: snapshots.create_backup(self.appliance, name))
        return ident

    async def download_backup(self, backup_id: str) -> bytes:
        """POST /customizations/{id}/download."""
        data: bytes = await self._call(lambda: snapshots.exbk_file(self.appliance, backup_id))
        return data

    async def get_running_config(self) -> bytes:
        """GET /runningconfig."""
        data: bytes = await self._call(
            lambda: json.dumps(snapshots.running_config(self.appliance)).encode()
        )
        return data

    async def get_processes(self) -> list[ProcessState]:
        """GET /extrahop/processes."""
        found: list[ProcessState] = await self._call(
            lambda: [ProcessState.model_validate(p) for p in snapshots.processes_of(self.appliance)]
        )
        return found

    async def get_license(self) -> dict[str, Any]:
        """GET /license."""
        found: dict[str, Any] = await self._call(lambda: snapshots.license_of(self.appliance))
        return found


_CONSOLE_JOB_FIELDS = ("id", "status", "details", "remote_jobs")


def _listed(item: dict[str, Any]) -> dict[str, Any]:
    """The fields of a console's list entry that ListedAppliance reads."""
    return {k: v for k, v in item.items() if k in ListedAppliance.model_fields}


def _known(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a job that JobState reads (as the client keeps them)."""
    return {k: v for k, v in data.items() if k in JobState.model_fields and v is not None}
