"""Pure per-appliance state machines: versions, staged image, jobs, restarts and faults.

Nothing here does I/O. Time, timers, events and the listening socket belong to a `Host`
(the server), so the rules can be read, and tested, apart from HTTP.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from orchestrator.core.models import Role, parse_version
from orchestrator.simulator.host import Host, Refused
from orchestrator.simulator.images import parse_image_header
from orchestrator.simulator.jobs import (
    DOWNLOAD_STEP,
    DownloadJoin,
    Fetched,
    Job,
    Staged,
    image_problem,
    install_steps,
    well_formed_url,
)

if TYPE_CHECKING:
    from orchestrator.simulator.scenario import ApplianceSpec, Scenario, Timing

_API_RESTART_DELAY = 0.05  # wall seconds: lets the 202 reach the client before the port closes


@dataclass
class Cluster:
    """An Explore cluster: ingest is one switch shared by all its nodes."""

    name: str
    ingest_enabled: bool


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
    customizations: dict[str, str] = field(default_factory=dict)  # backup id -> its name

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

    def download_from_url(self, url: str, *, upgrade: bool, force: bool = False) -> Job:
        """POST /extrahop/firmware/download/url: any well-formed URL starts a job (202).

        The image is fetched for real (`Host.download`); the job fails, in the appliance's
        words, when the download does, or the image is not for this platform, or it would
        downgrade without `force`.
        """
        if not well_formed_url(url):
            raise Refused(400, "firmware_url must be an http, https or ftp URL with a host")
        self.check_can_start()
        steps = self._download_steps(upgrade=upgrade)
        job = self._new_job("download_url", None, steps, install=upgrade, restart=True)
        join = DownloadJoin(lambda fetched: self._fetched(job, fetched, force=force))
        self.host.call_later(self.wall(self.timing.download_duration), join.timer_done)
        self.host.download(self.name, url, join.fetched)
        return job

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
        self.check_can_start()
        if self.staged is None:
            raise Refused(400, "no firmware image has been uploaded or downloaded")
        staged, self.staged = self.staged, None
        steps = install_steps(self.timing.job_steps)
        job = self._new_job("upgrade", staged.version, steps, install=True, restart=restart_after)
        self._install(job, first=1)
        return job

    def start_download(self, kind: str, version: str, *, upgrade: bool) -> Job:
        """Download `version` from Cloud Services, then install it when `upgrade`."""
        self.check_can_start()
        steps = self._download_steps(upgrade=upgrade)
        job = self._new_job(kind, version, steps, install=upgrade, restart=True)
        self.host.call_later(self.wall(self.timing.download_duration), lambda: self._next(job))
        return job

    def _download_steps(self, *, upgrade: bool) -> tuple[str, ...]:
        return (DOWNLOAD_STEP,) + (install_steps(self.timing.job_steps) if upgrade else ())

    def check_can_start(self) -> None:
        """Refuse (409) while a job runs, or while the `busy` fault lasts."""
        if self.left.busy > 0:
            self.left.busy -= 1
            self.emit("fault.injected", fault="busy")
            raise Refused(409, "a job is already running")
        if self.active is not None:
            raise Refused(409, "a job is already running")

    def _new_job(
        self,
        kind: str,
        version: str | None,
        steps: tuple[str, ...],
        *,
        install: bool,
        restart: bool,
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

    def _fetched(self, job: Job, fetched: Fetched, *, force: bool) -> None:
        """A URL download ended (and its time passed): check the image, then go on or fail."""
        header = parse_image_header(fetched.head)
        problem = f"download failed: {fetched.error}" if fetched.error else None
        problem = problem or image_problem(
            header, platform=self.role.value, running=self.version, force=force
        )
        if problem is not None or header is None:
            reason = problem or "not an image"
            self.emit("download.failed", job_id=job.public_id, reason=reason)
            self._end(job, "FAILED", reason)
            return
        job.target_version = header.version
        self.emit(
            "download.completed", job_id=job.public_id, bytes=fetched.size, version=header.version
        )
        self._next(job)

    def _next(self, job: Job) -> None:
        """The download step is over: install, or end with the image staged."""
        if job.install:
            self._install(job, first=2)
        else:
            self._finish(job)

    def _install(self, job: Job, *, first: int) -> None:
        """Time the install steps from `first` on over the job duration, then finish."""
        length = self.wall(self.timing.job_duration)
        count = len(job.steps) - first + 1
        for i in range(count):
            if first + i > 1:
                self.host.call_later(
                    length * i / count, functools.partial(self._step, job, first + i)
                )
        self.host.call_later(length, lambda: self._finish(job))

    def _step(self, job: Job, number: int) -> None:
        job.step_number = number
        self.emit("job.step", job_id=job.public_id, step_number=number)

    def _end(self, job: Job, status: str, details: str = "") -> None:
        self.active = None
        job.status, job.details = status, details
        self.emit("job.finished", job_id=job.public_id, status=status)

    def _finish(self, job: Job) -> None:
        result = self.spec.faults.job_result
        if result is not None:
            self.emit("fault.injected", fault="job_result")
            self._end(job, result, f"simulated {result.lower()} (fault job_result)")
            return
        self._end(job, "DONE")
        version = job.target_version
        if not job.install and version is not None:
            self.staged = Staged(version)
        elif job.restart_after:
            self.restart(version)
        else:
            self.pending = version

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
        """POST /extrahop/firmware/previous/rollback: restart into the previous version.

        Faults: `rollback_fails` refuses it (500, nothing changes); `rollback_version` makes
        the appliance come back on that version instead of the previous one.
        """
        self._check_idle()
        if self.previous is None:
            raise Refused(400, "there is no previous firmware to roll back to")
        faults = self.spec.faults
        if faults.rollback_fails:
            self.emit("fault.injected", fault="rollback_fails")
            raise Refused(500, "the rollback could not be started (simulated fault)")
        version = self.previous
        if faults.rollback_version is not None:
            self.emit("fault.injected", fault="rollback_version")
            version = faults.rollback_version
        self.emit("rollback.started", from_version=self.version, to_version=self.previous)
        self.host.call_later(_API_RESTART_DELAY, lambda: self.restart(version, faults=False))

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
