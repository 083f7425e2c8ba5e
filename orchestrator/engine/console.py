"""Console mode's steps: the Command appliance upgrades one connected appliance.

Each step talks to the console only (the appliance may have no key of its own): its version
as the console lists it (GET /appliances), the console job started for it (POST
/appliances/firmware/upgrade) and its remote job in that job's `remote_jobs`. The runner
journals and orders them as it does the appliance's own job (`engine.runner`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestrator.core.consolelist import RemoteJob
from orchestrator.core.errors import (
    ApiError,
    JobFailed,
    PreconditionFailed,
    RequestTimeout,
    TransportError,
)
from orchestrator.core.models import JobState, JobStatus, same_version
from orchestrator.core.procedure import Phase
from orchestrator.engine.steps import backoff, job_polls

if TYPE_CHECKING:
    from orchestrator.core.config import Settings
    from orchestrator.core.consolelist import ListedAppliance
    from orchestrator.engine.ports import ConsolePort, StepObserver
    from orchestrator.plan import PlannedAppliance

__all__ = [
    "await_remote_job",
    "await_version",
    "find_console_job",
    "listed",
    "reattach",
    "running_console_jobs",
    "start",
    "version_on",
]

_NOT_FOUND = 404
# What a poll returns when the console no longer knows the job.
_GONE = RemoteJob(system_id=-1, status="GONE")


def _system_id(planned: PlannedAppliance) -> int:
    if planned.console_id is None:  # the planner gives every console-mode line its id
        raise PreconditionFailed(planned.name, "no console_id: plan it again")
    return planned.console_id


async def listed(console: ConsolePort, planned: PlannedAppliance) -> ListedAppliance:
    """The appliance's entry in the console's list; PreconditionFailed if it is not there."""
    system_id = _system_id(planned)
    for item in await console.list_appliances():
        if item.id == system_id:
            return item
    raise PreconditionFailed(
        planned.name, f"console {console.name} no longer lists an appliance with id {system_id}"
    )


async def version_on(console: ConsolePort, planned: PlannedAppliance) -> str:
    """The appliance's version as the console reports it; it must be connected."""
    item = await listed(console, planned)
    if not item.online:
        reason = f"console {console.name} cannot reach it ({item.status_message})"
        raise PreconditionFailed(planned.name, f"{reason}: reconnect it, then resume")
    return item.firmware_version


async def start(console: ConsolePort, planned: PlannedAppliance) -> str:
    """Ask the console to upgrade the appliance; the console job's id."""
    version = planned.target_version or ""
    job_id = await console.console_upgrade([_system_id(planned)], version)
    if job_id is None:
        raise PreconditionFailed(console.name, f"started no job to follow for {planned.name}")
    return job_id


async def find_console_job(console: ConsolePort, planned: PlannedAppliance) -> str | None:
    """A console job still running for the appliance (a start whose answer was lost)."""
    return (await running_console_jobs(console)).get(_system_id(planned))


async def reattach(console: ConsolePort, planned: PlannedAppliance) -> tuple[str | None, Phase]:
    """Resumed after a crash between asking the console and journalling its answer.

    The console job still running for the appliance is followed; without one, its version
    as the console lists it says whether the upgrade is over or must be asked for.
    """
    job_id = await find_console_job(console, planned)
    if job_id is not None:
        return job_id, Phase.AWAIT_JOB
    arrived = _arrived(await listed(console, planned), planned)
    return None, Phase.REBOOT if arrived else Phase.START_JOB


async def running_console_jobs(console: ConsolePort) -> dict[int, str]:
    """The console jobs still upgrading an appliance, by the appliance's id on the console."""
    try:
        jobs = await console.list_jobs()
    except ApiError as exc:
        if exc.status == _NOT_FOUND:
            return {}
        raise
    running: dict[int, str] = {}
    for job in jobs:
        if job.terminal:
            continue
        polled = await console.get_console_job(job.id)
        running |= {r.system_id: polled.id for r in polled.remote_jobs if not r.terminal}
    return running


async def await_remote_job(
    console: ConsolePort,
    job_id: str,
    planned: PlannedAppliance,
    settings: Settings,
    observer: StepObserver,
    *,
    expected: float,
) -> None:
    """Follow the appliance's remote job in the console job until DONE; FAILED raises.

    A console that no longer knows the job (404: it restarted) leaves the version to decide.
    """
    system_id = _system_id(planned)
    try:
        async with asyncio.timeout(settings.job_deadline):
            async for _ in job_polls(settings, expected):
                remote = await _poll(console, job_id, system_id, observer)
                if remote is _GONE:
                    observer.note(f"console job {job_id} is gone; following the version")
                    return
                if remote is not None and remote.terminal:
                    _check(planned.name, job_id, remote)
                    return
    except TimeoutError:
        message = f"console job {job_id} still running after {settings.job_deadline:.0f}s"
        raise RequestTimeout(planned.name, message) from None


async def _poll(
    console: ConsolePort, job_id: str, system_id: int, observer: StepObserver
) -> RemoteJob | None:
    """One poll of the console job; None while the console does not answer properly."""
    try:
        job = await console.get_console_job(job_id, retry=False)
    except (TransportError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status == _NOT_FOUND:
            return _GONE
        if isinstance(exc, ApiError) and not exc.transient:
            raise
        observer.note(f"console {console.name} not answering")
        return None
    remote = job.remote(system_id)
    if remote is None:
        raise PreconditionFailed(console.name, f"console job {job_id} has no remote job for it")
    observer.job_progress(JobState(id=job_id, **remote.model_dump(include=_PROGRESS)))
    return remote


_PROGRESS = {"status", "step_number", "total_steps", "step_description", "details"}


def _check(name: str, job_id: str, remote: RemoteJob) -> None:
    if remote.status == JobStatus.DONE:
        return
    raise JobFailed(name, job_id, remote.status, remote.details or remote.step_description or "")


async def await_version(
    console: ConsolePort, planned: PlannedAppliance, settings: Settings, observer: StepObserver
) -> str:
    """Wait until the console lists the appliance connected at its target version."""
    observer.note(f"awaiting {planned.target_version} on {console.name}")
    seen: ListedAppliance | None = None
    try:
        async with asyncio.timeout(settings.reboot_deadline):
            async for _ in backoff(settings):
                seen = await _look(console, planned)
                if seen is not None and seen.online and _arrived(seen, planned):
                    return seen.firmware_version
    except TimeoutError:
        reported = f"{seen.firmware_version}, {seen.status_message}" if seen else "nothing"
        message = (
            f"console {console.name} did not report {planned.target_version} within "
            f"{settings.reboot_deadline:.0f}s (it reports {reported})"
        )
        raise RequestTimeout(planned.name, message) from None
    raise AssertionError("unreachable")  # pragma: no cover - backoff never ends


async def _look(console: ConsolePort, planned: PlannedAppliance) -> ListedAppliance | None:
    """The appliance as the console lists it now; None while the console does not answer."""
    try:
        item = await listed(console, planned)
    except (TransportError, ApiError) as exc:
        if isinstance(exc, ApiError) and not exc.transient:
            raise
        return None
    return item


def _arrived(item: ListedAppliance, planned: PlannedAppliance) -> bool:
    return same_version(item.firmware_version, planned.target_version)
