"""The per-appliance procedure as one table: every state, its phase, and what it promises.

An appliance goes PENDING → PRECHECKED → (BACKING_UP →) (UPLOADING → UPLOADED) → UPGRADING →
REBOOTING → VERIFYING → POSTCHECKING → DONE, or ends early (skipped, failed, blocked, deferred,
cancelled). Each state the journal can hold is one row of `PROCEDURE`: the phase a resumed run
takes the appliance up at when that state is the furthest it reached, and whether the state
announces a change to the appliance (it is journalled, and synced to disk, before the request
it announces), and the step of the run's timeline it begins (upload, job, reboot, verify: the
report's per-step times). Everything else — `PHASE_OF`, `ANNOUNCING`, `KEPT_ON_RESUME`,
`STEP_OF` — is derived here, so a new state is one row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from orchestrator.core.models import FINAL_OUTCOMES, Outcome

__all__ = [
    "ANNOUNCING",
    "KEPT_ON_RESUME",
    "PHASE_OF",
    "PROCEDURE",
    "STEP_OF",
    "TIMELINE_STEPS",
    "Phase",
    "StepSpec",
]


class Phase(enum.IntEnum):
    """Where an appliance's work picks up, in the order the work is done."""

    PRECHECK = 0  # read the appliance (again): nothing has changed it yet
    UPLOAD = 1  # send the image (again: an upload was under way)
    START_JOB = 2  # the image is on the appliance: start the firmware job
    AWAIT_JOB = 3  # a job was started: follow it (re-attach by id, or find it)
    REBOOT = 4  # the job is over: wait out the restart and verify the version


@dataclass(frozen=True)
class StepSpec:
    """One state of the procedure."""

    state: Outcome  # the state the appliance enters
    resume_at: Phase | None  # where a resumed run takes it up (None: final)
    announces: bool = False  # journalled and synced before the request that changes it
    kept_on_resume: bool = False  # final, and a resumed run keeps it as it is
    begins: str | None = None  # the timeline step entering this state begins


PROCEDURE: tuple[StepSpec, ...] = (
    StepSpec(Outcome.PENDING, Phase.PRECHECK),
    StepSpec(Outcome.PRECHECKED, Phase.PRECHECK),
    # Nothing changed yet: a resumed run prechecks again; a backup already saved is kept.
    StepSpec(Outcome.BACKING_UP, Phase.PRECHECK),
    StepSpec(Outcome.UPLOADING, Phase.UPLOAD, announces=True, begins="upload"),
    StepSpec(Outcome.UPLOADED, Phase.START_JOB),
    StepSpec(Outcome.UPGRADING, Phase.AWAIT_JOB, announces=True, begins="job"),
    StepSpec(Outcome.REBOOTING, Phase.REBOOT, begins="reboot"),
    StepSpec(Outcome.VERIFYING, Phase.REBOOT, begins="verify"),
    # A resumed run verifies the version again, then checks processes and license.
    StepSpec(Outcome.POSTCHECKING, Phase.REBOOT),
    StepSpec(Outcome.DONE, None, kept_on_resume=True),
    StepSpec(Outcome.SKIPPED, None, kept_on_resume=True),
    StepSpec(Outcome.FAILED, None, kept_on_resume=True),
    StepSpec(Outcome.BLOCKED, None),  # tried again by a resumed run
    StepSpec(Outcome.DEFERRED, None),  # tried again by a resumed run
    StepSpec(Outcome.CANCELLED, None),  # tried again by a resumed run
)

# Where an appliance picks up, by the furthest non-final state the journal recorded for it.
PHASE_OF: dict[Outcome, Phase] = {
    spec.state: spec.resume_at for spec in PROCEDURE if spec.resume_at is not None
}
# States written ahead of a request that changes the appliance: synced before it is sent.
ANNOUNCING = frozenset(spec.state for spec in PROCEDURE if spec.announces)
# Outcomes a resumed run keeps; the other final ones are tried again.
KEPT_ON_RESUME = frozenset(spec.state for spec in PROCEDURE if spec.kept_on_resume)
# The timeline step each state begins (a URL or cloud download is part of the job).
STEP_OF: dict[Outcome, str] = {spec.state: spec.begins for spec in PROCEDURE if spec.begins}
# The steps of a timeline, in the order an appliance takes them.
TIMELINE_STEPS: tuple[str, ...] = tuple(STEP_OF.values())


def _check() -> None:
    """The table names every outcome once, and a state is final exactly when it has no phase."""
    states = [spec.state for spec in PROCEDURE]
    if sorted(states) != sorted(Outcome) or len(set(states)) != len(states):
        raise AssertionError("PROCEDURE must name every Outcome exactly once")
    for spec in PROCEDURE:
        if (spec.resume_at is None) != (spec.state in FINAL_OUTCOMES):
            raise AssertionError(f"{spec.state}: a phase exactly when it is not final")


_check()
