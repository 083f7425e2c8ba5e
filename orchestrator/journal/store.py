"""Durable run state in SQLite, so `resume`, `status` and `restore-ingest` work after any crash.

Every write is one small transaction (AsyncJournal puts concurrent state changes in one),
committed (WAL) before the method returns: the runner records a step before it sends the
request that step announces. A state that announces a change
to an appliance (`uploading`, `upgrading`), an ingest action and a run's start and end are
synced to disk (synchronous=FULL) before the method returns. The other states only observe
(`prechecked`, `rebooting`, `done`...): they are committed with synchronous=NORMAL, which
survives any crash of the process and is synced by the next FULL commit, but could be lost to
a power cut, after which `resume` merely observes again. This saves an fsync per observation.

The file itself (schema, identification, pragmas) is `orchestrator.journal.statedb`'s.

Timestamps are ISO 8601 UTC text; "newest" always means the highest seq, never clock order.
The journal stores only the strings it is given, never an object's repr: no API key reaches it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import uuid
from typing import TYPE_CHECKING, Literal, Self

from orchestrator.core.errors import StateError
from orchestrator.core.models import (
    IngestAction,
    IngestVerb,
    Outcome,
    RunReport,
)
from orchestrator.journal import lock
from orchestrator.journal.statedb import connect, connect_readonly, transaction
from orchestrator.journal.steps import step_spans
from orchestrator.journal.view import EventTally, build_report, tally

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path
    from types import TracebackType

    from orchestrator.core.models import StepSpan

from orchestrator.journal.gates import GateRow, read_gates
from orchestrator.journal.records import (
    _ANNOUNCING_VALUES,
    _APPLIANCE_COLUMNS,
    _EVENT_COLUMNS,
    _HALTED,
    _INSERT_EVENT,
    _RUN_COLUMNS,
    _UPSERT,
    ApplianceRecord,
    JournalEvent,
    RunRecord,
    StateChange,
    _now,
    _require_text,
    _run_record,
    _state_row,
    new_run_id,
)


class Journal:
    """The state database of runs: a write-ahead record of every state change."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self._conn = conn
        self._path = path
        self._readonly = readonly
        self._mutex = threading.RLock()  # one connection, possibly used from several threads
        self._token = uuid.uuid4().hex  # this Journal's identity in the lock row
        self._synchronous = "FULL"  # as _prepare left the connection

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Open (creating if absent) the state database at `path`; StateError if unusable."""
        return cls(connect(path), path)

    @classmethod
    def open_readonly(cls, path: Path) -> Journal | None:
        """Open the state database at `path` to read it; None if it holds nothing yet.

        Never creates or changes anything (`status`, `watch`); StateError if unusable.
        """
        conn = connect_readonly(path)
        return None if conn is None else cls(conn, path, readonly=True)

    @property
    def path(self) -> Path:
        """Where the state database lives."""
        return self._path

    def close(self) -> None:
        """Release the lock if this Journal holds it, and close the database."""
        with self._mutex:
            if not self._readonly:
                with contextlib.suppress(StateError):  # already closed, or the disk is gone
                    self.release_lock()
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _use(self, mode: str, *, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction on the connection; SQLite errors become one-line StateErrors.

        `synced=False` commits without an fsync (synchronous=NORMAL; see the module docstring).
        """
        with self._mutex:
            try:
                self._set_synchronous("FULL" if synced else "NORMAL")
                with transaction(self._conn, mode):
                    yield self._conn
            except sqlite3.Error as exc:
                raise StateError(f"state database {self._path}: {exc}") from exc

    def _set_synchronous(self, level: Literal["FULL", "NORMAL"]) -> None:
        if level != self._synchronous:
            self._conn.execute(f"PRAGMA synchronous = {level}")
            self._synchronous = level

    def acquire_lock(self, *, command: str) -> None:
        """Take the run lock, taking over a stale one; LockedError if a live run holds it."""
        me = lock.LockHolder.me(command, self._token)
        with self._use("IMMEDIATE") as conn:
            lock.take(conn, self._path, me)

    def lock_holder(self) -> lock.LockHolder | None:
        """Who holds the run lock now, if anyone."""
        with self._use("DEFERRED") as conn:
            return lock.read_holder(conn)

    def release_lock_for_user(self, holder: lock.LockHolder) -> bool:
        """Drop `holder`'s lock (`orchestrator unlock`).

        False if it was already gone; LockedError if another run holds it now.
        """
        with self._use("IMMEDIATE") as conn:
            return lock.release_for_user(conn, self._path, holder)

    def release_lock(self) -> None:
        """Give the run lock back if this Journal holds it."""
        with self._use("IMMEDIATE") as conn:
            lock.release(conn, self._token)

    def start_run(
        self,
        *,
        plan_json: str,
        inventory_source: str,
        inventory_sha256: str,
        settings_json: str,
        run_id: str | None = None,
    ) -> str:
        """Record a new run and return its id (`run_id` if given, else a new uuid4 hex)."""
        _require_text(plan_json=plan_json, settings_json=settings_json, source=inventory_source)
        run_id = run_id or new_run_id()
        with self._use("IMMEDIATE") as conn:
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    run_id,
                    _now(),
                    plan_json,
                    inventory_source,
                    inventory_sha256,
                    settings_json,
                    os.getpid(),
                ),
            )
        return run_id

    def record_state(
        self,
        run_id: str,
        appliance: str,
        state: Outcome,
        *,
        job_id: str | None = None,
        error: str | None = None,
        version: str | None = None,
        step: str | None = None,
    ) -> None:
        """Set the appliance's current state and append the event, in one committed transaction.

        Synced to disk before returning when `state` announces a change (ANNOUNCING).
        """
        change = StateChange(run_id, appliance, state, job_id, error, version, step)
        self.record_states([change])

    def record_states(self, changes: Iterable[StateChange]) -> None:
        """Record every change, in order, in one committed transaction.

        Synced to disk before returning when any of them announces a change (ANNOUNCING).
        """
        rows = [_state_row(change) for change in changes]
        synced = any(row["state"] in _ANNOUNCING_VALUES for row in rows)
        with self._use("IMMEDIATE", synced=synced) as conn:
            conn.executemany(_UPSERT, rows)
            conn.executemany(_INSERT_EVENT, rows)

    def record_states_bulk(self, run_id: str, appliances: Iterable[str], state: Outcome) -> None:
        """record_state(run_id, name, state) for every name, in one committed transaction."""
        self.record_states(StateChange(run_id, name, state) for name in appliances)

    def record_ingest(
        self, run_id: str, cluster: str, via: str, action: str, error: str | None = None
    ) -> None:
        """Append what the run did to one cluster's ingest."""
        try:
            verb = IngestVerb(action)
        except ValueError:
            raise ValueError(f"unknown ingest action {action!r}") from None
        _require_text(cluster=cluster, via=via, error=error)
        with self._use("IMMEDIATE") as conn:
            conn.execute(
                "INSERT INTO ingest (run_id, ts, cluster, via, action, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, _now(), cluster, via, verb.value, error),
            )

    def finish_run(self, run_id: str, *, exit_code: int) -> None:
        """Mark the run finished with its exit code."""
        with self._use("IMMEDIATE") as conn:
            cursor = conn.execute(
                "UPDATE runs SET finished_at = ?, exit_code = ? WHERE run_id = ?",
                (_now(), exit_code, run_id),
            )
            if cursor.rowcount == 0:
                raise StateError(f"state database {self._path} has no run {run_id}")

    def _run(self, where: str, params: tuple[str, ...] = ()) -> RunRecord | None:
        query = f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY seq DESC LIMIT 1"  # noqa: S608
        with self._use("DEFERRED") as conn:
            return _run_record(conn.execute(query, params).fetchone())

    def find_run(self, prefix: str) -> RunRecord | None:
        """The run whose id starts with `prefix` (None: no such run); StateError if several do."""
        if not prefix or any(c not in "0123456789abcdef" for c in prefix.lower()):
            return None
        query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id LIKE ? ORDER BY seq DESC LIMIT 2"  # noqa: S608
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (prefix.lower() + "%",)).fetchall()
        if len(rows) > 1:
            raise StateError(f"run {prefix} is ambiguous in {self._path}; give more of its id")
        return _run_record(rows[0]) if rows else None

    def last_run(self) -> RunRecord | None:
        """The newest run."""
        return self._run("")

    def runs(self, limit: int) -> tuple[list[RunRecord], int]:
        """The newest `limit` runs, newest first, and how many runs there are in all."""
        query = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY seq DESC LIMIT ?"  # noqa: S608
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (limit,)).fetchall()
            (total,) = conn.execute("SELECT COUNT(*) FROM runs").fetchone()
        return [record for row in rows if (record := _run_record(row)) is not None], total

    def state_counts(self, run_id: str) -> dict[Outcome, int]:
        """How many appliances of the run are in each state now."""
        query = "SELECT state, COUNT(*) FROM appliances WHERE run_id = ? GROUP BY state"
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        return {Outcome(state): count for state, count in rows}

    def last_activity(self, run_id: str) -> dt.datetime | None:
        """When the run last journalled anything (a state change or an ingest action)."""
        query = (
            "SELECT MAX(ts) FROM (SELECT MAX(ts) AS ts FROM events WHERE run_id = :run "
            "UNION ALL SELECT MAX(ts) FROM ingest WHERE run_id = :run)"
        )
        with self._use("DEFERRED") as conn:
            (last,) = conn.execute(query, {"run": run_id}).fetchone()
        return dt.datetime.fromisoformat(last) if last else None

    def unfinished_run(self) -> RunRecord | None:
        """The newest run that never finished: what `resume` continues."""
        return self._run("WHERE finished_at IS NULL")

    def appliance_states(self, run_id: str) -> dict[str, ApplianceRecord]:
        """Each appliance's current state in the run, in the order they were first recorded."""
        query = f"SELECT {_APPLIANCE_COLUMNS} FROM appliances WHERE run_id = ? ORDER BY rowid"  # noqa: S608
        names = _APPLIANCE_COLUMNS.split(", ")
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        records = (
            ApplianceRecord.model_validate(dict(zip(names, row, strict=True))) for row in rows
        )
        return {record.appliance: record for record in records}

    def halted_clusters(self, run_id: str | None = None) -> list[tuple[str, str]]:
        """(cluster, via) of each cluster the tool halted and never restored (in one run or any)."""
        with self._use("DEFERRED") as conn:
            rows = conn.execute(_HALTED, {"run_id": run_id}).fetchall()
        return [(cluster, via) for cluster, via in rows]

    def last_ingest(self, run_id: str) -> dict[str, IngestVerb]:
        """Each cluster's last ingest action in the run (left off aside)."""
        query = (
            "SELECT cluster, action FROM ingest WHERE seq IN (SELECT MAX(seq) FROM ingest "
            "WHERE run_id = ? AND action != 'left_off' GROUP BY cluster)"
        )
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        return {cluster: IngestVerb(action) for cluster, action in rows}

    def events(self, run_id: str) -> list[JournalEvent]:
        """Every state change of the run, in the order it was written."""
        with self._use("DEFERRED") as conn:
            return list(_events(conn, run_id))

    def tally(self, run_id: str) -> EventTally:
        """What a report needs of the run's events (spans, steps), read without keeping them."""
        with self._use("DEFERRED") as conn:
            return tally(_events(conn, run_id))

    def steps(self, run_id: str) -> Mapping[str, tuple[StepSpan, ...]]:
        """Each appliance's steps and their times, read as the run's events stream past."""
        with self._use("DEFERRED") as conn:
            return step_spans(_events(conn, run_id))

    def _ingest_actions(self, run_id: str) -> tuple[IngestAction, ...]:
        query = "SELECT cluster, via, action, ts, error FROM ingest WHERE run_id = ? ORDER BY seq"
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        names = ("cluster", "via", "action", "at", "error")
        return tuple(
            IngestAction.model_validate(dict(zip(names, row, strict=True))) for row in rows
        )

    def gates(self, run_id: str) -> list[GateRow]:
        """Every gate the run opened, answered or still waiting (none without gates)."""
        with self._use("DEFERRED") as conn:
            return read_gates(conn, run_id)

    def report(self, run_id: str) -> RunReport:
        """The run as a RunReport: one ApplianceResult per recorded appliance, in plan order."""
        with self._mutex:  # one consistent view, even with writers in other threads
            run = self._run("WHERE run_id = ?", (run_id,))
            if run is None:
                raise StateError(f"state database {self._path} has no run {run_id}")
            states, events = self.appliance_states(run_id), self.tally(run_id)
            ingest = self._ingest_actions(run_id)
        return build_report(run, states, events, ingest)


def _events(conn: sqlite3.Connection, run_id: str) -> Iterator[JournalEvent]:
    """The run's state changes in the order they were written, read as they are used."""
    query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq"  # noqa: S608
    names = _EVENT_COLUMNS.split(", ")
    for row in conn.execute(query, (run_id,)):
        yield JournalEvent.model_validate(dict(zip(names, row, strict=True)))
