"""The plan's data: frozen models serialised to the saved-plan JSON (see docs/planning.md)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orchestrator.core.models import Firmware, NodeKind, Role, ZonedTime, version_order
from orchestrator.core.tls import TlsCheck

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator


class PlanModel(BaseModel):
    """Base for the plan's frozen models (serialised to the saved-plan JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Action(enum.StrEnum):
    """What the plan will do to one appliance."""

    UPLOAD = "upload"  # upload a local image, then upgrade with restart_after
    URL = "url"  # the appliance downloads the image from a URL and upgrades
    CLOUD = "cloud"  # the appliance downloads from ExtraHop Cloud Services, then upgrades
    CONSOLE = "console"  # the console (Command appliance) upgrades it through Cloud Services
    ROLLBACK = "rollback"  # restart into the previous firmware (`orchestrator rollback`)
    SKIP = "skip"  # already at the target version
    REFUSED = "refused"  # the plan will not touch it; `reason` says why


class WaveKind(enum.StrEnum):
    """The five waves, in the vendor's order."""

    COMMAND = "command"
    DISCOVER = "discover"
    EXPLORE_MANAGERS = "explore-managers"
    EXPLORE_DATA = "explore-data"
    TRACE = "trace"


WAVE_ORDER: tuple[WaveKind, ...] = tuple(WaveKind)
# The wave of each (role, Explore node kind): the vendor's order, by role.
WAVE_OF_ROLE: dict[tuple[Role | None, NodeKind | None], WaveKind] = {
    (Role.COMMAND, None): WaveKind.COMMAND,
    (Role.DISCOVER, None): WaveKind.DISCOVER,
    (Role.EXPLORE, NodeKind.MANAGER): WaveKind.EXPLORE_MANAGERS,
    (Role.EXPLORE, NodeKind.DATA): WaveKind.EXPLORE_DATA,
    (Role.TRACE, None): WaveKind.TRACE,
}


# A rollback undoes the vendor's order: Trace first, Command last (docs/runbook.md).
ROLLBACK_ORDER: tuple[WaveKind, ...] = tuple(reversed(WAVE_ORDER))
PlanKind = Literal["upgrade", "rollback"]
FoundOffChoice = Literal["keep", "enable"]
PauseAfter = Literal["stage", "batch"]
# graph: each appliance starts once what it depends on is done; waves: stage after stage.
ScheduleKind = Literal["graph", "waves"]
# When an Explore cluster of a graph plan may start (its first node, its ingest halted):
# "ready": as soon as a node is ready and a slot is free; "fit": only while the clusters still
# starting (some node not started yet) and its own nodes fit the slots; "fit-or-idle": the
# same, or when nothing else is ready to take a free slot. The plan chooses (plan.fitting).
ClusterStarts = Literal["ready", "fit", "fit-or-idle"]
_Seconds = Field(default=0.0, ge=0, allow_inf_nan=False)


class ImageInfo(PlanModel):
    """A local firmware image as hashed at plan time."""

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Estimate(PlanModel):
    """Expected seconds for each step of one appliance."""

    upload: float = _Seconds
    download: float = _Seconds
    upgrade: float = _Seconds
    reboot: float = _Seconds

    @property
    def total(self) -> float:
        """All steps, one after the other."""
        return self.upload + self.download + self.upgrade + self.reboot


class PlannedAppliance(PlanModel):
    """One appliance's line in the plan."""

    name: str
    url: str
    role: Role | None
    cluster: str | None = None
    node: NodeKind | None = None
    wave: WaveKind | None  # None when refused before a role was known
    current_version: str | None
    target_version: str | None
    action: Action
    firmware: Firmware
    image: ImageInfo | None = None
    reason: str | None = None  # for skip and refused
    estimate: Estimate = Estimate()
    fits_window: bool = True
    tls: TlsCheck | None = None  # how its certificate is verified; None in older plan files
    pin: str | None = None  # the pinned fingerprint, when tls is "pin"
    console: str | None = None  # console mode: the Command appliance that upgrades it
    console_id: int | None = None  # console mode: its id on that console

    @property
    def actionable(self) -> bool:
        """Whether apply will change this appliance."""
        return self.action in {
            Action.UPLOAD,
            Action.URL,
            Action.CLOUD,
            Action.CONSOLE,
            Action.ROLLBACK,
        }

    @property
    def downgrade(self) -> bool:
        """Whether its target is below the version it runs (allowed by --allow-downgrade)."""
        return version_order(self.current_version, self.target_version) == -1


class IngestBracket(PlanModel):
    """Halt ingest on one Explore cluster before its first node, restore after its last."""

    cluster: str
    via: str  # the appliance the PATCH is sent to (applies cluster-wide)
    members: tuple[str, ...]
    was_enabled: bool | None  # as observed at plan time; None when planned offline
    halt: bool  # False when ingest was already off (left off) or no node is upgraded
    # Found disabled at plan time, and no run of this tool disabled it: the operator chooses
    # to keep it off, or to enable it after the upgrade (`--ingest-found-off`).
    found_off: bool = False
    choice: FoundOffChoice | None = None
    halted_by_tool: bool = False  # an unfinished run of this tool disabled it (state database)
    off_estimate: float | None = None  # seconds from its halt to its restore, per the schedule


class Stage(PlanModel):
    """Appliances that wait for the same appliances (a plan with `schedule: graph`)."""

    name: str  # "command", "discover", "explore east managers", "explore east data", "trace"
    kind: WaveKind
    cluster: str | None = None
    members: tuple[str, ...]
    # What must end done or skipped first: whole stages, by name, and single appliances.
    after_stages: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    connections_known: bool = True  # False: waits for every Discover appliance (not known)


class Wave(PlanModel):
    """One wave: every appliance in it finishes before the next wave starts."""

    kind: WaveKind
    appliances: tuple[PlannedAppliance, ...]
    estimate: float = _Seconds  # seconds at the planned concurrency
    # The appliances to upgrade, batch by batch; empty (a plan without batches): one batch.
    batches: tuple[tuple[str, ...], ...] = ()

    def batch_names(self) -> tuple[tuple[str, ...], ...]:
        """The names of the appliances to upgrade in each batch, in the order they run."""
        if self.batches:
            return self.batches
        names = tuple(line.name for line in self.appliances if line.actionable)
        return (names,) if names else ()

    def batch_jobs(self, names: Collection[str] | None = None) -> list[list[tuple[str, float]]]:
        """Each batch as (name, estimated seconds) jobs for the scheduler; only `names` if given."""
        seconds = {line.name: line.estimate.total for line in self.appliances}
        return [
            [(name, seconds[name]) for name in batch if names is None or name in names]
            for batch in self.batch_names()
        ]


class Plan(PlanModel):
    """The whole reviewed plan, savable as JSON and re-checked before apply."""

    schema_version: int = 1
    kind: PlanKind = "upgrade"
    rolls_back: str | None = None  # a rollback: the id of the run it undoes
    created_at: dt.datetime
    inventory_source: str
    inventory_sha256: str
    offline: bool = False
    concurrency: int = Field(ge=1, le=1000)  # as Settings.concurrency; 0 would never start
    allow_downgrade: bool = False
    window_end: ZonedTime | None = None
    batch_sizes: str | None = None  # as --batches gave them; None: each stage is one batch
    pause_after: PauseAfter | None = None  # gates: wait for a release after each stage or batch
    # A plan file without it was made for strict waves (the only schedule before graphs).
    schedule: ScheduleKind = "waves"
    stages: tuple[Stage, ...] = ()  # schedule graph: the dependency graph, in a topological order
    clusters_at_once: int | None = Field(default=None, ge=1, le=10_000)  # graph: None, any
    # A plan file without it (made before the choice existed) starts clusters when ready.
    cluster_starts: ClusterStarts = "ready"

    waves: tuple[Wave, ...]
    ingest: tuple[IngestBracket, ...] = ()
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()  # why the plan as a whole cannot be applied
    estimate: float = _Seconds  # total seconds, as the plan's schedule places the work
    unplaced: tuple[PlannedAppliance, ...] = ()  # refused before a wave was known

    @model_validator(mode="after")
    def _structure(self) -> Self:
        """Refuse a plan whose structure breaks the vendor's order or the ingest bracket."""
        problems = structure_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def appliances(self) -> Iterator[PlannedAppliance]:
        """Every planned appliance, in wave order, then the unplaced (refused) ones."""
        for wave in self.waves:
            yield from wave.appliances
        yield from self.unplaced

    def by_name(self, name: str) -> PlannedAppliance:
        """The planned appliance called `name` (KeyError if absent)."""
        for appliance in self.appliances():
            if appliance.name == name:
                return appliance
        raise KeyError(name)

    @property
    def refused(self) -> bool:
        """Whether apply must refuse this plan.

        A rollback goes on without the appliances it refuses (they end blocked, saying why).
        """
        if self.refusals or self.kind == "rollback":
            return bool(self.refusals)
        return any(a.action is Action.REFUSED for a in self.appliances())

    def waits_for(self, stage: Stage) -> frozenset[str]:
        """Every appliance `stage` waits for: its whole stages' members, and its appliances."""
        members = {other.name: other.members for other in self.stages}
        return frozenset(stage.after).union(*(members.get(name, ()) for name in stage.after_stages))

    def undecided_found_off(self) -> list[str]:
        """Clusters found with ingest off whose fate the operator has not chosen yet."""
        return [b.cluster for b in self.ingest if b.found_off and b.choice is None]


def structure_problems(plan: Plan) -> list[str]:
    """What makes `plan` impossible to execute safely, whatever made it (a file can be edited).

    Waves once each, in the vendor's order; every appliance once, in the wave of its role;
    every Explore node to upgrade inside its cluster's ingest bracket.
    """
    problems: list[str] = []
    kinds = [wave.kind for wave in plan.waves]
    order = ROLLBACK_ORDER if plan.kind == "rollback" else WAVE_ORDER
    if kinds != sorted(set(kinds), key=order.index):
        problems.append(f"waves out of the vendor's order: {', '.join(kinds)}")
    seen: set[str] = set()
    for line in plan.appliances():
        if line.name in seen:
            problems.append(f"appliance {line.name} is listed twice")
        seen.add(line.name)
    for wave in plan.waves:
        problems += [
            f"appliance {line.name} (wave {line.wave}) is in wave {wave.kind}"
            for line in wave.appliances
            if line.wave is not wave.kind or WAVE_OF_ROLE.get((line.role, line.node)) != wave.kind
        ]
    problems += [
        f"appliance {line.name} has no wave but is not refused"
        for line in plan.unplaced
        if line.action is not Action.REFUSED
    ]
    problems += [problem for wave in plan.waves for problem in _batch_problems(wave)]
    problems += _stage_problems(plan)
    bracketed = {name: b.cluster for b in plan.ingest for name in b.members}
    problems += [
        f"Explore node {line.name} is upgraded outside an ingest bracket of its cluster"
        for line in plan.appliances()
        if line.role is Role.EXPLORE
        and line.actionable
        and bracketed.get(line.name) != line.cluster
    ]
    return problems


def _stage_problems(plan: Plan) -> list[str]:
    """A graph plan's stages hold every placed appliance once and keep the vendor's order.

    A stage waits only for appliances of earlier stages in the vendor's order (or, for an
    Explore cluster's data nodes, its managers), so the graph has no circle; and it waits for
    at least what the rules require: every Command appliance; every Discover appliance when
    its connections are not known; a cluster's data nodes for all of its managers.
    """
    if plan.schedule == "waves":
        return ["a plan with schedule waves has no stages"] if plan.stages else []
    if plan.pause_after is not None:
        return ["gates (pause_after) need schedule waves: stages run one at a time"]
    lines = {line.name: line for wave in plan.waves for line in wave.appliances}
    staged = [name for stage in plan.stages for name in stage.members]
    if sorted(staged) != sorted(lines):
        return ["the stages do not hold each planned appliance once"]
    kinds = _Kinds(lines, plan.stages)
    return [problem for stage in plan.stages for problem in kinds.problems(stage)]


class _Kinds:
    """The plan's appliances by wave and its stages by name, to check what each stage waits for.

    Checked stage by stage, never appliance by appliance: a stage may wait for thousands.
    """

    def __init__(self, lines: dict[str, PlannedAppliance], stages: tuple[Stage, ...]) -> None:
        self.lines = lines
        self.stages = {stage.name: stage for stage in stages}
        self.of: dict[WaveKind, set[str]] = {kind: set() for kind in WAVE_ORDER}
        self.managers: dict[str | None, set[str]] = {}
        for name, line in lines.items():
            if line.wave is not None:
                self.of[line.wave].add(name)
            if line.wave is WaveKind.EXPLORE_MANAGERS:
                self.managers.setdefault(line.cluster, set()).add(name)
        self.owner = {name: stage.name for stage in stages for name in stage.members}

    def problems(self, stage: Stage) -> list[str]:
        lines = self.lines
        problems = [
            f"stage {stage.name}: {name} is not in wave {stage.kind}"
            for name in stage.members
            if lines[name].wave is not stage.kind or lines[name].cluster != stage.cluster
        ]
        unknown = [n for n in stage.after if n not in lines]
        unknown += [n for n in stage.after_stages if n not in self.stages]
        if unknown:
            return [
                *problems,
                f"stage {stage.name} waits for {', '.join(unknown)}: not in the plan",
            ]
        later = [
            n for n in stage.after if not self._may_wait_for(stage, lines[n].wave, lines[n].cluster)
        ]
        later += [
            n
            for n in stage.after_stages
            if not self._may_wait_for(stage, self.stages[n].kind, self.stages[n].cluster)
        ]
        if later:
            problems.append(f"stage {stage.name} waits for {', '.join(later)}, which come after it")
        missing = self._missing(stage)
        if missing:
            problems.append(f"stage {stage.name} must wait for {missing} (the vendor's order)")
        return problems

    def _may_wait_for(self, stage: Stage, kind: WaveKind | None, cluster: str | None) -> bool:
        kind = kind or stage.kind
        if stage.kind is WaveKind.EXPLORE_DATA and kind is WaveKind.EXPLORE_MANAGERS:
            return cluster == stage.cluster
        return WAVE_ORDER.index(kind) < WAVE_ORDER.index(stage.kind)

    def _missing(self, stage: Stage) -> str:
        """What the rules require that `stage` does not wait for, in words ('' if nothing)."""
        if stage.kind is WaveKind.COMMAND:
            return ""
        kinds = [WaveKind.COMMAND]
        managers = self.managers.get(stage.cluster, set())
        if stage.kind is WaveKind.EXPLORE_DATA and managers:
            names = managers
        else:
            names = set()
            if stage.kind is not WaveKind.DISCOVER and not stage.connections_known:
                kinds.append(WaveKind.DISCOVER)
        whole, single = set(stage.after_stages), set(stage.after)
        covered = [kind for kind in kinds if self._all_of(kind, whole, single)]
        missing = [f"every {kind} appliance" for kind in kinds if kind not in covered]
        missing += sorted(n for n in names if n not in single and self.owner[n] not in whole)
        return ", ".join(missing)

    def _all_of(self, kind: WaveKind, whole: set[str], single: set[str]) -> bool:
        """Whether the stages `whole` and the appliances `single` cover every one of `kind`."""
        count = sum(
            len(self.stages[name].members) for name in whole if self.stages[name].kind is kind
        )
        count += sum(1 for n in single if self.lines[n].wave is kind and self.owner[n] not in whole)
        return count >= len(self.of[kind])


def _batch_problems(wave: Wave) -> list[str]:
    """Batches hold every appliance of the wave to upgrade, once each, and nothing else."""
    if not wave.batches:
        return []
    names = [name for batch in wave.batches for name in batch]
    acting = [line.name for line in wave.appliances if line.actionable]
    if any(not batch for batch in wave.batches):
        return [f"wave {wave.kind} has an empty batch"]
    if sorted(names) != sorted(acting):
        return [f"the batches of wave {wave.kind} do not hold each appliance to upgrade once"]
    return []


# --- building a plan -------------------------------------------------------------------------
