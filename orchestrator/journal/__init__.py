"""Durable run state in SQLite: the journal, its lock, and read-only views of runs."""

from __future__ import annotations

from orchestrator.journal.store import (
    ApplianceRecord,
    Journal,
    JournalEvent,
    RunRecord,
    StateChange,
    new_run_id,
)

__all__ = [
    "ApplianceRecord",
    "Journal",
    "JournalEvent",
    "RunRecord",
    "StateChange",
    "new_run_id",
]
