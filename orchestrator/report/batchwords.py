"""The plan's batches and gates in words, shared by every form of the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.plan import Plan, Wave

__all__ = ["LISTED", "batch_lines", "gate_text", "listed_names"]

LISTED = 3  # up to this many appliances are named; more read `first … last (count)`


def gate_text(plan: Plan) -> str:
    """Where the run waits for a person: `pause after each stage`, or no gates."""
    if plan.pause_after is None and plan.schedule == "graph":
        return "no gates: a stage's batch starts when the batch before it ends without failure"
    if plan.pause_after is None:
        return "no gates: each stage starts when the one before ends without failure"
    return (
        f"pause after each {plan.pause_after}: the run waits for "
        "`orchestrator continue RUN` (or an answer at its prompt)"
    )


def batch_lines(plan: Plan) -> list[str]:
    """The sizes, the gates, then each stage's batches (none when the plan has neither)."""
    if plan.batch_sizes is None and plan.pause_after is None:
        return []
    sizes = plan.batch_sizes or "one batch per stage"
    lines = [f"batches: {sizes}; {gate_text(plan)}"]
    lines += [_wave_line(wave) for wave in plan.waves if wave.batch_names()]
    return lines


def _wave_line(wave: Wave) -> str:
    batches = wave.batch_names()
    count = f"{len(batches)} {'batch' if len(batches) == 1 else 'batches'}"
    return f"{wave.kind}: {count}: " + "; ".join(listed_names(batch) for batch in batches)


def listed_names(names: Sequence[str]) -> str:
    """`eda1, eda2`, or `eda1 … eda40 (40)` for more than LISTED appliances."""
    if len(names) <= LISTED:
        return ", ".join(names)
    return f"{names[0]} … {names[-1]} ({len(names)})"
