"""What `rollback` does before the run: find what a run changed, read each appliance, plan.

The run and each appliance's state come from the state database; the inventory (URLs and
keys) from the run's origin, or `--inventory`. Each appliance the run changed is read
(version, previous firmware, its cluster's ingest) and the pure planner
(`orchestrator.plan.rollback`) decides. The rollback itself is a run like any other
(`workflow.running.execute`), so `watch`, `status`, `resume` and the report work for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.appliance.client import open_session
from orchestrator.core.errors import ApiError, ApplianceError, ConfigError, StateError, one_line
from orchestrator.core.models import Outcome, Role, same_version
from orchestrator.core.statehome import RunFolder
from orchestrator.journal.runs import require_state_db
from orchestrator.journal.store import Journal
from orchestrator.plan.rollback import Observed, build_rollback_plan
from orchestrator.workflow.planning import clients_for

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory
    from orchestrator.engine.ports import AppliancePort
    from orchestrator.journal.records import ApplianceRecord, RunRecord
    from orchestrator.plan import Plan

__all__ = ["RollbackSource", "changed_by", "find_source", "inventory_path", "plan_rollback"]

_NOT_FOUND = 404


@dataclasses.dataclass(frozen=True)
class RollbackSource:
    """The run to roll back: its record, its plan and each appliance's state in it."""

    record: RunRecord
    plan: Plan
    states: Mapping[str, ApplianceRecord]


def find_source(settings: Settings, run: str) -> RollbackSource:
    """The finished run `run` (an id or its first digits) from the state database."""
    from orchestrator.plan import Plan  # noqa: PLC0415 - the model, at runtime only here

    require_state_db(settings)
    journal = Journal.open_readonly(settings.state_db)
    if journal is None:
        raise StateError(f"{settings.state_db}: no run {run}; `orchestrator history` lists them")
    with journal:
        record = journal.find_run(run)
        if record is None:
            raise StateError(
                f"{settings.state_db}: no run {run}; `orchestrator history` lists them"
            )
        states = journal.appliance_states(record.run_id)
    try:
        plan = Plan.model_validate_json(record.plan_json)
    except ValueError:
        raise StateError(f"{settings.state_db}: the plan of run {run} cannot be read") from None
    short = record.run_id[:8]
    if record.finished_at is None:
        raise StateError(
            f"run {short} has not finished: `orchestrator resume` (or wait for it), then roll back"
        )
    if plan.kind == "rollback":
        raise ConfigError(f"run {short} is itself a rollback; a rollback cannot be rolled back")
    return RollbackSource(record, plan, states)


def changed_by(source: RollbackSource, only: Collection[str] = ()) -> dict[str, str]:
    """Appliance -> the version it ran before the run, for those the run changed (or `only`)."""
    changed = {
        name: state.version_before
        for name, state in source.states.items()
        if state.state is Outcome.DONE
        and state.version_before is not None
        and not same_version(state.version_before, state.version_after)
    }
    short = source.record.run_id[:8]
    for name in only:
        state = source.states.get(name)
        if state is None:
            raise ConfigError(f"--appliance {name}: run {short} has no appliance {name}")
        if name not in changed:
            raise ConfigError(
                f"--appliance {name}: run {short} did not change it (it ended {state.state}); "
                "nothing to roll back"
            )
    return {name: before for name, before in changed.items() if not only or name in only}


def inventory_path(source: RollbackSource, settings: Settings) -> Path:
    """The run's inventory: as its report names it (absolute), else as the journal does."""
    report = RunFolder.of(settings.state_db, source.record.run_id).report
    try:
        origin = json.loads(report.read_text(encoding="utf-8")).get("origin") or {}
    except (OSError, ValueError):
        origin = {}
    named = origin.get("inventory") if isinstance(origin, dict) else None
    return Path(named if isinstance(named, str) else source.record.inventory_source)


async def plan_rollback(
    source: RollbackSource,
    changed: Mapping[str, str],
    inventory: Inventory,
    settings: Settings,
) -> Plan:
    """Read every appliance to roll back, then plan the rollback (pure)."""
    names = {a.name for a in inventory.appliances}
    missing = sorted(set(changed) - names)
    if missing:
        raise ConfigError(
            f"{inventory.source}: no appliance {', '.join(missing)}; give the inventory run "
            f"{source.record.run_id[:8]} used with --inventory"
        )
    async with open_session(settings, idle=0) as session:
        client_for = clients_for(session, inventory, settings)
        roles = {line.name: line.role for line in source.plan.appliances()}
        seen = await asyncio.gather(
            *(_observe(client_for(name), roles.get(name)) for name in changed)
        )
    plan = build_rollback_plan(
        source.plan,
        source.record.run_id,
        changed,
        {o.name: o for o in seen},
        settings,
        now=dt.datetime.now(dt.UTC),
    )
    return plan.model_copy(
        update={"inventory_source": inventory.source, "inventory_sha256": inventory.sha256}
    )


async def _observe(client: AppliancePort, role: Role | None) -> Observed:
    """Version, previous firmware and (Explore) ingest of one appliance; read-only."""
    try:
        info = await client.get_info()
        previous = await _previous(client)
        ingest = (await client.get_cluster()).ingest_enabled if role is Role.EXPLORE else None
    except ApplianceError as exc:
        return Observed(name=client.name, error=one_line(exc))
    return Observed(
        name=client.name, version=info.version, previous=previous, ingest_enabled=ingest
    )


async def _previous(client: AppliancePort) -> str | None:
    """The version a rollback would restore; None when the appliance has no previous (404)."""
    try:
        return (await client.get_previous()).version
    except ApiError as exc:
        if exc.status == _NOT_FOUND:
            return None
        raise
