"""The plan's schedule in words: graph or waves, and what each stage waits for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.report.batchwords import LISTED, listed_names

if TYPE_CHECKING:
    from orchestrator.plan import Plan
    from orchestrator.plan.model import Stage

__all__ = ["schedule_lines", "waits_text"]


def schedule_lines(plan: Plan) -> list[str]:
    """How the run orders the work, then each stage and what it waits for (graph plans)."""
    slots = f"at most {plan.concurrency} at a time"
    if plan.schedule == "waves":
        why = " (gates stop the run between stages)" if plan.pause_after else ""
        return [f"waves: each stage starts when the whole stage before it has ended{why}; {slots}"]
    head = (
        "graph: each appliance starts as soon as what it waits for has ended done or skipped "
        f"and a slot is free ({slots}); a node of a cluster whose ingest is off goes first, "
        "then the longest chain of work"
    )
    head += _CLUSTER_STARTS.get(plan.cluster_starts, "").format(slots=plan.concurrency)
    if plan.clusters_at_once is not None:
        count = plan.clusters_at_once
        clusters = "cluster" if count == 1 else "clusters"
        head += f"; at most {count} Explore {clusters} in progress at once (ingest off)"
    owner = {name: stage for stage in plan.stages for name in stage.members}
    stages = {stage.name: stage for stage in plan.stages}
    return [
        head,
        *(
            f"{s.name}: {_members(s)}; waits for {waits_text(s, owner, stages)}"
            for s in plan.stages
        ),
    ]


def waits_text(stage: Stage, owner: dict[str, Stage], stages: dict[str, Stage]) -> str:
    """`command (eca1), discover (eda1, eda2)`, `explore exa managers (all 5)`, or `nothing`.

    `owner`: the stage of each appliance; `stages`: every stage by name.
    """
    if not stage.after and not stage.after_stages:
        return "nothing"
    parts = [_whole(stages[name]) for name in stage.after_stages if name in stages]
    grouped: dict[str, list[str]] = {}
    for name in stage.after:
        whose = owner.get(name)
        grouped.setdefault(whose.name if whose else "?", []).append(name)
    parts += [f"{label} ({listed_names(names)})" for label, names in grouped.items()]
    text = ", ".join(parts)
    if not stage.connections_known and stage.kind in _CONNECTED:
        text += " (connections not known: every Discover appliance)"
    return text


def _whole(stage: Stage) -> str:
    count = len(stage.members)
    return (
        f"{stage.name} ({listed_names(stage.members)})"
        if count <= LISTED
        else (f"{stage.name} (all {count})")
    )


# When an Explore cluster starts, as the plan chose it (plan.fitting): "ready" says nothing.
_CLUSTER_STARTS = {
    "fit": (
        "; an Explore cluster starts only while its nodes and those of the clusters still "
        "starting fit the {slots} slots, and the slots its next nodes need are kept for them, "
        "so its ingest is off for its own nodes only"
    ),
    "fit-or-idle": (
        "; an Explore cluster starts only while its nodes and those of the clusters still "
        "starting fit the {slots} slots, or when a slot would otherwise stay idle"
    ),
}
_CONNECTED = {"explore-managers", "trace"}  # stages that wait for connected Discover appliances


def _members(stage: Stage) -> str:
    count = len(stage.members)
    return f"{count} {'appliance' if count == 1 else 'appliances'} ({listed_names(stage.members)})"
