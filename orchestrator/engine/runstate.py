"""What a run keeps per appliance: where it is, what it became, and how a run ends."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.core.models import FINAL_OUTCOMES, ApplianceResult, Outcome
from orchestrator.core.procedure import KEPT_ON_RESUME, PHASE_OF, Phase
from orchestrator.engine.ports import StateChanged

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from orchestrator.engine.ports import JournalledEvent, JournalledState, RunObserver
    from orchestrator.plan import PlannedAppliance, Wave


@dataclass(frozen=True)
class Prior:
    """What the journal of an interrupted run says about one appliance."""

    state: Outcome  # the last state recorded
    progress: Outcome = Outcome.PENDING  # the furthest non-final state recorded
    job_id: str | None = None
    version_before: str | None = None
    error: str | None = None
    job_started: dt.datetime | None = None  # `upgrading` journalled, just before the job start


@dataclass
class Track:
    """Mutable per-appliance bookkeeping while the run goes on."""

    planned: PlannedAppliance
    outcome: Outcome = Outcome.PENDING
    error: str | None = None
    job_id: str | None = None
    version_before: str | None = None
    version_after: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    phase: Phase = Phase.PRECHECK
    resumed: bool = False  # the journal of an interrupted run says where it was
    reattached: bool = False  # its job start was journalled but its answer was not
    job_started: dt.datetime | None = None  # a re-attached job's start, from the journal
    license_before: dict[str, Any] | None = None  # read at the precheck, for the post-check

    def resume_from(self, prior: Prior) -> None:
        """Take the appliance up where the journal of an interrupted run left it."""
        self.resumed = True
        self.version_before = prior.version_before
        self.job_id = prior.job_id
        self.job_started = prior.job_started
        self.phase = PHASE_OF[prior.progress]  # the table maps every non-final state
        if prior.state in KEPT_ON_RESUME:
            self.outcome = prior.state
            self.error = prior.error

    def result(self) -> ApplianceResult:
        """The appliance's line in the run report."""
        p = self.planned
        return ApplianceResult(
            name=p.name,
            role=p.role,
            wave=p.wave.value if p.wave else None,
            cluster=p.cluster,
            outcome=self.outcome,
            version_before=self.version_before or p.current_version,
            version_after=self.version_after,
            target_version=p.target_version,
            error=self.error,
            job_id=self.job_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            tls=p.tls,
        )


def priors(
    events: Iterable[JournalledEvent], states: Mapping[str, JournalledState]
) -> dict[str, Prior]:
    """Each appliance's last state and furthest progress, from an interrupted run's journal."""
    progress: dict[str, Outcome] = {}
    job_started: dict[str, dt.datetime] = {}  # `upgrading` is journalled just before the start
    for event in events:
        if event.state in PHASE_OF:
            progress[event.appliance] = event.state
        if event.state is Outcome.UPGRADING and event.job_id is None:
            job_started[event.appliance] = event.ts
    return {
        name: Prior(
            state=r.state,
            progress=progress.get(name, Outcome.PENDING),
            job_id=r.job_id,
            version_before=r.version_before,
            error=r.error,
            job_started=job_started.get(name),
        )
        for name, r in states.items()
    }


def exit_code_for(results: tuple[ApplianceResult, ...]) -> int:
    """0 all done or skipped; 1 any failed or blocked; 3 work left (deferred or cancelled)."""
    outcomes = {r.outcome for r in results}
    if outcomes & {Outcome.FAILED, Outcome.BLOCKED}:
        return 1
    if outcomes - {Outcome.DONE, Outcome.SKIPPED}:
        return 3
    return 0


def wave_blocker(wave: Wave, tracks: Mapping[str, Track]) -> tuple[Outcome, str] | None:
    """Why later waves may not start, if this wave did not end all done or skipped."""
    names = [a.name for a in wave.appliances]
    return blocker_of(names, tracks, f"wave {wave.kind.value}", "this wave")


def blocker_of(
    names: Iterable[str], tracks: Mapping[str, Track], what: str, next_part: str
) -> tuple[Outcome, str] | None:
    """Why what follows `what` (a wave, a batch) may not start, if it did not end well."""
    left = [tracks[name] for name in names]
    failed = [t.planned.name for t in left if t.outcome in {Outcome.FAILED, Outcome.BLOCKED}]
    if failed:
        return Outcome.BLOCKED, f"{what} did not finish: {', '.join(failed)}"
    if any(t.outcome is Outcome.DEFERRED for t in left):
        return Outcome.DEFERRED, f"{what} would not finish before the window closes"
    if any(t.outcome is Outcome.CANCELLED for t in left):
        return Outcome.CANCELLED, f"run interrupted before {next_part}"
    return None


def detached_reason(track: Track) -> str:
    """Why an appliance the run let go of is not final, and how to continue it."""
    if track.outcome in {Outcome.UPGRADING, Outcome.REBOOTING, Outcome.VERIFYING}:
        job = f"job {track.job_id} " if track.job_id else "its upgrade "
        return f"detached: {job}goes on; `orchestrator resume` re-attaches"
    return "run stopped before it finished; `orchestrator resume` continues"


def cancel_unfinished(tracks: Iterable[Track], observer: RunObserver) -> None:
    """Mark what did not finish cancelled, without journalling.

    The journal keeps the last state each one reached: `resume` picks it up there.
    """
    now = dt.datetime.now(dt.UTC)
    for track in tracks:
        if track.planned.actionable and track.outcome not in FINAL_OUTCOMES:
            track.error = detached_reason(track)
            track.outcome = Outcome.CANCELLED
            track.finished_at = now
            observer.notify(StateChanged(track.planned.name, Outcome.CANCELLED, track.error))
