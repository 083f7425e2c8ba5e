"""The state database read without changing it: runs, their lock, and what blocks a new run.

`status`, `watch` and planning only read (`Journal.open_readonly`): they never create a
database or a table. `preflight` is apply's early check, before it plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.core.errors import StateError
from orchestrator.core.statehome import db_flag
from orchestrator.journal import Journal, lock

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.core.config import Settings
    from orchestrator.core.models import RunReport
    from orchestrator.journal import RunRecord

_RUNNING = frozenset({"apply", "resume"})  # lock holders that are executing a run

__all__ = [
    "LockView",
    "RunState",
    "db_flag",
    "halted_clusters",
    "lifecycle",
    "lock_view",
    "preflight",
    "read_run",
    "refuse_new_run",
    "require_state_db",
]


_CLOSED_EXIT_CODE = 3  # an incomplete run that `restore-ingest` closed: never resumed


def lifecycle(record: RunRecord, *, going: bool) -> str:
    """`running`, `incomplete` (resume continues it), `closed`, `succeeded` or `failed`."""
    if going:
        return "running"
    if record.finished_at is None:
        return "incomplete"
    if record.exit_code == _CLOSED_EXIT_CODE:
        return "closed"  # restore-ingest closed it: plan afresh for what it left undone
    return "succeeded" if record.exit_code == 0 else "failed"


@dataclass(frozen=True)
class RunState:
    """One run as the state database shows it now."""

    record: RunRecord
    report: RunReport
    resumable: bool  # the newest unfinished run: `resume` continues it
    holder: str | None  # who holds the lock right now, if a live process does
    going: bool  # the process that started (or resumed) this run holds the lock now
    waiting_at: str | None = None  # going, and waiting at the gate before this

    @property
    def lifecycle(self) -> str:
        """`running`, `incomplete`, `closed`, `succeeded` or `failed`."""
        return lifecycle(self.record, going=self.going)


@dataclass(frozen=True)
class LockView:
    """Who holds the state database's lock now, as a live process."""

    holder: str | None  # described for people; None when no live process holds it
    running: bool  # an apply or a resume holds it: the newest unfinished run is going on


def lock_view(journal: Journal) -> LockView:
    """The live holder of the journal's lock, if any (a stale lock is nobody's)."""
    holder = journal.lock_holder()
    me = lock.LockHolder.me("status", "status")
    if holder is None or lock.stale_reason(holder, me) is not None:
        return LockView(holder=None, running=False)
    return LockView(holder=lock.describe(holder, me), running=holder.command in _RUNNING)


def require_state_db(settings: Settings) -> None:
    """StateError unless the state database exists (never create one by reading it)."""
    if not settings.state_db.exists():
        raise StateError(f"{settings.state_db}: no state database here; pass --state-db PATH")


def halted_clusters(state_db: Path) -> list[str]:
    """Clusters an unfinished run of this tool may have left with ingest disabled."""
    if not state_db.exists():
        return []
    journal = Journal.open_readonly(state_db)
    if journal is None:
        return []
    with journal:
        return sorted({cluster for cluster, _ in journal.halted_clusters(None)})


def read_run(state_db: Path, run: str | None = None) -> RunState | None:
    """Run `run` (an id or its first digits; the newest when None); None if there is none."""
    if not state_db.exists():
        return None
    journal = Journal.open_readonly(state_db)
    if journal is None:
        return None
    with journal:
        record = journal.find_run(run) if run else journal.last_run()
        if record is None:
            if run:
                raise StateError(f"{state_db}: no run {run}; `orchestrator status` lists the last")
            return None
        unfinished = journal.unfinished_run()
        resumable = unfinished is not None and unfinished.run_id == record.run_id
        live = lock_view(journal)
        gates = journal.gates(record.run_id)
        answered = tuple(gate for row in gates if (gate := row.record()) is not None)
        # The newest unfinished run, and an apply or resume holds the lock: it runs now.
        going = resumable and live.running
        waiting = [row.gate for row in gates if row.answer is None]
        return RunState(
            record=record,
            report=journal.report(record.run_id).model_copy(update={"gates": answered}),
            resumable=resumable,
            holder=live.holder,
            going=going,
            waiting_at=waiting[-1] if going and waiting else None,
        )


def preflight(settings: Settings) -> None:
    """Refuse a new run over a held lock, an interrupted run or a cluster left halted."""
    if not settings.state_db.exists():
        return
    with Journal.open(settings.state_db) as journal:
        journal.acquire_lock(command="apply (checking)")
        journal.release_lock()
        refuse_new_run(
            settings, journal.unfinished_run(), journal.halted_clusters(None), journal.last_run()
        )


def refuse_new_run(
    settings: Settings,
    unfinished: RunRecord | None,
    halted: list[tuple[str, str]],
    last: RunRecord | None = None,
) -> None:
    """StateError if the state database holds an interrupted run or a cluster left halted.

    The advice is complete commands: the state database, and the inventory of the run that
    left the state behind (the interrupted one, else the newest).
    """
    db = db_flag(settings.state_db)
    if unfinished is not None:
        inventory = unfinished.inventory_source
        raise StateError(
            f"{settings.state_db} holds an interrupted run (started "
            f"{unfinished.started_at:%Y-%m-%d %H:%M} UTC): `orchestrator resume{db}` continues "
            f"it, or `orchestrator restore-ingest {inventory}{db}` re-enables ingest and closes "
            "it"
        )
    if halted:
        clusters = ", ".join(sorted({cluster for cluster, _ in halted}))
        inventory = last.inventory_source if last is not None else "INVENTORY"
        raise StateError(
            f"ingest on cluster {clusters} was disabled by an earlier run and never re-enabled: "
            f"run `orchestrator restore-ingest {inventory}{db}` first"
        )
