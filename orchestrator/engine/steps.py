"""One async function per upgrade step; each talks to one appliance and knows nothing of others.

Steps raise errors from `orchestrator.core.errors`; the runner turns them into per-appliance
outcomes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.core.errors import (
    ApiError,
    AuthError,
    JobFailed,
    PreconditionFailed,
    RequestTimeout,
    TransportError,
)
from orchestrator.core.models import JobState, JobStatus, role_for_platform, same_version
from orchestrator.plan import Action, PlannedAppliance

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from orchestrator.core.config import Settings
    from orchestrator.core.models import ApplianceInfo
    from orchestrator.engine.ports import AppliancePort, JobLister, StepObserver


@dataclass
class RestartWatch:
    """Whether the appliance was seen down since its firmware job started (it restarted)."""

    seen_down: bool = False
    job_done: bool = False  # a poll saw the job DONE: the appliance answered after it
    down_since: float | None = None  # monotonic time it went down, while it has not answered

    def went_down(self) -> None:
        """A refused or reset connection: the appliance is down (restarting)."""
        self.seen_down = True
        if self.down_since is None:
            self.down_since = time.monotonic()

    def answered(self) -> None:
        """The appliance answered a poll: it is up (again)."""
        self.down_since = None


_NOT_FOUND = 404
_OVERRUN_LOOK = 0.1  # a job past its estimate is looked at least this often (share of it)
# What a poll returns when the appliance no longer knows the job.
_GONE = JobState(id="", status="GONE")


async def backoff(settings: Settings, *, longest: float | None = None) -> AsyncIterator[float]:
    """Sleep ever longer (poll_interval, x1.5, ... poll_interval_max), yielding after each.

    `longest`: a lower cap than poll_interval_max (never below poll_interval).
    """
    cap = settings.poll_interval_max
    if longest is not None:
        cap = max(settings.poll_interval, min(cap, longest))
    interval = min(settings.poll_interval, cap)
    while True:
        await asyncio.sleep(interval)
        yield interval
        interval = min(interval * 1.5, cap)


async def job_polls(settings: Settings, expected: float) -> AsyncIterator[float]:
    """Sleep before each poll of a job expected to take `expected` seconds, yielding after each.

    One poll after `poll_interval` (the job runs, or failed at once); then, while the job is
    not expected to be done, each wait is half the time left to the estimate (at least
    `poll_interval_max`), so polls grow denser towards it; a poll right at the estimate, and
    from there `backoff`: fast polling where the job is likely to end, ever slower if it
    overruns, but at least every `_OVERRUN_LOOK` of the estimate (and `poll_interval_max`), so
    a job that overruns a short estimate is seen within that share of it. A job that ends
    before its estimate is seen no later than the estimate and at most `poll_interval_max` or
    half the time left at the poll before. An estimate longer than half of `job_deadline` is
    taken as half of it, so polling is back to `backoff` well before the deadline.
    """
    # An estimate beyond half the job's deadline counts as half the deadline: waits sized by
    # an estimate far too long must leave the job looked at, often, before the deadline.
    end = time.monotonic() + min(expected, settings.job_deadline / 2)
    await asyncio.sleep(settings.poll_interval)
    yield settings.poll_interval
    while (left := end - time.monotonic()) > settings.poll_interval:
        interval = min(left, max(left / 2, settings.poll_interval_max))
        await asyncio.sleep(interval)
        yield interval
    longest = _OVERRUN_LOOK * expected if expected > 0 else None
    async for interval in backoff(settings, longest=longest):
        yield interval


def job_estimate(planned: PlannedAppliance, *, elapsed: float = 0.0) -> float:
    """Seconds the appliance's firmware job is still expected to be followed.

    The plan's estimate of the job: the download (URL and cloud modes), the upgrade, then the
    restart (the appliance restarts as the job ends; the first poll that answers after it sees
    DONE), less the `elapsed` seconds since the job started (a job re-attached after a crash).
    """
    estimate = planned.estimate
    return max(0.0, estimate.download + estimate.upgrade + estimate.reboot - elapsed)


async def precheck(client: AppliancePort, planned: PlannedAppliance) -> ApplianceInfo:
    """Confirm the appliance answers, is the role the plan thinks, and runs a known version."""
    info = await client.get_info()
    role = role_for_platform(info.platform)
    if planned.role is not None and role is not None and role is not planned.role:
        raise PreconditionFailed(
            client.name, f"platform {info.platform!r} is not a {planned.role.value} appliance"
        )
    return info


async def halt_ingest(client: AppliancePort) -> None:
    """Disable record ingest on the Explore cluster this node belongs to."""
    await client.set_ingest(enabled=False)


async def read_ingest(client: AppliancePort) -> bool:
    """Whether the Explore cluster this node belongs to ingests records."""
    return (await client.get_cluster()).ingest_enabled


async def restore_ingest(client: AppliancePort) -> None:
    """Re-enable record ingest on the Explore cluster this node belongs to."""
    await client.set_ingest(enabled=True)


def image_path(planned: PlannedAppliance) -> Path:
    """The image file an UPLOAD appliance sends: the plan's hashed image, else the inventory's."""
    if planned.image is not None:
        return Path(planned.image.path)
    if planned.firmware.kind == "file":
        return planned.firmware.file
    raise PreconditionFailed(planned.name, "no image to upload")


async def upload(client: AppliancePort, planned: PlannedAppliance, observer: StepObserver) -> None:
    """Stream the plan's image to the appliance (201 when accepted), checked against its hash."""
    observer.note("uploading image")
    image = image_path(planned)
    await client.upload_firmware(image, progress=observer.upload_progress, expected=planned.image)


async def start_job(client: AppliancePort, planned: PlannedAppliance) -> str | None:
    """Start the firmware job for the planned action; return its id (None before 8.5)."""
    firmware = planned.firmware
    if planned.action is Action.UPLOAD:
        return await client.start_upgrade(restart_after=True)
    if planned.action is Action.URL and firmware.kind == "url":
        # The appliance checks a downloaded image and refuses a downgrade unless forced; the
        # plan allowed this one (--allow-downgrade).
        return await client.download_url(firmware.url, upgrade=True, force=planned.downgrade)
    if planned.action is Action.CLOUD and firmware.kind == "cloud":
        return await client.download_version(firmware.cloud_version, upgrade=True)
    if planned.action is Action.ROLLBACK:
        await roll_back(client, planned)
        return None  # no job: the restart and the version it comes back on tell
    raise PreconditionFailed(client.name, f"nothing to start for action {planned.action}")


async def roll_back(client: AppliancePort, planned: PlannedAppliance) -> None:
    """Restart into the previous firmware, once it is still the version planned to return to.

    Read again right before the request: the appliance may have changed since the plan.
    """
    previous = (await client.get_previous()).version
    if not same_version(previous, planned.target_version):
        raise PreconditionFailed(
            client.name,
            f"its previous firmware is now {previous}, not {planned.target_version}: "
            "not rolled back",
        )
    await client.rollback_firmware()


async def await_job(
    client: AppliancePort,
    job_id: str,
    settings: Settings,
    observer: StepObserver,
    watch: RestartWatch,
    *,
    expected: float,
) -> bool:
    """Poll the job (`job_polls`, `expected` seconds) until DONE (True); FAILED or TIMEOUT raise.

    False when the appliance no longer knows the job (404): then its version decides.
    """
    try:
        async with asyncio.timeout(settings.job_deadline):
            async for _ in job_polls(settings, expected):
                job = await _poll_job(client, job_id, observer, watch)
                if job is _GONE:
                    observer.note(f"job {job_id} is gone; following the version")
                    return False
                if job is not None and job.terminal:
                    _check_job(client.name, job)
                    watch.job_done = True
                    return True
    except TimeoutError:
        raise _job_timeout(client.name, job_id, settings.job_deadline, watch) from None
    raise AssertionError("unreachable")  # pragma: no cover - backoff never ends


def _job_timeout(name: str, job_id: str, deadline: float, watch: RestartWatch) -> RequestTimeout:
    """The job deadline passed: while the job ran, or while the appliance was down after it."""
    if watch.down_since is None:
        return RequestTimeout(name, f"job {job_id} still running after {deadline:.0f}s")
    down = time.monotonic() - watch.down_since
    return RequestTimeout(
        name,
        f"did not come back after its restart: not answering for {down:.0f}s "
        f"(job {job_id}, deadline {deadline:.0f}s)",
    )


async def find_running_job(client: JobLister) -> str | None:
    """The id of a job still running on the appliance, if it lists one (pre-8.5: None)."""
    try:
        jobs = await client.list_jobs()
    except ApiError as exc:
        if exc.status == _NOT_FOUND:
            return None
        raise
    running = [job for job in jobs if not job.terminal]
    return running[-1].id if running else None


async def _poll_job(
    client: AppliancePort, job_id: str, observer: StepObserver, watch: RestartWatch
) -> JobState | None:
    """One poll; an appliance that is restarting (refused, reset, 5xx) is not an error here."""
    try:
        job = await client.get_job(job_id, retry=False)
    except AuthError:
        raise
    except (TransportError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status == _NOT_FOUND:
            return _GONE
        if isinstance(exc, ApiError) and not exc.transient:
            raise
        # Only a refused or reset connection proves a restart; a 503 or a slow answer does not.
        if _went_down(exc):
            watch.went_down()
        observer.note("not answering (restarting?)")
        return None
    watch.answered()
    observer.job_progress(job)
    return job


def _check_job(name: str, job: JobState) -> None:
    if job.status == JobStatus.DONE:
        return
    raise JobFailed(name, job.id, job.status, job.details or job.step_description or "")


async def await_reboot(
    client: AppliancePort,
    settings: Settings,
    *,
    target: str | None,
    version_before: str | None,
    observer: StepObserver,
    watch: RestartWatch,
    deadline: float | None = None,
) -> ApplianceInfo:
    """Wait out the restart: return what GET /extrahop says once it runs the target.

    Refused connections, resets and 5xx are expected while the appliance restarts. An
    appliance that was seen down and came back on the old version is `version unchanged`.
    """
    limit = settings.reboot_deadline if deadline is None else deadline
    info: ApplianceInfo | None = None
    observer.note("waiting for the restart")
    # It restarted while the job ran, or answered DONE after the job: probably back already.
    if watch.seen_down or watch.job_done:
        info = await _probe(client, watch)
        if info is not None and _arrived(info.version, target, version_before):
            return info
    start = time.monotonic()
    async for _ in backoff(settings):
        info = await _probe(client, watch)
        if info is None:
            observer.note("restarting (not answering)")
        elif _arrived(info.version, target, version_before):
            return info
        elif watch.seen_down:
            break
        if time.monotonic() - start > limit:
            break
    if info is None:
        raise RequestTimeout(
            client.name, f"did not come back within {limit:.0f}s after the upgrade"
        )
    raise PreconditionFailed(client.name, _not_arrived(info.version, target, version_before))


def _not_arrived(version: str, target: str | None, version_before: str | None) -> str:
    """Why the version it came back on is wrong: unchanged, or another than the target."""
    if target is None or version_before is None or same_version(version, version_before):
        return f"version unchanged: still {version} after the upgrade"
    return f"came back on {version}, not {target}"


def _arrived(version: str, target: str | None, version_before: str | None) -> bool:
    if target is not None:
        return same_version(version, target)
    return version_before is not None and not same_version(version, version_before)


async def _probe(client: AppliancePort, watch: RestartWatch) -> ApplianceInfo | None:
    """GET /extrahop once, or None while the appliance does not answer properly."""
    try:
        return await client.get_info(retry=False)
    except AuthError:
        raise
    except TransportError as exc:
        watch.seen_down = watch.seen_down or _went_down(exc)
        return None
    except ApiError as exc:
        if not exc.transient:
            raise
        return None


def verify(planned: PlannedAppliance, info: ApplianceInfo) -> None:
    """Check the answer that showed the new version (`await_reboot`): the same role came back."""
    role = role_for_platform(info.platform)
    if planned.role is not None and role is not None and role is not planned.role:
        raise PreconditionFailed(planned.name, f"came back as {info.platform!r}")


def _went_down(exc: Exception) -> bool:
    return isinstance(exc, TransportError) and not isinstance(exc, RequestTimeout)
