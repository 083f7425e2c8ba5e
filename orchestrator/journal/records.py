"""The journal's rows: runs, appliance states and events, and the SQL that writes them.

Timestamps are ISO 8601 UTC text; only strings are ever stored, never an object's repr.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from orchestrator.core.models import (
    MAY_BE_HALTED,
    Frozen,
    Outcome,
)
from orchestrator.core.procedure import ANNOUNCING

_ANNOUNCING_VALUES = frozenset(state.value for state in ANNOUNCING)
_RUN_COLUMNS = (
    "run_id, started_at, finished_at, exit_code, plan_json, inventory_source, "
    "inventory_sha256, settings_json, pid"
)
_APPLIANCE_COLUMNS = (
    "appliance, state, job_id, error, version_before, version_after, updated_at, step"
)
_EVENT_COLUMNS = "ts, appliance, state, job_id, error, step"
_UPSERT = """
INSERT INTO appliances (run_id, appliance, state, job_id, error, version_before, step, updated_at)
VALUES (:run_id, :appliance, :state, :job_id, :error, :version, :step, :ts)
ON CONFLICT (run_id, appliance) DO UPDATE SET
    state = excluded.state,
    job_id = COALESCE(excluded.job_id, appliances.job_id),
    error = excluded.error,
    version_before = COALESCE(appliances.version_before, excluded.version_before),
    version_after = CASE WHEN appliances.version_before IS NULL THEN appliances.version_after
                    ELSE COALESCE(excluded.version_before, appliances.version_after) END,
    step = excluded.step,
    updated_at = excluded.updated_at
"""
_INSERT_EVENT = """
INSERT INTO events (run_id, ts, appliance, state, job_id, error, step)
VALUES (:run_id, :ts, :appliance, :state, :job_id, :error, :step)
"""
# The last halt/restore per cluster: "left_off" never hides an earlier halt by the tool.
# A halt requested but never acknowledged counts: the PATCH may have taken effect.
_HALTED = f"""
SELECT cluster, via FROM ingest WHERE seq IN (
    SELECT MAX(seq) FROM ingest WHERE action != 'left_off' AND (:run_id IS NULL OR run_id = :run_id)
    GROUP BY cluster)
AND action IN ({", ".join(f"'{verb.value}'" for verb in sorted(MAY_BE_HALTED))}) ORDER BY cluster
"""  # noqa: S608 - the verbs are this module's constants


class RunRecord(Frozen):
    """One run as started (and maybe finished)."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    exit_code: int | None
    plan_json: str
    inventory_source: str
    inventory_sha256: str
    settings_json: str
    pid: int  # the process that started the run

    @property
    def rolls_back(self) -> str | None:
        """The run this one undoes (`orchestrator rollback`); None for an upgrade."""
        try:
            plan = json.loads(self.plan_json)
        except ValueError:
            return None
        undone = plan.get("rolls_back") if isinstance(plan, dict) else None
        return undone if isinstance(undone, str) else None


class ApplianceRecord(Frozen):
    """An appliance's current state in one run."""

    appliance: str
    state: Outcome
    job_id: str | None  # kept once set, so resume can re-attach to the job
    error: str | None
    version_before: str | None  # the first version recorded in the run
    version_after: str | None  # the latest version recorded after that
    updated_at: dt.datetime
    step: str | None


class JournalEvent(Frozen):
    """One recorded state change, in the order it was written."""

    ts: dt.datetime
    appliance: str
    state: Outcome
    job_id: str | None
    error: str | None
    step: str | None


def new_run_id() -> str:
    """A fresh run id: 32 hex digits."""
    return uuid.uuid4().hex


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _require_text(**values: str | None) -> None:
    """Refuse anything but text, so no object's repr (and any key inside it) is ever stored."""
    for name, value in values.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be str or None, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class StateChange:
    """One appliance's new state in a run: what `Journal.record_state` writes."""

    run_id: str
    appliance: str
    state: Outcome
    job_id: str | None = None
    error: str | None = None
    version: str | None = None
    step: str | None = None


def _state_row(change: StateChange) -> dict[str, str | None]:
    """The parameters of _UPSERT and _INSERT_EVENT for one state change."""
    job_id, error, version, step = change.job_id, change.error, change.version, change.step
    _require_text(
        appliance=change.appliance, job_id=job_id, error=error, version=version, step=step
    )
    row: dict[str, str | None] = {"run_id": change.run_id, "appliance": change.appliance}
    row |= {"state": Outcome(change.state).value, "job_id": job_id, "error": error}
    return row | {"version": version, "step": step, "ts": _now()}


def _run_record(row: tuple[object, ...] | None) -> RunRecord | None:
    if row is None:
        return None
    fields = dict(zip(_RUN_COLUMNS.split(", "), row, strict=True))
    return RunRecord.model_validate(fields)
