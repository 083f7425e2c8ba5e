"""Test helpers: the engine run against the simulator's appliances in memory, no socket.

`memory_run` plans a scenario (facts read through the appliance port) and runs it through
`run_plan` with an in-memory journal; it can stop or cancel the run when an appliance enters
a state, and resume from what the journal kept, as `orchestrator resume` does.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any, TypeAlias

from fleetrun import TARGET
from pydantic import SecretStr

from orchestrator.appliance.imageread import hash_image
from orchestrator.core.config import Settings
from orchestrator.core.models import (
    MAY_BE_HALTED,
    Appliance,
    CloudFirmware,
    ConsoleFirmware,
    FileFirmware,
    Firmware,
    GateRecord,
    IngestVerb,
    Inventory,
    NodeKind,
    Outcome,
    Role,
)
from orchestrator.engine.consolefacts import console_facts
from orchestrator.engine.context import RunContext
from orchestrator.engine.facts import gather_facts
from orchestrator.engine.ports import GateRequest, RunEvent, StateChanged
from orchestrator.engine.runner import run_plan
from orchestrator.engine.runstate import priors
from orchestrator.plan import ImageInfo, Plan, build_plan
from orchestrator.simulator import Scenario, make_image
from orchestrator.simulator.memory import MemoryFleet

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from orchestrator.core.models import RunReport
    from orchestrator.engine.runstate import Prior


@dataclasses.dataclass
class Recorded:
    """One state change as the in-memory journal keeps it (the journal's row and event)."""

    appliance: str
    state: Outcome
    job_id: str | None = None
    error: str | None = None
    version_before: str | None = None
    ts: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclasses.dataclass
class MemoryJournal:
    """The engine's journal port, in memory, with the SQLite journal's keeping rules."""

    events: list[Recorded] = dataclasses.field(default_factory=list)
    states: dict[str, Recorded] = dataclasses.field(default_factory=dict)
    ingest: list[tuple[str, str, IngestVerb, str | None]] = dataclasses.field(default_factory=list)

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
        """Journal a state change: the row (job id kept once set) and the event."""
        del run_id, step
        old = self.states.get(appliance)
        self.states[appliance] = Recorded(
            appliance,
            state,
            job_id=job_id or (old.job_id if old else None),  # kept once set
            error=error,
            version_before=(old.version_before if old else None) or version,
        )
        self.events.append(Recorded(appliance, state, job_id=job_id, error=error))

    async def record_states_bulk(self, run_id: str, appliances: list[str], state: Outcome) -> None:
        """The same state for many appliances."""
        for name in appliances:
            await self.record_state(run_id, name, state)

    async def record_ingest(
        self, run_id: str, cluster: str, via: str, action: str, error: str | None = None
    ) -> None:
        """Journal an ingest action."""
        del run_id
        self.ingest.append((cluster, via, IngestVerb(action), error))

    def priors(self) -> dict[str, Prior]:
        """What a resumed run takes each appliance up from."""
        return priors(self.events, self.states)

    def halted(self) -> dict[str, IngestVerb]:
        """Clusters whose last ingest action leaves them (maybe) halted."""
        last = {c: verb for c, _, verb, _ in self.ingest if verb is not IngestVerb.LEFT_OFF}
        return {c: v for c, v in last.items() if v in MAY_BE_HALTED}


@dataclasses.dataclass
class MemoryGate:
    """The engine's gate port in memory: answers from a script, released gates remembered.

    `answers` are taken in order ("continue", "stop" or "window"); `during` is called with
    each request before it is answered (a test looks at the fleet while the run waits).
    """

    answers: list[str] = dataclasses.field(default_factory=list)
    requests: list[GateRequest] = dataclasses.field(default_factory=list)
    released: set[str] = dataclasses.field(default_factory=set)
    during: Callable[[GateRequest], None] | None = None
    hold: set[str] = dataclasses.field(default_factory=set)  # gates never answered

    async def wait(self, request: GateRequest, *, deadline: dt.datetime | None) -> GateRecord:
        """The next scripted answer (a gate released before, as on resume: continue at once)."""
        del deadline
        now = dt.datetime.now(dt.UTC)
        if request.gate in self.released:
            return GateRecord(
                gate=request.gate,
                opened_at=now,
                answer="continue",
                by="ops@earlier",
                answered_at=now,
            )
        self.requests.append(request)
        if self.during is not None:
            self.during(request)
        if request.gate in self.hold:
            await asyncio.Event().wait()  # no one comes: the run must stop waiting itself
        answer = self.answers.pop(0)
        if answer == "continue":
            self.released.add(request.gate)
        by = None if answer == "window" else "ops@memory"
        return GateRecord(
            gate=request.gate,
            opened_at=now,
            answer=answer,
            by=by,
            answered_at=now,
        )


@dataclasses.dataclass
class MemoryBackups:
    """The engine's backup store, in memory: what was saved, by appliance and kind."""

    files: dict[tuple[str, str], bytes] = dataclasses.field(default_factory=dict)

    def saved(self, appliance: str, kind: str) -> bytes | None:
        """What was saved, if anything."""
        return self.files.get((appliance, kind))

    async def save(self, appliance: str, kind: str, data: bytes) -> None:
        """Keep the file."""
        await asyncio.sleep(0)  # a write yields to the loop, as a thread would
        self.files[appliance, kind] = data


@dataclasses.dataclass
class Observer:
    """Records every event; calls `trigger` on each state change (to stop or cancel a run)."""

    trigger: Callable[[StateChanged], None] | None = None
    events: list[RunEvent] = dataclasses.field(default_factory=list)

    def notify(self, event: RunEvent) -> None:
        """Record the event; pull the trigger on a state change."""
        self.events.append(event)
        if self.trigger is not None and isinstance(event, StateChanged):
            self.trigger(event)


def fast(**overrides: Any) -> Settings:  # noqa: ANN401 - any setting
    """Settings whose polling fits the simulator's scaled clock."""
    values: dict[str, Any] = {
        "concurrency": 3,
        "poll_interval": 0.01,
        "poll_interval_max": 0.02,
        "job_deadline": 20.0,
        "reboot_deadline": 20.0,
        "upgrade_duration": 0.03,
        "reboot_duration": 0.012,
        "download_duration": 0.003,
    }
    return Settings.model_validate(values | overrides)


# In console mode, the appliances that keep a key: the console, and one Explore node.
CONSOLE_KEYED = frozenset({"eca1", "exa-m1"})


def _console_firmware(spec: dict[str, Any]) -> Firmware:
    """Console mode: the console takes the target from the cloud, the others from it."""
    if spec["role"] == "command":
        return CloudFirmware(cloud_version=TARGET)
    return ConsoleFirmware(console_version=TARGET)


def inventory_of(
    scenario: dict[str, Any], folder: Path, *, console: bool = False
) -> tuple[Inventory, dict[str, ImageInfo]]:
    """The scenario as an inventory: images uploaded, or (`console`) upgraded by the console."""
    appliances, images = [], {}
    for system_id, spec in enumerate(scenario["appliances"]):
        path = folder / f"{spec['role']}-{TARGET}.tar"
        if str(path) not in images:
            make_image(path, spec["role"], TARGET, scenario.get("image_size", 64 * 1024))
            size, sha256 = hash_image(path)
            images[str(path)] = ImageInfo(path=str(path), size=size, sha256=sha256)
        appliances.append(
            Appliance(
                name=spec["name"],
                url=f"http://{spec['name']}.memory.invalid",
                role=Role(spec["role"]),
                cluster=spec.get("cluster"),
                node=NodeKind(spec["node"]) if spec.get("node") else None,
                firmware=_console_firmware(spec)
                if console
                else FileFirmware(file=path, version=TARGET),
                api_key=SecretStr(spec["api_key"])
                if not console or spec["name"] in CONSOLE_KEYED
                else None,
                console_id=system_id if console else None,
            )
        )
    return Inventory(source="memory.yaml", sha256="0" * 64, appliances=tuple(appliances)), images


Trigger: TypeAlias = "Callable[[StateChanged, asyncio.Event, asyncio.Task[Any]], None]"


@dataclasses.dataclass
class MemoryRun:
    """A scenario planned and run in memory."""

    fleet: MemoryFleet
    plan: Plan
    settings: Settings
    journal: MemoryJournal = dataclasses.field(default_factory=MemoryJournal)
    backups: MemoryBackups = dataclasses.field(default_factory=MemoryBackups)
    observers: list[Observer] = dataclasses.field(default_factory=list)  # one per run, in order
    reports: list[RunReport] = dataclasses.field(default_factory=list)
    gate: MemoryGate = dataclasses.field(default_factory=MemoryGate)

    @classmethod
    async def planned(
        cls, scenario: dict[str, Any], folder: Path, settings: Settings, *, console: bool = False
    ) -> MemoryRun:
        """Read the fleet through the appliance port and plan it (`console`: console mode)."""
        fleet = MemoryFleet(Scenario.model_validate(scenario))
        inventory, images = inventory_of(scenario, folder, console=console)
        direct = [a for a in inventory.appliances if a.firmware.kind != "console"]
        clients = [fleet.client(a.name) for a in direct]
        facts = await gather_facts(clients, direct, concurrency=8)
        through = [a for a in inventory.appliances if a.firmware.kind == "console"]
        if through:
            facts |= await console_facts(fleet.client("eca1"), through, fleet.client)
        now = dt.datetime.now(dt.UTC)
        return cls(fleet, build_plan(inventory, facts, images, settings, now=now), settings)

    async def run(self, *, trigger: Trigger | None = None) -> RunReport:
        """Run the plan (resuming from the journal if it holds a run); the report."""
        stop = asyncio.Event()
        holder: list[asyncio.Task[RunReport]] = []

        def fire(event: StateChanged) -> None:
            if trigger is not None and holder:
                trigger(event, stop, holder[0])

        resumed = bool(self.journal.states)
        self.observers.append(Observer(fire))
        context = RunContext(
            plan=self.plan,
            settings=self.settings,
            client_for=self.fleet.client,
            journal=self.journal,
            run_id="memory-run",
            observer=self.observers[-1],
            stop=stop,
            prior=self.journal.priors() if resumed else {},
            halted_before=self.journal.halted() if resumed else {},
            gate=self.gate,
            backups=self.backups if self.settings.backup else None,
        )
        task = asyncio.ensure_future(run_plan(context))
        holder.append(task)
        report = await task
        self.reports.append(report)
        return report

    @property
    def observed(self) -> list[RunEvent]:
        """Every run's events, in order."""
        return [event for observer in self.observers for event in observer.events]

    def kinds(self, kind: str) -> list[str]:
        """The appliances of every event of `kind`, in order."""
        return [e.appliance for e in self.fleet.events if e.kind == kind]


def assert_while_ingest_off(run: MemoryRun, kind: str, names: tuple[str, ...]) -> None:
    """Every event of `kind` on one of `names` (Explore nodes) came while ingest was off."""
    enabled = True
    for event in run.fleet.events:
        if event.kind == "ingest.changed":
            enabled = bool(event.data["enabled"])
        if event.kind == kind and event.appliance in names:
            assert not enabled, f"{event.appliance}: {kind} with ingest on"


def assert_each_once_in_order(
    run: MemoryRun,
    *,
    version: str,
    kind: str,
    stages: list[list[str]] | None = None,
) -> None:
    """Every appliance on `version`, each `kind` event once, and nothing before its turn.

    With `stages`, a stage's first `kind` event comes after the last restart of the stage
    before (strict waves); without, each appliance's `kind` event comes after the restart of
    every appliance the vendor's rules put before it (`vendor_prerequisites`). Every
    cluster's ingest is back on at the end.
    """
    fleet = run.fleet
    assert {n: a.version for n, a in fleet.appliances.items()} == dict.fromkeys(
        fleet.appliances, version
    )
    counts = collections.Counter(run.kinds(kind))
    assert set(counts.values()) == {1}, f"{kind} more than once: {counts}"
    if stages is not None:
        starts = {e.appliance: e.t for e in fleet.events if e.kind == kind}
        ends = {e.appliance: e.t for e in fleet.events if e.kind == "restart.finished"}
        for earlier, later in itertools.pairwise(stages):
            assert max(ends[n] for n in earlier) < min(starts[n] for n in later)
    else:
        assert_prerequisites_first(run, kind)
    assert all(a.cluster.ingest_enabled for a in fleet.appliances.values() if a.cluster)


def vendor_prerequisites(plan: Plan) -> dict[str, set[str]]:
    """What each appliance waits for by the vendor's rules, connections not known.

    Command before everything; every Discover before Explore and Trace; a cluster's managers
    before its data nodes. Written from the roles, independently of the planner's graph.
    """
    lines = list(plan.appliances())

    def of(role: Role, cluster: str | None = None, node: NodeKind | None = None) -> set[str]:
        return {
            line.name
            for line in lines
            if line.role is role
            and (cluster is None or line.cluster == cluster)
            and (node is None or line.node is node)
        }

    commands, discovers = of(Role.COMMAND), of(Role.DISCOVER)
    result: dict[str, set[str]] = {}
    for line in lines:
        if line.role is Role.COMMAND:
            result[line.name] = set()
        elif line.role is Role.DISCOVER:
            result[line.name] = set(commands)
        elif line.role is Role.EXPLORE and line.node is NodeKind.DATA:
            managers = of(Role.EXPLORE, line.cluster, NodeKind.MANAGER)
            result[line.name] = commands | discovers | managers
        else:
            result[line.name] = commands | discovers
    return result


def assert_prerequisites_first(
    run: MemoryRun, kind: str, after: dict[str, set[str]] | None = None
) -> None:
    """No appliance's `kind` event comes before each of its prerequisites restarted."""
    after = vendor_prerequisites(run.plan) if after is None else after
    starts = {e.appliance: e.t for e in run.fleet.events if e.kind == kind}
    ends = {e.appliance: e.t for e in run.fleet.events if e.kind == "restart.finished"}
    for name, start in starts.items():
        for earlier in after.get(name, ()):
            assert earlier in ends, f"{name} started, but {earlier} never restarted"
            assert ends[earlier] < start, f"{name} started before {earlier} restarted"


def cut_at(name: str, state: Outcome, *, how: str) -> Trigger:
    """A trigger: as `name` enters `state`, stop the run (a Ctrl-C); `how="cancel"`: cut it."""

    def cut(event: StateChanged, stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
        if event.appliance == name and event.state is state and not stop.is_set():
            stop.set()
            if how == "cancel":
                task.cancel()

    return cut
