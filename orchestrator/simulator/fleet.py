"""Pure per-appliance state machines: versions, staged image, jobs, restarts and faults.

Nothing here does I/O. Time, timers, events and the listening socket belong to a `Host`
(the server), so the rules can be read, and tested, apart from HTTP.
"""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

from orchestrator.core.models import Role, parse_version
from orchestrator.simulator.host import Host, Refused

if TYPE_CHECKING:
    from orchestrator.simulator.scenario import ApplianceSpec, Scenario, Timing

_VERSION_IN_URL = re.compile(r"(?<![0-9.])(\d+\.\d+\.\d+(?:\.\d+)?)(?![0-9])")
_URL_SCHEMES = ("http://", "https://", "ftp://")
_API_RESTART_DELAY = 0.05  # wall seconds: lets the 202 reach the client before the port closes
_INSTALL_STEPS = (
    "Verifying firmware image",
    "Installing firmware",
    "Migrating configuration",
    "Finalizing upgrade",
)


class Staged(NamedTuple):
    """A firmware image the appliance holds, ready to install."""

    version: str


@dataclass
class Cluster:
    """An Explore cluster: ingest is one switch shared by all its nodes."""

    name: str
    ingest_enabled: bool


@dataclass
class Job:
    """One firmware job (GET /api/v1/jobs/{id})."""

    id: str
    type: str  # upgrade | download_url | download_version
    target_version: str
    steps: tuple[str, ...]
    install: bool  # installs the firmware when it ends
    restart_after: bool
    public: bool  # False on pre-8.5 firmware (no Location, no /jobs)
    status: str = "RUNNING"
    step_number: int = 1
    details: str = ""

    @property
    def public_id(self) -> str | None:
        """The id clients can know (None when no Location was given)."""
        return self.id if self.public else None

    def as_json(self) -> dict[str, Any]:
        """The JobStatus object."""
        return {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "step_number": self.step_number,
            "total_steps": len(self.steps),
            "step_description": self.steps[self.step_number - 1],
            "details": self.details,
            "remote_jobs": [],
        }


_BUSY_MESSAGES = {429: "too many requests", 503: "the cluster is busy; try again later"}


def _refuse_for_a_while(
    appliance: SimAppliance, fault: str, retry_after: float, status: int
) -> None:
    """Record `fault` and refuse the request with `status` and a Retry-After."""
    appliance.emit("fault.injected", fault=fault)
    headers = {"Retry-After": f"{retry_after:g}"}
    raise Refused(status, _BUSY_MESSAGES[status], headers)


@dataclass
class FaultCounters:
    """How much of each counted fault is left to fire."""

    http_5xx: int
    rate_limit: int
    busy: int
    drop_upload: bool
    halt_unavailable: int = 0


@dataclass
class SimAppliance:
    """One appliance's state and rules."""

    spec: ApplianceSpec
    timing: Timing
    time_scale: float
    host: Host
    cluster: Cluster | None
    api_key: str = field(repr=False)  # never in a repr, log or traceback
    version: str
    previous: str | None = None
    previous_time_ms: int = 0
    staged: Staged | None = None
    pending: str | None = None  # installed without restart; active after the next restart
    up: bool = True
    requests: int = 0
    jobs: dict[str, Job] = field(default_factory=dict)
    active: Job | None = None
    left: FaultCounters = field(default_factory=lambda: FaultCounters(0, 0, 0, drop_upload=False))

    @property
    def name(self) -> str:
        """The appliance name."""
        return self.spec.name

    @property
    def role(self) -> Role:
        """The appliance role, which is also its platform."""
        return self.spec.role

    def emit(self, kind: str, **data: object) -> None:
        """Record an event of this appliance."""
        self.host.emit(self.name, kind, data)

    def wall(self, simulated: float) -> float:
        """Wall seconds for `simulated` seconds."""
        return simulated * self.time_scale

    # -- request gate -------------------------------------------------------------------

    def gate(self, authorization: str | None) -> None:
        """Fire counted faults and check the API key; raise Refused to answer early."""
        faults = self.spec.faults
        if self.left.http_5xx > 0:
            self.left.http_5xx -= 1
            self.emit("fault.injected", fault="http_5xx")
            raise Refused(503, "service temporarily unavailable")
        if faults.rate_limit is not None and self.left.rate_limit > 0:
            self.left.rate_limit -= 1
            _refuse_for_a_while(self, "rate_limit", faults.rate_limit.retry_after, 429)
        if faults.revoked_key:
            self.emit("fault.injected", fault="revoked_key")
            raise Refused(401, "the API key is invalid or has been revoked")
        if authorization is None or not authorization.startswith("ExtraHop apikey="):
            raise Refused(401, "missing Authorization header: ExtraHop apikey=YOUR_KEY")
        given = authorization.removeprefix("ExtraHop apikey=").strip()
        if not secrets.compare_digest(given.encode(), self.api_key.encode()):
            raise Refused(401, "the API key is invalid or has been revoked")

    def check_ingest_change(self, *, enabled: bool) -> None:
        """Fire the ingest faults of a PATCH through this node; raise Refused to answer early."""
        faults = self.spec.faults
        if enabled and faults.ingest_stuck:
            self.emit("fault.injected", fault="ingest_stuck")
            raise Refused(500, "could not resume record ingest on the cluster")
        if enabled:
            return
        if faults.halt_refused:
            self.emit("fault.injected", fault="halt_refused")
            raise Refused(400, "record ingest cannot be disabled on this cluster now")
        if faults.halt_unavailable is not None and self.left.halt_unavailable > 0:
            self.left.halt_unavailable -= 1
            _refuse_for_a_while(self, "halt_unavailable", faults.halt_unavailable.retry_after, 503)

    def change_ingest(self, *, enabled: bool) -> None:
        """PATCH /extrahop/cluster through this node: the whole cluster's ingest."""
        if self.cluster is None:
            raise Refused(404, "this appliance is not an Explore cluster node")
        self.check_ingest_change(enabled=enabled)
        self.cluster.ingest_enabled = enabled
        self.emit("ingest.changed", cluster=self.cluster.name, enabled=enabled, via=self.name)

    def download_from_url(self, url: str, *, upgrade: bool) -> Job:
        """POST /extrahop/firmware/download/url: the version is read from the URL's path."""
        if not url.startswith(_URL_SCHEMES):
            raise Refused(400, "firmware_url must be an http, https or ftp URL")
        found = _VERSION_IN_URL.findall(urlsplit(url).path)
        if not found:
            raise Refused(400, "no firmware version such as 9.9.1.100 can be found in firmware_url")
        return self.start_download("download_url", found[-1], upgrade=upgrade)

    # -- upload -------------------------------------------------------------------------

    def take_drop_fraction(self) -> float | None:
        """The fraction of this upload after which to drop it (first upload only)."""
        if not self.left.drop_upload:
            return None
        self.left.drop_upload = False
        self.emit("fault.injected", fault="drop_upload_at")
        return self.spec.faults.drop_upload_at

    def check_upload_allowed(self) -> None:
        """Refuse an upload while a job installs firmware."""
        if self.active is not None and self.active.install:
            raise Refused(409, "a firmware job is already running")

    def accept_image(self, platform: str | None, version: str | None, size: int) -> None:
        """Stage an uploaded image, or refuse it (400) if it does not fit this appliance."""
        if platform is None or version is None:
            self._reject("the uploaded file is not an ExtraHop firmware image")
        if platform != self.role.value:
            self._reject(f"the firmware is for {platform} appliances, not for {self.role.value}")
        self.staged = Staged(version)
        self.emit("upload.completed", bytes=size, version=version)

    def _reject(self, reason: str) -> NoReturn:
        self.emit("upload.rejected", reason=reason)
        raise Refused(400, reason)

    # -- jobs -----------------------------------------------------------------------------

    def start_upgrade(self, *, restart_after: bool) -> Job:
        """Install the staged image (POST firmware/latest/upgrade)."""
        self._check_can_start()
        if self.staged is None:
            raise Refused(400, "no firmware image has been uploaded or downloaded")
        staged, self.staged = self.staged, None
        steps = _install_steps(self.timing.job_steps)
        job = self._new_job("upgrade", staged.version, steps, install=True, restart=restart_after)
        self._schedule(job, [(0.0, self.wall(self.timing.job_duration), len(steps))])
        return job

    def start_download(self, kind: str, version: str, *, upgrade: bool) -> Job:
        """Download firmware, then install it when `upgrade` (POST firmware/download/*)."""
        self._check_can_start()
        steps: tuple[str, ...] = ("Downloading firmware",)
        download = self.wall(self.timing.download_duration)
        phases = [(0.0, download, 1)]
        if upgrade:
            steps += _install_steps(self.timing.job_steps)
            phases.append((download, self.wall(self.timing.job_duration), self.timing.job_steps))
        job = self._new_job(kind, version, steps, install=upgrade, restart=True)
        self._schedule(job, phases)
        return job

    def _check_can_start(self) -> None:
        if self.left.busy > 0:
            self.left.busy -= 1
            self.emit("fault.injected", fault="busy")
            raise Refused(409, "a job is already running")
        if self.active is not None:
            raise Refused(409, "a job is already running")

    def _new_job(
        self, kind: str, version: str, steps: tuple[str, ...], *, install: bool, restart: bool
    ) -> Job:
        public = not self.spec.faults.no_job_location
        job = Job(str(uuid.uuid4()), kind, version, steps, install, restart, public)
        self.jobs[job.id] = job
        self.active = job
        self.emit("job.created", job_id=job.public_id, type=kind, target_version=version)
        if not public:
            self.emit("fault.injected", fault="no_job_location")
        self.emit("job.step", job_id=job.public_id, step_number=1)
        return job

    def _schedule(self, job: Job, phases: list[tuple[float, float, int]]) -> None:
        """Time each step: phases are (start, length, steps) in wall seconds."""
        starts = [
            start + length * i / count for start, length, count in phases for i in range(count)
        ]
        for number, at in enumerate(starts[1:], start=2):
            self.host.call_later(at, functools.partial(self._step, job, number))
        end = phases[-1][0] + phases[-1][1]
        self.host.call_later(end, lambda: self._finish(job))

    def _step(self, job: Job, number: int) -> None:
        job.step_number = number
        self.emit("job.step", job_id=job.public_id, step_number=number)

    def _finish(self, job: Job) -> None:
        self.active = None
        result = self.spec.faults.job_result
        if result is not None:
            job.status, job.details = result, f"simulated {result.lower()} (fault job_result)"
            self.emit("fault.injected", fault="job_result")
            self.emit("job.finished", job_id=job.public_id, status=result)
            return
        job.status = "DONE"
        self.emit("job.finished", job_id=job.public_id, status="DONE")
        if not job.install:
            self.staged = Staged(job.target_version)
        elif job.restart_after:
            self.restart(job.target_version)
        else:
            self.pending = job.target_version

    # -- restart ------------------------------------------------------------------------

    def restart(self, new_version: str | None, *, faults: bool = True) -> None:
        """Go down for the restart downtime, then come back running `new_version`."""
        self.up = False
        self.host.go_down(self.name)
        self.emit("restart.started")
        factor = self.spec.faults.slow_restart if faults else 1.0
        if factor != 1.0:
            self.emit("fault.injected", fault="slow_restart")
        delay = self.wall(self.timing.restart_downtime) * factor
        self.host.call_later(delay, lambda: self._back(new_version, faults=faults))

    def _back(self, new_version: str | None, *, faults: bool) -> None:
        if new_version is not None and faults and self.spec.faults.version_unchanged:
            self.emit("fault.injected", fault="version_unchanged")
        elif new_version is not None:
            self.previous, self.version = self.version, new_version
            self.previous_time_ms = int(self.host.now() * 1000)
        self.host.come_up(self.name, self._listening)

    def _listening(self) -> None:
        self.up = True
        self.emit("restart.finished", version=self.version)

    def restart_now(self) -> None:
        """POST /extrahop/restart: activates firmware installed without restart."""
        self._check_idle()
        pending, self.pending = self.pending, None
        self.host.call_later(_API_RESTART_DELAY, lambda: self.restart(pending))

    def rollback(self) -> None:
        """POST /extrahop/firmware/previous/rollback: restart into the previous version."""
        self._check_idle()
        if self.previous is None:
            raise Refused(400, "there is no previous firmware to roll back to")
        previous = self.previous
        self.host.call_later(_API_RESTART_DELAY, lambda: self.restart(previous, faults=False))

    def _check_idle(self) -> None:
        if self.active is not None:
            raise Refused(409, "a job is already running")

    # -- reads ----------------------------------------------------------------------------

    def firmware_next(self, available: tuple[str, ...]) -> list[dict[str, Any]]:
        """Releases newer than the running version, newest first (GET firmware/next)."""
        current = parse_version(self.version)
        newer = [v for v in available if (p := parse_version(v)) and current and p > current]
        newer.sort(key=lambda v: parse_version(v) or 0, reverse=True)
        releases: dict[str, list[str]] = {}
        for version in newer:
            releases.setdefault(_release(version), []).append(version)
        mine = _release(self.version)
        return [
            {"release": name, "current_release": name == mine, "versions": versions}
            for name, versions in releases.items()
        ]


def _release(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _install_steps(count: int) -> tuple[str, ...]:
    size = len(_INSTALL_STEPS)
    return tuple(_INSTALL_STEPS[min(i * size // count, size - 1)] for i in range(count))


def build_appliances(scenario: Scenario, host: Host) -> dict[str, SimAppliance]:
    """Fresh state for every appliance of `scenario`, sharing one Cluster per cluster name."""
    specs = scenario.clusters
    clusters = {
        name: Cluster(name, specs[name].ingest_enabled if name in specs else True)
        for name in scenario.cluster_names()
    }
    appliances: dict[str, SimAppliance] = {}
    for spec in scenario.appliances:
        faults = spec.faults
        key = spec.api_key.get_secret_value() if spec.api_key else secrets.token_hex(16)
        appliances[spec.name] = SimAppliance(
            spec=spec,
            timing=scenario.timing(spec),
            time_scale=scenario.time_scale,
            host=host,
            cluster=clusters[spec.cluster] if spec.cluster else None,
            api_key=key,
            version=spec.version,
            previous=spec.previous_version,
            left=FaultCounters(
                http_5xx=faults.http_5xx,
                rate_limit=faults.rate_limit.count if faults.rate_limit else 0,
                busy=faults.busy,
                drop_upload=faults.drop_upload_at is not None,
                halt_unavailable=faults.halt_unavailable.count if faults.halt_unavailable else 0,
            ),
        )
    return appliances
