"""The runs of a state database, newest first, one summary each (`orchestrator history`).

Read-only, like `status`: never creates a database or a table. Each summary costs a few
indexed queries, not the run's whole journal, so a long history lists quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.journal import Journal
from orchestrator.journal.runs import lifecycle, lock_view

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from orchestrator.core.models import Outcome
    from orchestrator.journal import RunRecord

__all__ = ["History", "RunSummary", "list_runs"]


@dataclass(frozen=True)
class RunSummary:
    """One run in a line: when, from which inventory, how it ended, what it left."""

    record: RunRecord
    lifecycle: str  # running, incomplete, closed, succeeded, failed
    counts: dict[Outcome, int]  # appliances per state now
    last_activity: dt.datetime | None  # the last thing journalled
    ingest_left_disabled: tuple[str, ...]  # clusters the run halted and did not re-enable

    @property
    def ended_at(self) -> dt.datetime | None:
        """When the run ended, or (not finished) when it last journalled anything."""
        return self.record.finished_at or self.last_activity


@dataclass(frozen=True)
class History:
    """The newest runs and how many there are in all."""

    runs: tuple[RunSummary, ...]
    total: int


def list_runs(state_db: Path, limit: int) -> History:
    """The newest `limit` runs of `state_db`, newest first (none if it holds nothing yet)."""
    if not state_db.exists():
        return History(runs=(), total=0)
    journal = Journal.open_readonly(state_db)
    if journal is None:
        return History(runs=(), total=0)
    with journal:
        records, total = journal.runs(limit)
        unfinished = journal.unfinished_run()
        running = lock_view(journal).running
        # Halted by this run and by no later record re-enabled (restore-ingest, another run).
        halted_now = {cluster for cluster, _ in journal.halted_clusters(None)}
        summaries = tuple(
            _summary(
                journal,
                record,
                going=running and unfinished is not None and unfinished.run_id == record.run_id,
                halted_now=halted_now,
            )
            for record in records
        )
    return History(runs=summaries, total=total)


def _summary(
    journal: Journal, record: RunRecord, *, going: bool, halted_now: set[str]
) -> RunSummary:
    halted = journal.halted_clusters(record.run_id)
    return RunSummary(
        record=record,
        lifecycle=lifecycle(record, going=going),
        counts=journal.state_counts(record.run_id),
        last_activity=journal.last_activity(record.run_id),
        ingest_left_disabled=tuple(c for c, _ in halted if c in halted_now),
    )
