"""Every seam the engine depends on, in one place: the appliance API, the journal, observers.

The engine types against these Protocols, never against a concrete client or database: the
workflow plugs in `orchestrator.appliance.ApplianceClient` and the SQLite journal; the engine's
own tests plug in an appliance held in memory. Observers receive small frozen events, so a
new field breaks nobody, and any number of them listen at once (`FanOut`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from orchestrator.core.consolelist import ConsoleJob, ListedAppliance
    from orchestrator.core.models import (
        ApplianceInfo,
        ClusterInfo,
        GateRecord,
        IngestVerb,
        JobState,
        Outcome,
        PreviousFirmware,
        ProcessState,
    )
    from orchestrator.plan import ImageInfo, WaveKind

__all__ = [
    "AppliancePort",
    "BackupStore",
    "ConsolePort",
    "ConsoleReader",
    "FactsPort",
    "GateAnswered",
    "GateOpened",
    "GatePort",
    "GateRequest",
    "HealthPort",
    "IngestChanged",
    "IngestJournal",
    "JobLister",
    "JobProgressed",
    "JournalPort",
    "JournalledEvent",
    "JournalledState",
    "RunEvent",
    "RunObserver",
    "StateChanged",
    "StepNoted",
    "StepObserver",
    "StepReporter",
    "UploadProgressed",
    "WaveStarted",
]


# --- the appliance ---------------------------------------------------------------------------


class JobLister(Protocol):
    """What finding a running job needs: GET /jobs."""

    async def list_jobs(self) -> list[JobState]:
        """Every job the appliance knows (GET /jobs)."""
        ...


class ConsoleReader(Protocol):
    """What reading an appliance's list of connected appliances needs (GET /appliances).

    A console lists every appliance connected to it; a Discover appliance, the Explore and
    Trace appliances connected to it.
    """

    name: str

    async def list_appliances(self) -> list[ListedAppliance]:
        """The appliance itself (id 0) and the appliances connected to it."""
        ...


class FactsPort(ConsoleReader, JobLister, Protocol):
    """The read-only part of an appliance that planning reads."""

    name: str

    async def get_info(self) -> ApplianceInfo:
        """Version, platform and hostname (GET /extrahop)."""
        ...

    async def get_cluster(self) -> ClusterInfo:
        """The Explore cluster's ingest setting (GET /extrahop/cluster)."""
        ...


class ConsolePort(ConsoleReader, JobLister, Protocol):
    """A Command appliance upgrading its connected appliances (console mode)."""

    async def console_upgrade(self, system_ids: list[int], version: str) -> str | None:
        """Start a console job upgrading `system_ids` to `version`; its id."""
        ...

    async def get_console_job(self, job_id: str, *, retry: bool = True) -> ConsoleJob:
        """One poll of a console job, with each appliance's remote job."""
        ...


class HealthPort(Protocol):
    """What a backup before the change and the post-checks after it read from an appliance."""

    name: str

    async def create_backup(self, name: str) -> str:
        """Create a customizations backup called `name` (POST /customizations); its id."""
        ...

    async def download_backup(self, backup_id: str) -> bytes:
        """The backup as an `.exbk` file (POST /customizations/{id}/download)."""
        ...

    async def get_running_config(self) -> bytes:
        """The running configuration, as sent (GET /runningconfig)."""
        ...

    async def get_processes(self) -> list[ProcessState]:
        """Each process and whether it runs (GET /extrahop/processes)."""
        ...

    async def get_license(self) -> dict[str, Any]:
        """The license applied (GET /license)."""
        ...


class AppliancePort(FactsPort, ConsolePort, HealthPort, Protocol):
    """One appliance's API as the engine uses it (orchestrator.appliance.ApplianceClient)."""

    async def get_info(self, *, retry: bool = True) -> ApplianceInfo:
        """Version, platform and hostname (one try if not `retry`)."""
        ...

    async def get_version(self, *, retry: bool = True) -> str:
        """The running firmware version."""
        ...

    async def set_ingest(self, *, enabled: bool) -> None:
        """Halt or resume record ingest for the whole Explore cluster."""

    async def upload_firmware(
        self,
        path: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        expected: ImageInfo | None = None,
    ) -> None:
        """Stream a firmware image to the appliance (checked against `expected`)."""

    async def start_upgrade(self, *, restart_after: bool = True) -> str | None:
        """Install the uploaded image; the job id, if the firmware has jobs."""
        ...

    async def download_url(
        self, url: str, *, upgrade: bool = True, force: bool = False
    ) -> str | None:
        """Download (and install) an image from a URL; the job id. `force`: a downgrade."""
        ...

    async def download_version(self, version: str, *, upgrade: bool = False) -> str | None:
        """Download (and install) a version from ExtraHop Cloud Services; the job id."""
        ...

    async def get_job(self, job_id: str, *, retry: bool = True) -> JobState:
        """One poll of a job."""
        ...

    async def get_previous(self) -> PreviousFirmware:
        """The firmware a rollback would restore (GET /extrahop/firmware/previous)."""
        ...

    async def rollback_firmware(self) -> None:
        """Restart into the previous firmware (POST /extrahop/firmware/previous/rollback)."""


# --- where a run keeps files ------------------------------------------------------------------


class BackupStore(Protocol):
    """Where a run keeps what it saved of each appliance (the run folder's `backups/`)."""

    def saved(self, appliance: str, kind: str) -> bytes | None:
        """What was saved of `appliance` as `kind`, if a (resumed) run saved it already."""
        ...

    async def save(self, appliance: str, kind: str, data: bytes) -> None:
        """Keep `data` as `appliance`'s `kind` (written whole or not at all; private)."""


# --- the journal -----------------------------------------------------------------------------


class IngestJournal(Protocol):
    """The part of the journal the ingest bracket writes to."""

    async def record_ingest(
        self, run_id: str, cluster: str, via: str, action: str, error: str | None = None
    ) -> None:
        """Commit one ingest action."""


class JournalPort(IngestJournal, Protocol):
    """What the runner needs from the journal (orchestrator.journal.aio.AsyncJournal)."""

    async def record_state(
        self,
        run_id: str,
        appliance: str,
        state: Outcome,
        *,
        job_id: str | None = None,
        error: str | None = None,
        version: str | None = None,
        step: str | None = None,
    ) -> None:
        """Commit one appliance state change."""

    async def record_states_bulk(self, run_id: str, appliances: list[str], state: Outcome) -> None:
        """Commit the same state for many appliances in one transaction."""


class JournalledEvent(Protocol):
    """One state change as the journal recorded it (orchestrator.journal.JournalEvent)."""

    @property
    def ts(self) -> dt.datetime:
        """When it was recorded."""
        ...

    @property
    def appliance(self) -> str:
        """The appliance."""
        ...

    @property
    def state(self) -> Outcome:
        """The state it entered."""
        ...

    @property
    def job_id(self) -> str | None:
        """Its job, once known."""
        ...


class JournalledState(Protocol):
    """An appliance's last state in a run (orchestrator.journal.ApplianceRecord)."""

    @property
    def state(self) -> Outcome:
        """Its last state."""
        ...

    @property
    def job_id(self) -> str | None:
        """Its job, kept once known."""
        ...

    @property
    def version_before(self) -> str | None:
        """The version before the run changed it."""
        ...

    @property
    def error(self) -> str | None:
        """Why it failed, was blocked, deferred or cancelled."""
        ...


# --- gates -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateRequest:
    """The run waits before `gate` (e.g. "discover batch 2"); `finished` just ended."""

    run_id: str
    gate: str
    finished: tuple[tuple[str, Outcome], ...]  # each appliance of what just ended, its outcome


class GatePort(Protocol):
    """Where a gate's answer comes from: the state database, a prompt, or a test."""

    async def wait(self, request: GateRequest, *, deadline: dt.datetime | None) -> GateRecord:
        """Wait for `continue` or `stop`; answer `window` once `deadline` passes."""


# --- what a run tells its observers ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaveStarted:
    """A wave begins with `size` appliances to change."""

    wave: WaveKind
    size: int


@dataclass(frozen=True, slots=True)
class StateChanged:
    """An appliance moved to `state` (`at`: when, on the monotonic clock, if not now)."""

    appliance: str
    state: Outcome
    detail: str | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class IngestChanged:
    """A cluster's ingest was halted, restored, left off... (`error`: why it failed)."""

    cluster: str
    action: IngestVerb | str
    via: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class UploadProgressed:
    """Bytes of an appliance's image sent so far."""

    appliance: str
    sent: int
    total: int


@dataclass(frozen=True, slots=True)
class JobProgressed:
    """One poll of an appliance's firmware job."""

    appliance: str
    job: JobState


@dataclass(frozen=True, slots=True)
class StepNoted:
    """A short human note on what an appliance's step waits for."""

    appliance: str
    detail: str


@dataclass(frozen=True, slots=True)
class GateOpened:
    """The run waits at a gate for a person (`request` says what just finished)."""

    request: GateRequest


@dataclass(frozen=True, slots=True)
class GateAnswered:
    """A gate was answered: the run goes on, stops, or defers the rest (window)."""

    record: GateRecord


RunEvent = (
    WaveStarted
    | StateChanged
    | IngestChanged
    | UploadProgressed
    | JobProgressed
    | StepNoted
    | GateOpened
    | GateAnswered
)


class RunObserver(Protocol):
    """Receives what a run does (the live view, the run's log, `FanOut` of several)."""

    def notify(self, event: RunEvent) -> None:
        """Take one event; never raise."""


class StepObserver(Protocol):
    """What a step reports about its appliance (the engine's `StepReporter`)."""

    def upload_progress(self, sent: int, total: int) -> None:
        """Bytes of the image sent so far."""

    def job_progress(self, job: JobState) -> None:
        """One poll of the firmware job."""

    def note(self, detail: str) -> None:
        """A short human note on what the step waits for."""


class StepReporter:
    """What a step tells about one appliance, as events to the run's observer."""

    def __init__(self, observer: RunObserver, appliance: str) -> None:
        self.observer = observer
        self.appliance = appliance

    def upload_progress(self, sent: int, total: int) -> None:
        """Bytes of the image sent so far."""
        self.observer.notify(UploadProgressed(self.appliance, sent, total))

    def job_progress(self, job: JobState) -> None:
        """One poll of the firmware job."""
        self.observer.notify(JobProgressed(self.appliance, job))

    def note(self, detail: str) -> None:
        """What the step waits for."""
        self.observer.notify(StepNoted(self.appliance, detail))
