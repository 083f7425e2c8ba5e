"""Durable run state in SQLite, so `resume`, `status` and `restore-ingest` work after any crash.

Every write is one small transaction, committed (WAL) before the method returns: the runner
records a step before it sends the request that step announces. A state that announces a change
to an appliance (`uploading`, `upgrading`), an ingest action and a run's start and end are
synced to disk (synchronous=FULL) before the method returns. The other states only observe
(`prechecked`, `rebooting`, `done`...): they are committed with synchronous=NORMAL, which
survives any crash of the process and is synced by the next FULL commit, but could be lost to
a power cut, after which `resume` merely observes again. This saves an fsync per observation.

Schema, identified by PRAGMA application_id = APPLICATION_ID and user_version = SCHEMA_VERSION:

    runs        seq PK, run_id UNIQUE, started_at, finished_at, exit_code, plan_json,
                inventory_source, inventory_sha256, settings_json, pid
    appliances  PK (run_id, appliance): state, job_id, error, version_before, version_after,
                step, updated_at                 -- each appliance's current state in a run
    events      seq PK, run_id, ts, appliance, state, job_id, error, step   -- append-only
    ingest      seq PK, run_id, ts, cluster, via, action, error             -- append-only
    lock        one row (id = 1): pid, hostname, boot_id, pid_start, command, started_at, token

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Self

from pydantic import ValidationError

from orchestrator import lock
from orchestrator.errors import StateError
from orchestrator.models import (
    FINAL_OUTCOMES,
    ApplianceResult,
    Frozen,
    IngestAction,
    Outcome,
    RunReport,
)
from orchestrator.plan import Plan, PlannedAppliance

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path
    from types import TracebackType

APPLICATION_ID = 0x4F524348  # "ORCH": marks a SQLite file as an orchestrator state database
SCHEMA_VERSION = 1
INCOMPLETE_EXIT_CODE = 3  # what report() says for a run that never finished
IngestVerb = Literal["halted", "restored", "left_off", "restore_failed"]
_INGEST_VERBS = frozenset({"halted", "restored", "left_off", "restore_failed"})
_BUSY_TIMEOUT_MS = 10_000
# States written ahead of a request that changes the appliance: synced before it is sent.
ANNOUNCING = frozenset({Outcome.UPLOADING, Outcome.UPGRADING})
_ANNOUNCING_VALUES = frozenset(state.value for state in ANNOUNCING)
_SCHEMA = (
    """CREATE TABLE runs (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, plan_json TEXT NOT NULL,
    inventory_source TEXT NOT NULL, inventory_sha256 TEXT NOT NULL,
    settings_json TEXT NOT NULL, pid INTEGER NOT NULL)""",
    """CREATE TABLE appliances (run_id TEXT NOT NULL REFERENCES runs (run_id),
    appliance TEXT NOT NULL, state TEXT NOT NULL, job_id TEXT, error TEXT,
    version_before TEXT, version_after TEXT, step TEXT, updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, appliance))""",
    """CREATE TABLE events (seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id), ts TEXT NOT NULL, appliance TEXT NOT NULL,
    state TEXT NOT NULL, job_id TEXT, error TEXT, step TEXT)""",
    "CREATE INDEX events_by_run ON events (run_id, seq)",
    """CREATE TABLE ingest (seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (run_id), ts TEXT NOT NULL, cluster TEXT NOT NULL,
    via TEXT NOT NULL, action TEXT NOT NULL, error TEXT)""",
    "CREATE INDEX ingest_by_cluster ON ingest (cluster, seq)",
    """CREATE TABLE lock (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL,
    hostname TEXT NOT NULL, boot_id TEXT, pid_start TEXT, command TEXT NOT NULL,
    started_at TEXT NOT NULL, token TEXT NOT NULL)""",
)
_TABLES = frozenset({"runs", "appliances", "events", "ingest", "lock"})
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
_HALTED = """
SELECT cluster, via FROM ingest WHERE seq IN (
    SELECT MAX(seq) FROM ingest WHERE action != 'left_off' AND (:run_id IS NULL OR run_id = :run_id)
    GROUP BY cluster)
AND action IN ('halted', 'restore_failed') ORDER BY cluster
"""


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


def _not_ours(path: Path, why: str) -> StateError:
    return StateError(
        f"{path} is not an orchestrator state database ({why}): choose another --state-db"
    )


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    conn.execute(f"BEGIN {mode}")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # also when COMMIT itself failed (disk full, I/O error)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _is_fresh(conn: sqlite3.Connection, path: Path) -> bool:
    """Whether the database is empty; StateError unless it is empty or ours at our version."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if app_id == 0 and version == 0 and not tables:
        return True
    if app_id != APPLICATION_ID:
        found = ", ".join(sorted(tables)) or "no tables"
        raise _not_ours(path, f"a SQLite database of something else: {found}")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer orchestrator (schema {version}, this one reads "
            f"{SCHEMA_VERSION}): upgrade orchestrator or choose another --state-db"
        )
    if version < SCHEMA_VERSION or not tables >= _TABLES:
        raise _not_ours(path, f"schema {version} with tables {', '.join(sorted(tables))}")
    return False


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Check the file is ours (or empty), then set durability pragmas and create the schema."""
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    fresh = _is_fresh(conn, path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    if fresh:
        with _transaction(conn):
            if _is_fresh(conn, path):  # another process may have created it meanwhile
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _connect(path: Path) -> sqlite3.Connection:
    """Open and check the database at `path`, translating every SQLite error to StateError."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(
            f"cannot open state database {path} ({exc}): choose another --state-db"
        ) from exc
    try:
        _prepare(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        if exc.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
            raise _not_ours(path, str(exc)) from exc
        raise StateError(
            f"cannot use state database {path} ({exc}): choose another --state-db"
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _run_record(row: tuple[object, ...] | None) -> RunRecord | None:
    if row is None:
        return None
    fields = dict(zip(_RUN_COLUMNS.split(", "), row, strict=True))
    return RunRecord.model_validate(fields)


def _planned(plan_json: str) -> dict[str, PlannedAppliance]:
    """The plan's appliances by name, or nothing if the run's plan is not a Plan document."""
    try:
        plan = Plan.model_validate_json(plan_json)
    except ValidationError:
        return {}
    return {line.name: line for line in plan.appliances()}


def _span(events: list[JournalEvent]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first non-pending event, the event that made the appliance final) of one appliance."""
    started = finished = None
    for event in events:
        if started is None and event.state is not Outcome.PENDING:
            started = event.ts
        final = event.state in FINAL_OUTCOMES
        finished = (finished or event.ts) if final else None
    return started, finished


class Journal:
    """The state database of runs: a write-ahead record of every state change."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path
        self._mutex = threading.RLock()  # one connection, possibly used from several threads
        self._token = uuid.uuid4().hex  # this Journal's identity in the lock row
        self._synchronous = "FULL"  # as _prepare left the connection

    @classmethod
    def open(cls, path: Path) -> Journal:
        """Open (creating if absent) the state database at `path`; StateError if unusable."""
        return cls(_connect(path), path)

    @property
    def path(self) -> Path:
        """Where the state database lives."""
        return self._path

    def close(self) -> None:
        """Release the lock if this Journal holds it, and close the database."""
        with self._mutex:
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
                with _transaction(self._conn, mode):
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

    def release_lock(self) -> None:
        """Give the run lock back if this Journal holds it."""
        with self._use("IMMEDIATE") as conn:
            lock.release(conn, self._token)

    def start_run(
        self, *, plan_json: str, inventory_source: str, inventory_sha256: str, settings_json: str
    ) -> str:
        """Record a new run and return its id (uuid4 hex)."""
        _require_text(plan_json=plan_json, settings_json=settings_json, source=inventory_source)
        run_id = uuid.uuid4().hex
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
        self, run_id: str, cluster: str, via: str, action: IngestVerb, error: str | None = None
    ) -> None:
        """Append what the run did to one cluster's ingest."""
        if action not in _INGEST_VERBS:
            raise ValueError(f"unknown ingest action {action!r}")
        _require_text(cluster=cluster, via=via, error=error)
        with self._use("IMMEDIATE") as conn:
            conn.execute(
                "INSERT INTO ingest (run_id, ts, cluster, via, action, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, _now(), cluster, via, action, error),
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

    def last_run(self) -> RunRecord | None:
        """The newest run."""
        return self._run("")

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

    def events(self, run_id: str) -> list[JournalEvent]:
        """Every state change of the run, in the order it was written."""
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq"  # noqa: S608
        names = _EVENT_COLUMNS.split(", ")
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        return [JournalEvent.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def _ingest_actions(self, run_id: str) -> tuple[IngestAction, ...]:
        query = "SELECT cluster, via, action, ts, error FROM ingest WHERE run_id = ? ORDER BY seq"
        with self._use("DEFERRED") as conn:
            rows = conn.execute(query, (run_id,)).fetchall()
        names = ("cluster", "via", "action", "at", "error")
        return tuple(
            IngestAction.model_validate(dict(zip(names, row, strict=True))) for row in rows
        )

    def report(self, run_id: str) -> RunReport:
        """The run as a RunReport: one ApplianceResult per recorded appliance, in plan order."""
        with self._mutex:  # one consistent view, even with writers in other threads
            run = self._run("WHERE run_id = ?", (run_id,))
            if run is None:
                raise StateError(f"state database {self._path} has no run {run_id}")
            states, events = self.appliance_states(run_id), self.events(run_id)
            ingest = self._ingest_actions(run_id)
        planned = _planned(run.plan_json)
        order = [name for name in planned if name in states] + [
            n for n in states if n not in planned
        ]
        results = tuple(
            _result(states[name], [e for e in events if e.appliance == name], planned.get(name))
            for name in order
        )
        last = max([run.started_at, *(e.ts for e in events), *(i.at for i in ingest)])
        return RunReport(
            run_id=run_id,
            started_at=run.started_at,
            finished_at=run.finished_at or last,
            exit_code=INCOMPLETE_EXIT_CODE if run.exit_code is None else run.exit_code,
            results=results,
            ingest=ingest,
        )


def _result(
    record: ApplianceRecord, events: list[JournalEvent], line: PlannedAppliance | None
) -> ApplianceResult:
    started, finished = _span(events)
    after = record.version_after
    if after is None and record.state is Outcome.SKIPPED:
        after = record.version_before  # already current: nothing changed
    return ApplianceResult(
        name=record.appliance,
        role=line.role if line else None,
        wave=line.wave.value if line and line.wave else None,
        outcome=record.state,
        version_before=record.version_before or (line.current_version if line else None),
        version_after=after,
        target_version=line.target_version if line else None,
        error=record.error,
        job_id=record.job_id,
        started_at=started,
        finished_at=finished if record.state in FINAL_OUTCOMES else None,
    )
