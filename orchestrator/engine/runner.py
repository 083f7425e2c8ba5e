"""Execute a plan: waves in order, bounded concurrency, ingest bracket on every exit path.

The only module that owns concurrency (TaskGroup + Semaphore), ordering and cancellation.
Per-appliance outcomes are values: one appliance's failure never cancels another. A run
resumed from the journal takes each appliance up where it was and never starts a job twice;
an upload is repeated only if the crash came between the appliance accepting it and the
journal recording it (docs/cli.md, resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.core.errors import (
    ApiError,
    OrchestratorError,
    StateError,
    TransportError,
    one_line,
)
from orchestrator.core.models import FINAL_OUTCOMES, Outcome, RunReport, same_version
from orchestrator.core.procedure import Phase
from orchestrator.engine import backup, console, steps
from orchestrator.engine.gates import Gates
from orchestrator.engine.ingest import IngestGuard
from orchestrator.engine.ports import StateChanged, StepReporter, WaveStarted
from orchestrator.engine.postcheck import postcheck
from orchestrator.engine.runstate import (
    Track,
    blocker_of,
    cancel_unfinished,
    exit_code_for,
    wave_blocker,
)
from orchestrator.plan import Action, WaveKind
from orchestrator.plan.graph import Dispatcher, Graph

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from orchestrator.core.models import ApplianceInfo
    from orchestrator.engine.context import RunContext
    from orchestrator.engine.ports import AppliancePort, StepObserver
    from orchestrator.plan import IngestBracket, Wave

_CONFLICT = 409


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _seconds_since(moment: dt.datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (_now() - moment).total_seconds())


class Runner:
    """Runs one plan against the fleet and returns a RunReport."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.plan = context.plan
        self.settings = context.settings
        self.client_for = context.client_for
        self.journal = context.journal
        self.run_id = context.run_id
        self.observer = context.observer
        self.stop = context.stop
        self.prior = dict(context.prior)
        plan = context.plan
        self.tracks = {p.name: Track(p) for p in plan.appliances()}
        self.members = {bracket.cluster: bracket.members for bracket in plan.ingest}
        self.wave_index = {a.name: i for i, wave in enumerate(plan.waves) for a in wave.appliances}
        self.ingest = IngestGuard(context)
        self.gates = Gates(context)
        self.started_at = _now()
        self.fatal: str | None = None  # why the whole run had to stop (the journal failed)
        self.actionable = sum(1 for t in self.tracks.values() if t.planned.actionable)
        self.failures = 0  # appliances failed so far, for --max-failures
        self._opening: dict[str, asyncio.Lock] = {}  # graph: one backup and halt per cluster
        self._opened: set[str] = set()
        self._announced: set[WaveKind] = set()

    # ------------------------------------------------------------------ the run
    async def run(self) -> RunReport:
        """Run the waves in order, restoring ingest on every exit path."""
        self._apply_prior()
        try:
            await self._journal_pending()
            # A resumed run first re-enables clusters whose nodes are all finished.
            await self.ingest.restore_idle(only=self._cluster_finished)
            if self.plan.schedule == "graph":
                await self._run_graph()
            else:
                await self._run_waves()
        except asyncio.CancelledError:
            _uncancel()  # answered with a report: exit 3, and the journal says where we were
            cancel_unfinished(self.tracks.values(), self.observer)
        except StateError as exc:
            self.fatal = f"the journal could not be written ({one_line(exc)}); run stopped"
            cancel_unfinished(self.tracks.values(), self.observer)
        finally:
            await self._restore_on_the_way_out()
        results = tuple(t.result() for t in self.tracks.values())
        code = exit_code_for(results)
        if code == 0 and self.ingest.still_halted():
            code = 1  # every appliance is done, but a cluster could not be re-enabled
        if self.fatal is not None:
            code = 3
        return RunReport(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=_now(),
            exit_code=code,
            results=results,
            ingest=tuple(self.ingest.actions),
            error=self.fatal,
            gates=tuple(self.gates.records),
        )

    async def _restore_on_the_way_out(self) -> None:
        """Restore idle clusters; a further interrupt must not cut this short."""
        restore = asyncio.ensure_future(self.ingest.restore_idle())
        while not restore.done():
            try:
                await asyncio.shield(restore)
            except asyncio.CancelledError:
                _uncancel()
        with contextlib.suppress(StateError):  # the journal failing is already reported
            restore.result()

    def _apply_prior(self) -> None:
        for name, prior in self.prior.items():
            track = self.tracks.get(name)
            if track is not None:
                track.resume_from(prior)
                self.failures += track.outcome is Outcome.FAILED

    async def _journal_pending(self) -> None:
        """Give every appliance a row in the journal, so `status` lists the whole fleet."""
        fresh = [name for name in self.tracks if name not in self.prior]
        await self.journal.record_states_bulk(self.run_id, fresh, Outcome.PENDING)

    def _finished(self, name: str) -> bool:
        track = self.tracks.get(name)
        return track is None or track.outcome in FINAL_OUTCOMES

    def _cluster_finished(self, cluster: str) -> bool:
        return all(self._finished(name) for name in self.members.get(cluster, ()))

    # ------------------------------------------------------------ the graph
    async def _run_graph(self) -> None:
        """Start each appliance once what it waits for is done and a slot is free."""
        dispatcher = Dispatcher(Graph.of(self.plan), opened=self.context.halted_before)
        running: dict[asyncio.Task[None], Track] = {}
        try:
            await self._settle_before(dispatcher, running)
            while True:
                await self._start_ready(dispatcher, running)
                if not running:
                    break
                done, _ = await asyncio.wait(
                    running, timeout=dispatcher.recheck_in(), return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    track = running.pop(task)
                    task.result()  # a journal that cannot be written stops the run
                    await self._ended(dispatcher, track)
                await self.ingest.restore_idle(only=self._cluster_finished, retry_failed=False)
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)

    async def _settle_before(
        self, dispatcher: Dispatcher, running: dict[asyncio.Task[None], Track]
    ) -> None:
        """Settle what ended before (resumed, skipped, refused); follow jobs already started."""
        for name in dispatcher.graph.names:
            track = self.tracks[name]
            await self._settle_unactionable(track)
            if track.outcome in FINAL_OUTCOMES:
                await self._ended(dispatcher, track)
            elif track.resumed and track.phase >= Phase.AWAIT_JOB:
                dispatcher.take(name)
                running[asyncio.create_task(self._graph_one(track, dispatcher))] = track

    async def _start_ready(
        self, dispatcher: Dispatcher, running: dict[asyncio.Task[None], Track]
    ) -> None:
        while len(running) < self.settings.concurrency:
            name = dispatcher.pop()
            if name is None:
                return
            track = self.tracks[name]
            reason = None if track.outcome in FINAL_OUTCOMES else self._why_not_start(track)
            if reason is not None:
                await self._final(track, *reason)
            if track.outcome in FINAL_OUTCOMES:  # blocked by its cluster's failed backup
                await self._ended(dispatcher, track)
                continue
            self._announce_wave(track)
            running[asyncio.create_task(self._graph_one(track, dispatcher))] = track

    def _announce_wave(self, track: Track) -> None:
        kind = track.planned.wave
        if kind is None or kind in self._announced:
            return
        self._announced.add(kind)
        left = [
            t
            for t in self.tracks.values()
            if t.planned.wave is kind and t.outcome not in FINAL_OUTCOMES
        ]
        self.observer.notify(WaveStarted(kind, len(left)))

    async def _graph_one(self, track: Track, dispatcher: Dispatcher) -> None:
        cluster = track.planned.cluster
        if cluster is not None and cluster in self.members:
            await self._open_cluster(cluster)
            reason = None if track.outcome in FINAL_OUTCOMES else self._why_not_start(track)
            if reason is not None:
                await self._final(track, *reason)
            if track.outcome in FINAL_OUTCOMES:
                return
            dispatcher.began(track.planned.name)  # its cluster's backups and halt are behind it
        await self._failing_on_error(track, self._drive(track))

    async def _open_cluster(self, cluster: str) -> None:
        """Before a cluster's first node: back its nodes up, then halt its ingest (once)."""
        async with self._opening.setdefault(cluster, asyncio.Lock()):
            if cluster in self._opened:
                return
            self._opened.add(cluster)
            bracket = next(b for b in self.plan.ingest if b.cluster == cluster)
            backed_up = True
            if self.context.backups is not None and bracket.halt and not self.stop.is_set():
                backed_up = await self._back_up_cluster(bracket, slots=1)  # in its first slot
            if backed_up and not self.stop.is_set():
                await self.ingest.halt(cluster)

    async def _ended(self, dispatcher: Dispatcher, track: Track) -> None:
        """`track` is final: release what waits for it, or take it down with it."""
        ok = track.outcome in {Outcome.DONE, Outcome.SKIPPED}
        for name, cause in dispatcher.finish(track.planned.name, ok=ok):
            lost = self.tracks[name]
            if lost.outcome in FINAL_OUTCOMES:
                continue
            await self._final(lost, *self._why_lost(lost, self.tracks[cause]))

    def _why_lost(self, lost: Track, cause: Track) -> tuple[Outcome, str]:
        """What becomes of `lost`, which waits (directly or not) for `cause`, which ended."""
        becomes, verb = _WHY_LOST.get(cause.outcome, (Outcome.BLOCKED, f"ended {cause.outcome}"))
        name, kind = cause.planned.name, cause.planned.wave
        if kind is None or lost.planned.wave is not kind:
            return becomes, f"waits for {name}, which {verb}"
        # Within a wave only a batch waits for another: say which batch did not finish.
        wave = next(w for w in self.plan.waves if w.kind is kind)
        index = next(i for i, batch in enumerate(wave.batch_names()) if name in batch)
        return becomes, f"batch {index + 1} of wave {kind.value} did not finish: {name}"

    async def _run_waves(self) -> None:
        blocker: tuple[Outcome, str] | None = None
        for wave in self.plan.waves:
            if blocker is None:  # a stage's gate stands before its ingest is halted
                blocker = await self.gates.before(wave, 0, self.tracks)
            if blocker is not None:
                await self._mark_wave(wave, *blocker)
                continue
            if not self.stop.is_set():
                await self._back_up_before_halt(wave)
                await self.ingest.halt_before(wave.kind, first_wave=self._first_wave)
            await self._run_wave(wave)
            blocker = wave_blocker(wave, self.tracks)
            await self.ingest.restore_idle(only=self._cluster_finished, retry_failed=False)

    def _first_wave(self, bracket: IngestBracket) -> WaveKind | None:
        """The wave of the cluster's first node still to upgrade (None: nothing left).

        A node that could not start now (window, failure budget, stop) never will: not counted.
        """
        left = [
            self.wave_index[name]
            for name in bracket.members
            if name in self.wave_index
            and not self._finished(name)
            and self._why_not_start(self.tracks[name]) is None
        ]
        return self.plan.waves[min(left)].kind if left else None

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
        self.observer.notify(WaveStarted(wave.kind, len(pending)))
        blocker: tuple[Outcome, str] | None = None
        for index, names in enumerate(wave.batch_names()):
            batch = [self.tracks[name] for name in names]
            if blocker is None and index > 0:
                blocker = await self.gates.before(wave, index, self.tracks)
            if blocker is not None:
                for track in batch:
                    if track.outcome not in FINAL_OUTCOMES:
                        await self._final(track, *blocker)
                continue
            await self._run_batch([t for t in batch if t.outcome not in FINAL_OUTCOMES])
            what = f"batch {index + 1} of wave {wave.kind.value}"
            blocker = blocker_of(names, self.tracks, what, "this batch")

    async def _run_batch(self, pending: list[Track]) -> None:
        """Run one batch: every appliance in it ends before the next batch starts."""
        gate = asyncio.Semaphore(self.settings.concurrency)
        async with asyncio.TaskGroup() as group:
            for track in pending:
                group.create_task(self._guarded(track, gate))

    async def _settle_unactionable(self, track: Track) -> None:
        planned = track.planned
        if track.outcome in FINAL_OUTCOMES:
            return
        if planned.action is Action.SKIP:
            track.version_after = planned.current_version
            await self._final(track, Outcome.SKIPPED, planned.reason)
        elif planned.action is Action.REFUSED:
            await self._final(track, Outcome.BLOCKED, planned.reason or "refused by the plan")

    async def _guarded(self, track: Track, gate: asyncio.Semaphore) -> None:
        async with gate:
            reason = self._why_not_start(track)
            if reason is not None:
                await self._final(track, *reason)
                return
            await self._failing_on_error(track, self._drive(track))

    async def _failing_on_error(self, track: Track, work: Awaitable[object]) -> None:
        """Await one appliance's work; its error fails it (a journal failure stops the run)."""
        try:
            await work
        except StateError:
            self.stop.set()  # nothing may go on unjournalled; run() reports it
            raise
        except OrchestratorError as exc:
            await self._final(track, Outcome.FAILED, one_line(exc))

    # ------------------------------------------------ backups before an ingest halt
    async def _back_up_before_halt(self, wave: Wave) -> None:
        """Back up each node of a cluster about to be halted: the halt changes them all."""
        if self.context.backups is None:
            return
        for bracket in self.plan.ingest:
            if bracket.halt and self._first_wave(bracket) is wave.kind:
                await self._back_up_cluster(bracket)

    async def _back_up_cluster(self, bracket: IngestBracket, *, slots: int = 0) -> bool:
        """Precheck and back up its nodes; if one fails, no node of it is halted or changed.

        False: one failed (the others are blocked). `slots`: at most this many at once.
        """
        todo = [
            track
            for track in (self.tracks[name] for name in bracket.members if name in self.tracks)
            if track.outcome not in FINAL_OUTCOMES
            and track.phase <= Phase.PRECHECK
            and track.planned.action is not Action.CONSOLE  # no key of its own: no backup
            and self._why_not_start(track) is None
        ]
        gate = asyncio.Semaphore(slots or self.settings.concurrency)
        async with asyncio.TaskGroup() as group:
            for track in todo:
                group.create_task(self._back_up_early(track, gate))
        failed = [t.planned.name for t in todo if t.outcome is Outcome.FAILED]
        reason = f"backup of {', '.join(failed)} failed; ingest on {bracket.cluster} not halted"
        for track in todo:
            if failed and track.outcome not in FINAL_OUTCOMES:
                await self._final(track, Outcome.BLOCKED, reason)
        return not failed

    async def _back_up_early(self, track: Track, gate: asyncio.Semaphore) -> None:
        async with gate:
            client = self.client_for(track.planned.name)
            obs = StepReporter(self.observer, track.planned.name)
            await self._failing_on_error(track, self._precheck_and_back_up(track, client, obs))

    async def _precheck_and_back_up(
        self, track: Track, client: AppliancePort, obs: StepObserver
    ) -> None:
        if await self._precheck(track, client) and await self._backup(track, client, obs):
            await self._state(track, Outcome.PRECHECKED)  # backed up; waits for its wave

    def _why_not_start(self, track: Track) -> tuple[Outcome, str] | None:
        if track.resumed and track.phase >= Phase.AWAIT_JOB:
            return None  # its job was started: follow it whatever else holds
        if self.stop.is_set():
            return Outcome.CANCELLED, "run interrupted before it started"
        if self.settings.max_failures.exceeded(self.failures, self.actionable):
            return Outcome.BLOCKED, f"failure budget {self.settings.max_failures} exceeded"
        end = self.settings.window_end
        remaining = track.planned.estimate.total
        if end is not None and _now() + dt.timedelta(seconds=remaining) > end:
            return Outcome.DEFERRED, "would not finish before the window closes"
        if self.ingest.halt_failed(track.planned.cluster):
            return Outcome.BLOCKED, "ingest could not be halted on its cluster"
        return None

    # --------------------------------------------------------- one appliance
    async def _drive(self, track: Track) -> None:
        """Take one appliance from where it is (fresh, or as the journal left it) to done."""
        planned = track.planned
        client = self.client_for(planned.name)
        obs = StepReporter(self.observer, planned.name)
        track.started_at = track.started_at or _now()
        if planned.action is Action.CONSOLE:
            await self._drive_console(track, obs)
            return
        if track.phase <= Phase.PRECHECK and not (
            await self._precheck(track, client) and await self._backup(track, client, obs)
        ):
            return
        if planned.action is Action.UPLOAD and track.phase <= Phase.UPLOAD:
            if not await self._safe_point(track):
                return
            await self._state(track, Outcome.UPLOADING)
            await steps.upload(client, planned, obs)
            await self._state(track, Outcome.UPLOADED)
        with self.ingest.upgrading(planned.cluster, planned.name):
            await self._job_and_reboot(track, client, obs)

    async def _precheck(self, track: Track, client: AppliancePort) -> bool:
        info = await steps.precheck(client, track.planned)
        return await self._prechecked(track, info.version, client)

    async def _prechecked(
        self, track: Track, version: str, client: AppliancePort | None = None
    ) -> bool:
        """Skip it if it already runs the target; else journal the version it runs."""
        track.version_before = track.version_before or version
        if same_version(version, track.planned.target_version):
            track.version_after = version
            await self._final(track, Outcome.SKIPPED, "already at the target version")
            return False
        if client is not None:  # asked directly, not through its console
            track.license_before = await client.get_license()  # what the post-check compares
        await self._state(track, Outcome.PRECHECKED, version=version)
        return True

    async def _drive_console(self, track: Track, obs: StepObserver) -> None:
        """Console mode: the console upgrades the appliance; it reports its version."""
        planned = track.planned
        via = self.client_for(planned.console or "")
        if track.phase <= Phase.PRECHECK:
            version = await console.version_on(via, planned)
            if not await self._prechecked(track, version):
                return
        with self.ingest.upgrading(planned.cluster, planned.name):
            phase = max(track.phase, Phase.START_JOB)
            if track.resumed and phase == Phase.AWAIT_JOB and track.job_id is None:
                track.reattached = True  # its start was journalled, not its answer: find it
                track.job_id, phase = await console.reattach(via, planned)
                if track.job_id is not None:
                    await self._state(track, Outcome.UPGRADING, job_id=track.job_id)
            if phase <= Phase.START_JOB:
                if not await self._safe_point(track):
                    return
                await self._state(track, Outcome.UPGRADING)  # synced before the request
                track.job_id = await console.start(via, planned)
                await self._state(track, Outcome.UPGRADING, job_id=track.job_id)
            if phase <= Phase.AWAIT_JOB and track.job_id is not None:
                expected = steps.job_estimate(planned, elapsed=_seconds_since(track.job_started))
                await console.await_remote_job(
                    via, track.job_id, planned, self.settings, obs, expected=expected
                )
            await self._state(track, Outcome.REBOOTING)
            version = await console.await_version(via, planned, self.settings, obs)
            await self._state(track, Outcome.VERIFYING)
            track.version_after = version
            await self._final(track, Outcome.DONE, None)

    async def _backup(self, track: Track, client: AppliancePort, obs: StepObserver) -> bool:
        """Back the appliance up before its first change (unless --no-backup)."""
        store = self.context.backups
        if store is None:
            return True
        if not await self._safe_point(track):
            return False
        await self._state(track, Outcome.BACKING_UP)
        await backup.take(
            client,
            store,
            run_id=self.run_id,
            license_before=track.license_before or {},
            observer=obs,
        )
        return True

    async def _safe_point(self, track: Track) -> bool:
        """Before anything that changes the appliance: stop here if the run is stopping."""
        if self.stop.is_set():
            await self._final(track, Outcome.CANCELLED, "run interrupted before it was changed")
            return False
        return True

    async def _job_and_reboot(self, track: Track, client: AppliancePort, obs: StepObserver) -> None:
        planned = track.planned
        phase = max(track.phase, Phase.START_JOB)
        if track.resumed and phase == Phase.AWAIT_JOB and track.job_id is None:
            phase = await self._reattach(track, client)
        if phase <= Phase.START_JOB:
            if not await self._safe_point(track):
                return
            phase = await self._start(track, client)
        watch = steps.RestartWatch()
        followed = phase >= Phase.REBOOT and not track.reattached
        if phase <= Phase.AWAIT_JOB and track.job_id is not None:
            expected = steps.job_estimate(planned, elapsed=_seconds_since(track.job_started))
            followed = await steps.await_job(
                client, track.job_id, self.settings, obs, watch, expected=expected
            )
        await self._state(track, Outcome.REBOOTING)
        extra = 0.0 if followed else self.settings.job_deadline
        info = await steps.await_reboot(
            client,
            self.settings,
            target=planned.target_version,
            version_before=track.version_before,
            observer=obs,
            watch=watch,
            deadline=self.settings.reboot_deadline + extra,
        )
        await self._verified(track, client, obs, info)

    async def _verified(
        self, track: Track, client: AppliancePort, obs: StepObserver, info: ApplianceInfo
    ) -> None:
        """It runs the target: check its role, then its processes and license."""
        await self._state(track, Outcome.VERIFYING)
        steps.verify(track.planned, info)
        track.version_after = info.version
        await self._state(track, Outcome.POSTCHECKING)
        before = track.license_before or backup.saved_license(
            self.context.backups, track.planned.name
        )
        await postcheck(client, self.settings, license_before=before, observer=obs)
        await self._final(track, Outcome.DONE, None)

    async def _start(self, track: Track, client: AppliancePort) -> Phase:
        """Start the firmware job, journalled before the request and again with its id."""
        await self._state(track, Outcome.UPGRADING)
        track.job_started = None  # a job started now is followed from its answer on
        try:
            track.job_id = await steps.start_job(client, track.planned)
        except ApiError as exc:
            if not (track.reattached and exc.status == _CONFLICT):
                raise
            # Resumed after a crash mid-request: the job we asked for is already running.
            track.job_id = await steps.find_running_job(client)
        if track.planned.action is Action.ROLLBACK:
            # No job: `rebooting`, journalled next, records the answer; a resumed run then
            # waits for the restart and never sends the rollback again.
            return Phase.REBOOT
        await self._state(track, Outcome.UPGRADING, job_id=track.job_id)
        return Phase.AWAIT_JOB

    async def _reattach(self, track: Track, client: AppliancePort) -> Phase:
        """The crash came between journalling the job start and its answer: find the job."""
        track.reattached = True
        try:
            track.job_id = await steps.find_running_job(client)
        except (TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and not exc.transient:
                raise
            return Phase.REBOOT  # not answering: it is restarting into (we hope) the new version
        if track.job_id is not None:
            await self._state(track, Outcome.UPGRADING, job_id=track.job_id)
            return Phase.AWAIT_JOB
        if same_version(await client.get_version(), track.planned.target_version):
            return Phase.REBOOT
        return Phase.START_JOB

    # ------------------------------------------------------------- bookkeeping
    async def _state(
        self,
        track: Track,
        state: Outcome,
        *,
        job_id: str | None = None,
        version: str | None = None,
    ) -> None:
        track.outcome = state
        await self.journal.record_state(
            self.run_id, track.planned.name, state, job_id=job_id, version=version
        )
        detail = f"job {job_id}" if job_id else None
        self.observer.notify(StateChanged(track.planned.name, state, detail))

    async def _final(self, track: Track, outcome: Outcome, reason: str | None) -> None:
        self.failures += outcome is Outcome.FAILED
        track.outcome = outcome
        track.error = reason if outcome is not Outcome.DONE else None
        track.finished_at = _now()
        await self.journal.record_state(
            self.run_id, track.planned.name, outcome, error=track.error, version=track.version_after
        )
        self.observer.notify(StateChanged(track.planned.name, outcome, track.error))


_WHY_LOST = {
    Outcome.FAILED: (Outcome.BLOCKED, "failed"),
    Outcome.BLOCKED: (Outcome.BLOCKED, "is blocked"),
    Outcome.DEFERRED: (Outcome.DEFERRED, "is deferred"),
    Outcome.CANCELLED: (Outcome.CANCELLED, "was not upgraded"),
}


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def run_plan(context: RunContext) -> RunReport:
    """Run the context's plan and return what happened to every appliance."""
    return await Runner(context).run()
