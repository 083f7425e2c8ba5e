"""Durable run state in SQLite: the journal, its lock, and read-only views of runs."""

from __future__ import annotations

from orchestrator.journal.records import (
    ApplianceRecord,
    JournalEvent,
    RunRecord,
    StateChange,
    new_run_id,
)
from orchestrator.journal.store import Journal

__all__ = [
    "ApplianceRecord",
    "Journal",
    "JournalEvent",
    "RunRecord",
    "StateChange",
    "new_run_id",
]
