"""The gate before a fleet is changed: what will happen, said plainly, then a real yes.

Before asking, `apply` says what it will do: the plan's summary (how many to upgrade, already
current or refused, the estimate, the window), the clusters whose ingest it halts, anything
found already disabled, the batches and the gates. With
`--yes` it still says it (the scrollback keeps what was approved). A fleet of more than
`TYPED_ABOVE` appliances is confirmed by typing how many; a smaller one by `y`. Nothing to
do is said, and nothing is asked.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from orchestrator.plan import ingest_warnings
from orchestrator.report import planview
from orchestrator.report.batchwords import batch_lines

if TYPE_CHECKING:
    from orchestrator.cli.screen import Screen
    from orchestrator.plan import Plan
    from orchestrator.plan.model import IngestBracket

__all__ = ["TYPED_ABOVE", "Verdict", "confirm", "summary_lines"]

TYPED_ABOVE = 10  # above this many appliances to change, the count is typed, not `y`
_CLUSTERS_NAMED = 10  # up to this many halted clusters are named; more are counted


class Verdict(enum.Enum):
    """What the gate decided."""

    GO = "go"  # confirmed (or --yes)
    NOTHING = "nothing"  # nothing to change: no question asked
    DECLINED = "declined"  # the operator said no
    UNATTENDED = "unattended"  # no terminal to ask on, and no --yes


def summary_lines(plan: Plan) -> list[str]:
    """What apply will do, in a few lines: the plan's own summary, then the ingest it halts."""
    summary = [planview.summary_line(plan)]
    halted = [b for b in plan.ingest if b.halt]
    if halted:
        summary.append(f"Explore ingest halted while upgrading: {_halted_words(plan, halted)}")
    summary += [f"note: {warning}" for warning in ingest_warnings(plan.ingest)]
    summary += batch_lines(plan)[:1]  # the sizes and the gates; the plan above lists the batches
    return summary


def _halted_words(plan: Plan, halted: list[IngestBracket]) -> str:
    """`exa (6 nodes)`, or `400 clusters (2000 nodes): exa0 … exa399`; and how many at once."""
    if len(halted) <= _CLUSTERS_NAMED:
        text = ", ".join(f"{b.cluster} ({len(b.members)} nodes)" for b in halted)
    else:
        nodes = sum(len(b.members) for b in halted)
        text = f"{len(halted)} clusters ({nodes} nodes): {halted[0].cluster} … {halted[-1].cluster}"
    if plan.clusters_at_once is not None:
        text += f"; at most {plan.clusters_at_once} at a time"
    return text


def confirm(screen: Screen, plan: Plan, *, yes: bool) -> Verdict:
    """Say what will happen, then ask (or take --yes)."""
    count = sum(1 for line in plan.appliances() if line.actionable)
    if count == 0:
        screen.say("no changes: every appliance is already at its target", event="plan.no_changes")
        return Verdict.NOTHING
    for index, line in enumerate(summary_lines(plan)):
        screen.say(line, event="plan.summary", style=None if index else "bold")
    if yes:
        return Verdict.GO
    if not screen.can_ask:
        screen.voice.error(
            "no terminal to confirm on; review with `orchestrator plan`, then run apply with --yes",
            event="prompt.refused",
        )
        return Verdict.UNATTENDED
    if count > TYPED_ABOVE:
        answer = screen.ask_text(f"Type {count} to upgrade these {count} appliances: ")
        agreed = answer.strip() == str(count)
    else:
        noun = "appliance" if count == 1 else "appliances"
        answer = screen.ask_text(f"Upgrade {count} {noun} as planned? [y/N] ")
        agreed = answer.strip().lower() in {"y", "yes"}
    if agreed:
        return Verdict.GO
    screen.say("declined: nothing was changed", event="prompt.declined")
    return Verdict.DECLINED
