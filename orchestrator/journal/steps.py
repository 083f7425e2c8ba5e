"""Each appliance's steps (upload, job, reboot, verify) with their times, from the journal's events.

A step begins with the state that `core.procedure.STEP_OF` maps to it and ends with the next
state journalled for the appliance: `done` when the procedure went on, `failed` when the
appliance failed in it, `interrupted` when the run stopped in it (cancelled, or a resumed run
took the appliance up from an earlier state), `open` when nothing was journalled after it (the
run is going on, or was killed there). The job's state is journalled twice (before the request,
then with the job's id, and again when a resumed run re-attaches to it by id): one job, one step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from orchestrator.core.models import FINAL_OUTCOMES, Outcome, StepSpan
from orchestrator.core.procedure import STEP_OF

if TYPE_CHECKING:
    from collections.abc import Iterable

    from orchestrator.journal import JournalEvent

__all__ = ["step_spans"]

StepResult = Literal["done", "failed", "interrupted", "open"]


def step_spans(events: Iterable[JournalEvent]) -> dict[str, tuple[StepSpan, ...]]:
    """Appliance -> the steps it took, in order, from the run's events (in journal order)."""
    spans: dict[str, list[StepSpan]] = {}
    for event in events:
        steps = spans.setdefault(event.appliance, [])
        open_step = steps[-1] if steps and steps[-1].result == "open" else None
        step = STEP_OF.get(event.state)
        if open_step is not None and step == open_step.step and event.job_id is not None:
            continue  # the job's id recorded (or re-attached by it): the same job goes on
        if open_step is not None:
            steps[-1] = open_step.model_copy(
                update={"finished_at": event.ts, "result": _ended_by(event.state)}
            )
        if step is not None:
            steps.append(StepSpan(step=step, started_at=event.ts, result="open"))
    return {name: tuple(steps) for name, steps in spans.items() if steps}


def _ended_by(state: Outcome) -> StepResult:
    """How a step ended, by the state journalled after it."""
    if state is Outcome.FAILED:
        return "failed"
    if state in FINAL_OUTCOMES - {Outcome.DONE} or state in {Outcome.PENDING, Outcome.PRECHECKED}:
        return "interrupted"  # cancelled, or a resumed run started the appliance over
    return "done"
