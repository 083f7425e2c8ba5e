"""Execute a plan: waves in order, bounded concurrency, ingest bracket on every exit path.

The only module that owns concurrency (TaskGroup + Semaphore), ordering and cancellation.
Per-appliance outcomes are values: one appliance's failure never cancels another.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from orchestrator import steps
from orchestrator.errors import OrchestratorError, PreconditionFailed
from orchestrator.models import (
    FINAL_OUTCOMES,
    ApplianceResult,
    IngestAction,
    Outcome,
    RunReport,
)
from orchestrator.plan import Action, IngestBracket, PlannedAppliance, WaveKind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from orchestrator.client import ApplianceClient
    from orchestrator.config import Settings
    from orchestrator.plan import Plan, Wave

IngestWord = Literal["halted", "restored", "left_off", "restore_failed"]
# Restoring ingest on the way out must not hang a run that is being torn down.
RESTORE_TIMEOUT = 60.0
# Where a resumed appliance picks up, by the last state the journal recorded for it.
PRECHECK, UPLOAD, START_JOB, AWAIT_JOB, REBOOT = range(5)
_PHASE = {
    Outcome.PENDING: PRECHECK,
    Outcome.PRECHECKED: PRECHECK,
    Outcome.UPLOADING: UPLOAD,
    Outcome.UPLOADED: START_JOB,
    Outcome.UPGRADING: AWAIT_JOB,
    Outcome.REBOOTING: REBOOT,
    Outcome.VERIFYING: REBOOT,
}


class JournalLike(Protocol):
    """What the runner needs from the journal (orchestrator.journal.AsyncJournal)."""

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

    async def record_ingest(
        self, run_id: str, cluster: str, via: str, action: IngestWord, error: str | None = None
    ) -> None:
        """Commit one ingest action."""


class RunObserver(Protocol):
    """Receives what the run does (the live view and the structured logs implement it)."""

    def wave_started(self, wave: WaveKind, size: int) -> None:
        """A wave begins with `size` appliances to change."""

    def state_changed(self, name: str, state: Outcome, detail: str | None) -> None:
        """An appliance moved to `state`."""

    def ingest_changed(self, cluster: str, action: str, via: str) -> None:
        """Ingest on a cluster was halted, restored or left off."""

    def step_observer(self, name: str) -> steps.StepObserver:
        """The observer for one appliance's step progress."""


@dataclass(frozen=True)
class Prior:
    """What the journal of an interrupted run says about one appliance."""

    state: Outcome
    job_id: str | None = None
    version_before: str | None = None


@dataclass
class _Track:
    """Mutable per-appliance bookkeeping while the run goes on."""

    planned: PlannedAppliance
    outcome: Outcome = Outcome.PENDING
    error: str | None = None
    job_id: str | None = None
    version_before: str | None = None
    version_after: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def result(self) -> ApplianceResult:
        p = self.planned
        return ApplianceResult(
            name=p.name,
            role=p.role,
            wave=p.wave.value if p.wave else None,
            outcome=self.outcome,
            version_before=self.version_before or p.current_version,
            version_after=self.version_after,
            target_version=p.target_version,
            error=self.error,
            job_id=self.job_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


@dataclass
class _Cluster:
    """Ingest bookkeeping for one Explore cluster."""

    bracket: IngestBracket
    halted: bool = False
    busy: set[str] = field(default_factory=set)  # members with a job or restart under way


def exit_code_for(results: tuple[ApplianceResult, ...]) -> int:
    """0 all done or skipped; 1 any failed or blocked; 3 work left (deferred or cancelled)."""
    outcomes = {r.outcome for r in results}
    if outcomes & {Outcome.FAILED, Outcome.BLOCKED}:
        return 1
    if outcomes - {Outcome.DONE, Outcome.SKIPPED}:
        return 3
    return 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Runner:
    """Runs one plan against the fleet and returns a RunReport."""

    def __init__(
        self,
        plan: Plan,
        settings: Settings,
        *,
        client_for: Callable[[str], ApplianceClient],
        journal: JournalLike,
        run_id: str,
        observer: RunObserver,
        stop: asyncio.Event | None = None,
        prior: Mapping[str, Prior] | None = None,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.client_for = client_for
        self.journal = journal
        self.run_id = run_id
        self.observer = observer
        self.stop = stop or asyncio.Event()
        self.prior = dict(prior or {})
        self.tracks = {p.name: _Track(p) for p in plan.appliances()}
        self.clusters = {b.cluster: _Cluster(b) for b in plan.ingest}
        self.ingest_log: list[IngestAction] = []
        self._halt_errors: dict[str, str] = {}  # cluster -> why halting its ingest failed
        self.started_at = _now()
        self._stopped_reason: str | None = None

    # ------------------------------------------------------------------ the run
    async def run(self) -> RunReport:
        """Run the waves in order, restoring ingest on every exit path."""
        self._apply_prior()
        try:
            await self._journal_pending()
            await self._run_waves()
        except asyncio.CancelledError:
            self._stopped_reason = "interrupted"
            self._cancel_unfinished("run interrupted")
        finally:
            await asyncio.shield(self._restore_all())
        results = tuple(t.result() for t in self.tracks.values())
        return RunReport(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=_now(),
            exit_code=exit_code_for(results),
            results=results,
            ingest=tuple(self.ingest_log),
        )

    def _apply_prior(self) -> None:
        for name, prior in self.prior.items():
            track = self.tracks.get(name)
            if track is None:
                continue
            track.version_before = prior.version_before
            track.job_id = prior.job_id
            if prior.state in {Outcome.DONE, Outcome.SKIPPED}:
                track.outcome = prior.state

    async def _journal_pending(self) -> None:
        """Give every appliance a row in the journal, so `status` lists the whole fleet."""
        for name in self.tracks:
            if name not in self.prior:
                await self.journal.record_state(self.run_id, name, Outcome.PENDING)

    async def _run_waves(self) -> None:
        blocker: tuple[Outcome, str] | None = None
        for wave in self.plan.waves:
            if wave.kind is WaveKind.EXPLORE_MANAGERS:
                await self._halt_all()
            if blocker is not None:
                await self._mark_wave(wave, *blocker)
            else:
                await self._run_wave(wave)
                blocker = self._wave_blocker(wave)
            if wave.kind is WaveKind.EXPLORE_DATA:
                await self._restore_all()

    def _wave_blocker(self, wave: Wave) -> tuple[Outcome, str] | None:
        """Why later waves may not start, if this wave did not end all done or skipped."""
        left = [self.tracks[a.name] for a in wave.appliances]
        failed = [t.planned.name for t in left if t.outcome in {Outcome.FAILED, Outcome.BLOCKED}]
        if failed:
            return Outcome.BLOCKED, f"wave {wave.kind.value} did not finish: {', '.join(failed)}"
        deferred = [t for t in left if t.outcome is Outcome.DEFERRED]
        if deferred:
            return Outcome.DEFERRED, "the maintenance window closed before this wave"
        if any(t.outcome is Outcome.CANCELLED for t in left):
            return Outcome.CANCELLED, self._stopped_reason or "run interrupted"
        return None

    async def _mark_wave(self, wave: Wave, outcome: Outcome, reason: str) -> None:
        for planned in wave.appliances:
            track = self.tracks[planned.name]
            if track.outcome not in FINAL_OUTCOMES and planned.actionable:
                await self._final(track, outcome, reason)

    async def _run_wave(self, wave: Wave) -> None:
        todo = [self.tracks[a.name] for a in wave.appliances]
        for track in todo:
            await self._settle_unactionable(track)
        pending = [t for t in todo if t.outcome not in FINAL_OUTCOMES]
        self.observer.wave_started(wave.kind, len(pending))
        gate = asyncio.Semaphore(self.settings.concurrency)
        async with asyncio.TaskGroup() as group:
            for track in pending:
                group.create_task(self._guarded(track, gate))

    async def _settle_unactionable(self, track: _Track) -> None:
        planned = track.planned
        if track.outcome in FINAL_OUTCOMES:
            return
        if planned.action is Action.SKIP:
            track.version_after = planned.current_version
            await self._final(track, Outcome.SKIPPED, planned.reason)
        elif planned.action is Action.REFUSED:
            await self._final(track, Outcome.BLOCKED, planned.reason or "refused by the plan")

    async def _guarded(self, track: _Track, gate: asyncio.Semaphore) -> None:
        async with gate:
            reason = self._why_not_start(track)
            if reason is not None:
                await self._final(track, *reason)
                return
            try:
                await self._drive(track)
            except OrchestratorError as exc:
                await self._final(track, Outcome.FAILED, _one_line(exc))
            except asyncio.CancelledError:
                self._cancel(track, "run interrupted while in progress")
                raise

    def _why_not_start(self, track: _Track) -> tuple[Outcome, str] | None:
        if self.stop.is_set():
            self._stopped_reason = "run interrupted"
            return Outcome.CANCELLED, "run interrupted before it started"
        failures = sum(1 for t in self.tracks.values() if t.outcome is Outcome.FAILED)
        total = sum(1 for t in self.tracks.values() if t.planned.actionable)
        if self.settings.max_failures.exceeded(failures, total):
            return Outcome.BLOCKED, f"failure budget {self.settings.max_failures} exceeded"
        end = self.settings.window_end
        if end is not None and _now() + _seconds(track.planned.estimate.total) > end:
            return Outcome.DEFERRED, "would not finish before the window closes"
        if self._halt_failed(track.planned):
            return Outcome.BLOCKED, "ingest could not be halted on its cluster"
        return None

    # --------------------------------------------------------- one appliance
    async def _drive(self, track: _Track) -> None:
        """Take one appliance from where it is (fresh, or as the journal left it) to done."""
        planned = track.planned
        client = self.client_for(planned.name)
        obs = self.observer.step_observer(planned.name)
        track.started_at = track.started_at or _now()
        prior = self.prior.get(planned.name)
        phase = _PHASE.get(prior.state, PRECHECK) if prior else PRECHECK
        if phase <= PRECHECK and not await self._precheck(track, client):
            return
        if planned.action is Action.UPLOAD and phase <= UPLOAD:
            if not await self._safe_point(track):
                return
            await self._state(track, Outcome.UPLOADING)
            await steps.upload(client, _image_path(planned), obs)
            await self._state(track, Outcome.UPLOADED)
        await self._job_and_reboot(track, client, obs, phase)

    async def _precheck(self, track: _Track, client: ApplianceClient) -> bool:
        info = await steps.precheck(client, track.planned)
        track.version_before = track.version_before or info.version
        if steps.same_version(info.version, track.planned.target_version):
            track.version_after = info.version
            await self._final(track, Outcome.SKIPPED, "already at the target version")
            return False
        await self._state(track, Outcome.PRECHECKED, version=info.version)
        return True

    async def _safe_point(self, track: _Track) -> bool:
        """Before anything that changes the appliance: stop here if the run is stopping."""
        if self.stop.is_set():
            self._stopped_reason = "run interrupted"
            await self._final(track, Outcome.CANCELLED, "run interrupted before it was changed")
            return False
        return True

    async def _job_and_reboot(
        self, track: _Track, client: ApplianceClient, obs: steps.StepObserver, phase: int
    ) -> None:
        planned = track.planned
        cluster = self.clusters.get(planned.cluster or "")
        if cluster is not None:
            cluster.busy.add(planned.name)
        watch = steps.RestartWatch()
        try:
            if phase <= START_JOB:
                if not await self._safe_point(track):
                    return
                await self._state(track, Outcome.UPGRADING)
                track.job_id = await steps.start_job(client, planned)
                await self._state(track, Outcome.UPGRADING, job_id=track.job_id)
            if phase <= AWAIT_JOB and track.job_id is not None:
                await steps.await_job(client, track.job_id, self.settings, obs, watch)
            await self._state(track, Outcome.REBOOTING)
            deadline = None if track.job_id else self.settings.job_deadline
            await steps.await_reboot(
                client,
                self.settings,
                target=planned.target_version,
                version_before=track.version_before,
                observer=obs,
                watch=watch,
                deadline=None if deadline is None else deadline + self.settings.reboot_deadline,
            )
            await self._state(track, Outcome.VERIFYING)
            info = await steps.verify(client, planned)
            track.version_after = info.version
            await self._final(track, Outcome.DONE, None)
        finally:
            if cluster is not None:
                cluster.busy.discard(planned.name)

    # ---------------------------------------------------------------- ingest
    async def _halt_all(self) -> None:
        for cluster in self.clusters.values():
            await self._halt(cluster)

    async def _halt(self, cluster: _Cluster) -> None:
        bracket = cluster.bracket
        if not bracket.halt:
            await self._ingest(bracket, "left_off", bracket.via)
            return
        if self.stop.is_set() or self._cluster_all_final(bracket):
            return
        # Written before the PATCH: a crash after it leaves a record that restore-ingest obeys.
        await self._ingest(bracket, "halted", bracket.via)
        cluster.halted = True
        try:
            await steps.halt_ingest(self.client_for(bracket.via))
        except OrchestratorError as exc:
            self._halt_errors[bracket.cluster] = _one_line(exc)

    def _halt_failed(self, planned: PlannedAppliance) -> bool:
        return planned.cluster is not None and planned.cluster in self._halt_errors

    def _cluster_all_final(self, bracket: IngestBracket) -> bool:
        return all(self.tracks[m].outcome in FINAL_OUTCOMES for m in bracket.members)

    async def _restore_all(self) -> None:
        for cluster in self.clusters.values():
            if cluster.halted and not cluster.busy:
                await self._restore(cluster)

    async def _restore(self, cluster: _Cluster) -> None:
        bracket = cluster.bracket
        errors: list[str] = []
        for via in _restore_candidates(bracket):
            try:
                async with asyncio.timeout(RESTORE_TIMEOUT):
                    await steps.restore_ingest(self.client_for(via))
            except (OrchestratorError, TimeoutError) as exc:
                errors.append(_one_line(exc) if isinstance(exc, OrchestratorError) else via)
                continue
            cluster.halted = False
            await self._ingest(bracket, "restored", via)
            return
        await self._ingest(bracket, "restore_failed", bracket.via, "; ".join(errors))

    async def _ingest(
        self, bracket: IngestBracket, action: IngestWord, via: str, error: str | None = None
    ) -> None:
        await self.journal.record_ingest(self.run_id, bracket.cluster, via, action, error)
        self.ingest_log.append(
            IngestAction(cluster=bracket.cluster, via=via, action=action, at=_now(), error=error)
        )
        self.observer.ingest_changed(bracket.cluster, action, via)

    # ------------------------------------------------------------- bookkeeping
    async def _state(
        self,
        track: _Track,
        state: Outcome,
        *,
        job_id: str | None = None,
        version: str | None = None,
    ) -> None:
        track.outcome = state
        await self.journal.record_state(
            self.run_id, track.planned.name, state, job_id=job_id, version=version
        )
        self.observer.state_changed(track.planned.name, state, None)

    async def _final(self, track: _Track, outcome: Outcome, reason: str | None) -> None:
        track.outcome = outcome
        track.error = reason if outcome is not Outcome.DONE else None
        track.finished_at = _now()
        await self.journal.record_state(
            self.run_id,
            track.planned.name,
            outcome,
            error=track.error,
            version=track.version_after,
        )
        self.observer.state_changed(track.planned.name, outcome, track.error)

    def _cancel(self, track: _Track, reason: str) -> None:
        """Mark an appliance cancelled without awaiting (we are being cancelled ourselves)."""
        if track.outcome not in FINAL_OUTCOMES:
            track.outcome = Outcome.CANCELLED
            track.error = reason
            track.finished_at = _now()
            self.observer.state_changed(track.planned.name, Outcome.CANCELLED, reason)

    def _cancel_unfinished(self, reason: str) -> None:
        for track in self.tracks.values():
            if track.planned.actionable:
                self._cancel(track, reason)


def _restore_candidates(bracket: IngestBracket) -> list[str]:
    return [bracket.via, *[m for m in bracket.members if m != bracket.via]]


def _image_path(planned: PlannedAppliance) -> Path:
    if planned.image is not None:
        return Path(planned.image.path)
    if planned.firmware.kind == "file":
        return planned.firmware.file
    raise PreconditionFailed(planned.name, "no image to upload")


def _one_line(exc: OrchestratorError) -> str:
    return " ".join(str(exc).split())


def _seconds(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value)


async def run_plan(
    plan: Plan,
    settings: Settings,
    *,
    client_for: Callable[[str], ApplianceClient],
    journal: JournalLike,
    run_id: str,
    observer: RunObserver,
    stop: asyncio.Event | None = None,
    prior: Mapping[str, Prior] | None = None,
) -> RunReport:
    """Run `plan` and return what happened to every appliance."""
    runner = Runner(
        plan,
        settings,
        client_for=client_for,
        journal=journal,
        run_id=run_id,
        observer=observer,
        stop=stop,
        prior=prior,
    )
    return await runner.run()
