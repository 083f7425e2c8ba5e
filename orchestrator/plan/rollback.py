"""The PURE rollback planner: a finished run + what each appliance reports now -> a rollback Plan.

A rollback restarts an appliance into its previous firmware (`POST
/extrahop/firmware/previous/rollback`), which resets its datastore and removes all metrics.
Only appliances the run changed (done, with the version they ran before) are planned; an
appliance whose previous firmware is not that version is refused (a rollback would not restore
it), one already back on it is skipped. The waves run in the reverse of the vendor's order
(Trace, Explore data, Explore managers, Discover, Command), each Explore cluster inside its
ingest bracket, as an upgrade's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.models import Facts, same_version
from orchestrator.plan.build import build_wave, ingest_brackets
from orchestrator.plan.model import (
    ROLLBACK_ORDER,
    Action,
    Estimate,
    Plan,
    PlanModel,
    PlannedAppliance,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    from orchestrator.core.config import Settings

__all__ = ["DATASTORE_WARNING", "Observed", "build_rollback_plan"]

# The vendor's words (rollback_firmware README; REST API: firmware/previous/rollback).
DATASTORE_WARNING = (
    "Rolling back the firmware on an appliance resets the datastore and removes all metrics. "
    "Connected appliances are unaffected."
)


class Observed(PlanModel):
    """What one appliance reports before its rollback; `error` if it could not be read."""

    name: str
    version: str | None = None  # GET /extrahop
    previous: str | None = None  # GET /extrahop/firmware/previous (None: it has none)
    ingest_enabled: bool | None = None  # Explore only
    error: str | None = None


def build_rollback_plan(
    source: Plan,
    run_id: str,
    changed: Mapping[str, str],
    observed: Mapping[str, Observed],
    settings: Settings,
    *,
    now: dt.datetime,
) -> Plan:
    """Plan the rollback of `changed` (name -> version before the run) from run `run_id`."""
    lines = [
        _line(line, run_id, changed[line.name], observed.get(line.name), settings)
        for line in source.appliances()
        if line.name in changed and line.wave is not None
    ]
    facts = {
        name: Facts(name=name, version=seen.version, ingest_enabled=seen.ingest_enabled)
        for name, seen in observed.items()
        if seen.error is None
    }
    brackets = ingest_brackets(lines, facts, frozenset(), settings.ingest_found_off or "keep")
    waves = [build_wave(kind, lines, settings) for kind in ROLLBACK_ORDER]
    return Plan(
        kind="rollback",
        rolls_back=run_id,
        created_at=now,
        inventory_source=source.inventory_source,
        inventory_sha256=source.inventory_sha256,
        concurrency=settings.concurrency,
        window_end=settings.window_end,
        waves=tuple(w for w in waves if w.appliances),
        ingest=brackets,
        warnings=(DATASTORE_WARNING,),
        estimate=sum(wave.estimate for wave in waves),
    )


def _line(
    line: PlannedAppliance,
    run_id: str,
    before: str,
    seen: Observed | None,
    settings: Settings,
) -> PlannedAppliance:
    """One appliance's rollback: from what it runs now back to the version before the run."""
    current = seen.version if seen is not None else None
    planned = line.model_copy(
        update={
            "current_version": current,
            "target_version": before,
            "action": Action.ROLLBACK,
            "image": None,
            "reason": None,
            "fits_window": True,
            "estimate": Estimate(reboot=settings.reboot_duration),
        }
    )
    refusal = _refusal(run_id, before, seen)
    if refusal is not None:
        return planned.model_copy(update={"action": Action.REFUSED, "reason": refusal})
    if same_version(current, before):
        reason = f"already back on {before}"
        return planned.model_copy(update={"action": Action.SKIP, "reason": reason})
    return planned


def _refusal(run_id: str, before: str, seen: Observed | None) -> str | None:
    """Why this appliance must not be rolled back, from what it reports (None: go ahead)."""
    if seen is None or seen.error is not None:
        why = seen.error if seen is not None else "not read"
        return f"could not be read ({why}); nothing was changed on it"
    if same_version(seen.version, before):
        return None  # already back: skipped
    if seen.previous is None:
        return "it reports no previous firmware to roll back to"
    if not same_version(seen.previous, before):
        return (
            f"its previous firmware is {seen.previous}, not {before} (the version run "
            f"{run_id[:8]} upgraded it from): a rollback would not restore the run's change"
        )
    return None
