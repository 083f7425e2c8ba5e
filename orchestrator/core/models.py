"""Pydantic models and enums shared at the edges: inventory, facts, jobs, outcomes."""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Annotated, Literal

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from orchestrator.core.tls import TlsCheck

# The Content-Type of a firmware image uploaded to POST /api/v1/extrahop/firmware.
FIRMWARE_MEDIA_TYPE = "application/vnd.extrahop.firmware"


class Frozen(BaseModel):
    """Base for immutable, strict models.

    Each builds its validator when first used, not when this module is imported: `validate`
    needs the inventory's models only, and every command starts sooner.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Role(enum.StrEnum):
    """What an appliance is, in the vendor's upgrade order."""

    COMMAND = "command"  # ECA console: upgraded first
    DISCOVER = "discover"  # EDA sensor: upgraded second
    EXPLORE = "explore"  # EXA recordstore node: managers, then data nodes
    TRACE = "trace"  # ETA packetstore: upgraded last


class NodeKind(enum.StrEnum):
    """The kind of node in an Explore cluster."""

    MANAGER = "manager"  # manager-only node: upgraded before data nodes
    DATA = "data"  # data node: upgraded after every manager of its cluster


class JobStatus(enum.StrEnum):
    """Status of an appliance job (GET /api/v1/jobs/{id}); anything else is running."""

    RUNNING = "RUNNING"  # in progress (the real API's non-terminal names are unverified)
    DONE = "DONE"  # finished successfully
    FAILED = "FAILED"  # finished unsuccessfully
    TIMEOUT = "TIMEOUT"  # the appliance gave up waiting


TERMINAL_JOB_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.TIMEOUT})


class FileFirmware(Frozen):
    """A local .tar image uploaded to the appliance, then installed."""

    kind: Literal["file"] = "file"
    file: Path
    version: str | None = None  # target version; None when only the image knows it


class UrlFirmware(Frozen):
    """An image the appliance downloads itself from an http(s) or ftp URL (8.7+)."""

    kind: Literal["url"] = "url"
    url: str
    version: str | None = None


class CloudFirmware(Frozen):
    """A version the appliance downloads from ExtraHop Cloud Services (8.7+)."""

    kind: Literal["cloud"] = "cloud"
    cloud_version: str

    @property
    def version(self) -> str:
        """The target version is the cloud version."""
        return self.cloud_version


class ConsoleFirmware(Frozen):
    """A version the Command appliance (the console) installs on a connected appliance."""

    kind: Literal["console"] = "console"
    console_version: str

    @property
    def version(self) -> str:
        """The target version is the console version."""
        return self.console_version


def local_if_naive(moment: dt.datetime) -> dt.datetime:
    """A time without a zone is this host's local time (as `--window-end 05:30` reads it)."""
    return moment if moment.tzinfo else moment.astimezone()


# A point in time that always carries a zone: one written without is local time.
ZonedTime = Annotated[dt.datetime, AfterValidator(local_if_naive)]

Firmware = Annotated[
    FileFirmware | UrlFirmware | CloudFirmware | ConsoleFirmware, Field(discriminator="kind")
]


class Appliance(Frozen):
    """One appliance of the inventory, ready to talk to."""

    name: str
    url: str  # base URL without trailing slash, e.g. https://eda1.example.net
    role: Role | None = None  # None until discovered (vendor CSV)
    cluster: str | None = None  # Explore cluster name
    node: NodeKind | None = None  # Explore node kind
    firmware: Firmware
    api_key: SecretStr | None  # None only in console mode: the console answers for it
    console_id: int | None = None  # its id on the Command appliance (GET /appliances)
    verify_tls: bool = True
    ca_bundle: Path | None = None
    pin: str | None = None  # `sha256:HEX` of its certificate, from the pins file (trust)

    @property
    def tls_check(self) -> TlsCheck:
        """How its certificate is verified: a pin beats verify_tls: false and any CA."""
        if self.url.startswith("http://"):
            return TlsCheck.HTTP
        if self.pin is not None:
            return TlsCheck.PIN
        return TlsCheck.CA if self.verify_tls else TlsCheck.NONE


class Inventory(Frozen):
    """A parsed, validated inventory."""

    source: str  # the file it came from
    sha256: str  # hash of the file's bytes, recorded in saved plans
    appliances: tuple[Appliance, ...]
    warnings: tuple[str, ...] = ()

    def by_name(self, name: str) -> Appliance:
        """The appliance called `name` (KeyError if absent)."""
        for appliance in self.appliances:
            if appliance.name == name:
                return appliance
        raise KeyError(name)


class ApplianceInfo(Frozen):
    """What GET /api/v1/extrahop says about an appliance."""

    version: str
    platform: str
    hostname: str = ""


class ClusterInfo(Frozen):
    """What GET /api/v1/extrahop/cluster says about an Explore cluster."""

    ingest_enabled: bool


class ProcessState(Frozen):
    """One process of GET /api/v1/extrahop/processes (fields [UNVERIFIED]: name, status)."""

    name: str
    status: str

    @property
    def running(self) -> bool:
        """Whether the appliance says the process runs."""
        return self.status.strip().lower() == "running"


class PreviousFirmware(Frozen):
    """What GET /api/v1/extrahop/firmware/previous says: the version a rollback restores."""

    version: str
    backup_time: int | None = None  # when it was replaced, ms since the epoch


class JobProgress(Frozen):
    """Where a job is: its status and step (a job, or one appliance's part of a console job)."""

    status: str
    step_number: int | None = None
    total_steps: int | None = None
    step_description: str | None = None
    details: str | None = None

    @property
    def terminal(self) -> bool:
        """Whether the job has ended (DONE, FAILED or TIMEOUT)."""
        return self.status in TERMINAL_JOB_STATUSES


class JobState(JobProgress):
    """One poll of GET /api/v1/jobs/{id}."""

    id: str


class Facts(Frozen):
    """What was observed about one appliance at plan time; `error` if it could not be read."""

    name: str
    version: str | None = None
    platform: str | None = None
    role: Role | None = None
    ingest_enabled: bool | None = None  # Explore only
    running_job: str | None = None  # a job it runs now (GET /jobs); only read below its target
    # A Discover appliance: the inventory names of the Explore and Trace appliances it lists
    # as connected (GET /api/v1/appliances); None when not known (the planner then assumes
    # every Explore and Trace appliance waits for it).
    connected: tuple[str, ...] | None = None
    error: str | None = None

    @property
    def refusal(self) -> str | None:
        """Why a plan must leave it alone, from what it reported: unreadable, or running a job."""
        if self.error or self.running_job is None:
            return self.error
        return (
            f"job {self.running_job} is running on it: wait for the job to end, then plan "
            "again (it may be another run of this tool, using another state database)"
        )


class Outcome(enum.StrEnum):
    """Where one appliance ends up in a run (and the states it passes through)."""

    PENDING = "pending"  # not started yet
    PRECHECKED = "prechecked"  # reachable, version and role confirmed
    BACKING_UP = "backing_up"  # customizations and running config being saved, nothing changed
    UPLOADING = "uploading"  # image upload in progress
    UPLOADED = "uploaded"  # image accepted by the appliance
    UPGRADING = "upgrading"  # firmware job running
    REBOOTING = "rebooting"  # waiting for the appliance to come back
    VERIFYING = "verifying"  # checking the running version
    POSTCHECKING = "postchecking"  # new version verified: processes and license being checked
    DONE = "done"  # upgraded and verified
    SKIPPED = "skipped"  # already at the target
    BLOCKED = "blocked"  # an earlier wave failed, or the plan refused it
    FAILED = "failed"  # a step failed; see the error
    DEFERRED = "deferred"  # the window would close before it could finish
    CANCELLED = "cancelled"  # the run was interrupted before it finished


FINAL_OUTCOMES = frozenset(
    {
        Outcome.DONE,
        Outcome.SKIPPED,
        Outcome.BLOCKED,
        Outcome.FAILED,
        Outcome.DEFERRED,
        Outcome.CANCELLED,
    }
)


def parse_version(text: str) -> Version | None:
    """Parse an ExtraHop version (`9.3.0.1319`, `26.3.1.100`) for numeric comparison."""
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def same_version(running: str | None, target: str | None) -> bool:
    """Whether two version strings denote the same version (numerically when possible)."""
    if running is None or target is None:
        return False
    left, right = parse_version(running), parse_version(target)
    if left is not None and right is not None:
        return left == right
    return running.strip() == target.strip()


def version_order(current: str | None, target: str | None) -> int | None:
    """-1, 0 or 1 as the target is below, equal to or above the current; None if unknown."""
    if current is None or target is None:
        return None
    old, new = parse_version(current), parse_version(target)
    if old is None or new is None:
        return 0 if current.strip() == target.strip() else None
    return (new > old) - (new < old)


def role_for_platform(platform: str) -> Role | None:
    """Map the `platform` of GET /extrahop to a role (None if unknown)."""
    text = platform.lower()
    table = (
        (("command", "eca", "console"), Role.COMMAND),
        (("explore", "exa", "recordstore"), Role.EXPLORE),
        (("trace", "eta", "packetstore"), Role.TRACE),
        (("discover", "eda", "sensor", "extrahop"), Role.DISCOVER),
    )
    for needles, role in table:
        if any(needle in text for needle in needles):
            return role
    return None


class StepSpan(Frozen):
    """One step an appliance took in a run (upload, job, reboot, verify), as journalled."""

    step: str  # a timeline step of `orchestrator.core.procedure.PROCEDURE`
    started_at: dt.datetime
    finished_at: dt.datetime | None = None  # None: no end recorded (going on, or killed)
    result: Literal["done", "failed", "interrupted", "open"] = "done"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when the end is known."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ApplianceResult(Frozen):
    """How one appliance ended a run: a value, never an exception."""

    name: str
    role: Role | None = None
    wave: str | None = None
    cluster: str | None = None  # Explore only
    outcome: Outcome
    version_before: str | None = None
    version_after: str | None = None
    target_version: str | None = None
    error: str | None = None  # why it failed, was blocked, deferred or cancelled
    job_id: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    steps: tuple[StepSpan, ...] = ()  # in the order they were taken
    tls: TlsCheck | None = None  # how its certificate was verified (None: not recorded)

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class IngestVerb(enum.StrEnum):
    """What a run did to one Explore cluster's ingest (journalled in this order of events)."""

    HALT_REQUESTED = "halt_requested"  # journalled (synced) before the PATCH: may be off now
    HALTED = "halted"  # a node acknowledged the halt (or ingest was read back off)
    HALT_FAILED = "halt_failed"  # every node refused, and ingest was read back on: unchanged
    LEFT_OFF = "left_off"  # ingest was already off and stays off (never turned on by the tool)
    RESTORED = "restored"  # a node acknowledged re-enabling ingest
    RESTORE_FAILED = "restore_failed"  # every node refused re-enabling: still disabled


# After these, ingest may be disabled by the tool and must be re-enabled (restore-ingest).
MAY_BE_HALTED = frozenset({IngestVerb.HALT_REQUESTED, IngestVerb.HALTED, IngestVerb.RESTORE_FAILED})


class IngestAction(Frozen):
    """What the run did to one Explore cluster's ingest."""

    cluster: str
    via: str  # the appliance the PATCH was sent to
    action: IngestVerb
    at: dt.datetime
    error: str | None = None


class RunOrigin(Frozen):
    """Where a run came from: who started it with what, and from which inventory and plan."""

    tool_version: str | None = None  # orchestrator's version that started the run
    host: str | None = None
    user: str | None = None
    inventory: str | None = None  # the inventory file's path, as given
    inventory_sha256: str | None = None
    plan_sha256: str | None = None  # of the plan executed: the run folder's plan.json
    plan_file: str | None = None  # the reviewed plan given to `apply --plan`, if any
    plan_file_sha256: str | None = None  # that file's bytes, when the run started
    rolls_back: str | None = None  # a rollback (`orchestrator rollback`): the run it undoes


class GateRecord(Frozen):
    """A gate the run waited at: what it waited for, and who answered how and when."""

    gate: str  # what waits behind it, e.g. "discover batch 2"
    opened_at: dt.datetime
    answer: Literal["continue", "stop", "window"]  # window: the window closed while waiting
    by: str | None = None  # user@host of whoever answered; None when the window closed
    answered_at: dt.datetime


class BackupFile(Frozen):
    """One file a run saved from an appliance before changing it (runs/<id>/backups/)."""

    appliance: str
    kind: str  # customizations (.exbk), runningconfig, license
    path: str
    size: int
    sha256: str


class RunReport(Frozen):
    """Everything a run did, for the terminal table, JSON, Markdown and the webhook."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    exit_code: int  # 0 success, 1 failures, 3 incomplete
    results: tuple[ApplianceResult, ...]
    ingest: tuple[IngestAction, ...] = ()
    dry_run: bool = False
    error: str | None = None  # why the whole run stopped, if something beyond one appliance failed
    ingest_found_off: dict[str, str] = {}  # cluster -> keep | enable, as the operator chose
    window_end: dt.datetime | None = None  # the window the run was given, if any
    origin: RunOrigin | None = None
    gates: tuple[GateRecord, ...] = ()  # the gates the run waited at, in order
    backups: tuple[BackupFile, ...] = ()  # what the run saved before changing each appliance

    def count(self, outcome: Outcome) -> int:
        """How many appliances ended with `outcome`."""
        return sum(1 for result in self.results if result.outcome is outcome)
