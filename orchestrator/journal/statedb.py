"""The state database file: open it, check it is ours at our schema version, create it.

Schema, identified by PRAGMA application_id = APPLICATION_ID and user_version = SCHEMA_VERSION:

    runs        seq PK, run_id UNIQUE, started_at, finished_at, exit_code, plan_json,
                inventory_source, inventory_sha256, settings_json, pid
    appliances  PK (run_id, appliance): state, job_id, error, version_before, version_after,
                step, updated_at                 -- each appliance's current state in a run
    events      seq PK, run_id, ts, appliance, state, job_id, error, step   -- append-only
    ingest      seq PK, run_id, ts, cluster, via, action, error             -- append-only
    lock        one row (id = 1): pid, hostname, boot_id, pid_start, command, started_at, token

Opened in WAL mode with a busy timeout (another process may hold a write transaction for a
moment), foreign keys on, synchronous=FULL unless a write asks for less. Every SQLite error on
opening becomes one StateError line naming the file and what to do.

A new database file is created readable and writable by its owner only (0600): SQLite gives
its -wal and -shm files the same mode. Read-only commands (`status`, `watch`) open it with
`connect_readonly`, which never creates a file or a table: an empty file is "no run yet".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from typing import TYPE_CHECKING

from orchestrator.core.errors import StateError
from orchestrator.core.statehome import default_state_db

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "connect", "connect_readonly", "transaction"]

APPLICATION_ID = 0x4F524348  # "ORCH": marks a SQLite file as an orchestrator state database
SCHEMA_VERSION = 1
_BUSY_TIMEOUT_MS = 10_000
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


def _not_ours(path: Path, why: str) -> StateError:
    return StateError(
        f"{path} is not an orchestrator state database ({why}): choose another --state-db"
    )


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    """BEGIN `mode` ... COMMIT, rolled back on any exception (COMMIT's own failure included)."""
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
        with transaction(conn):
            if _is_fresh(conn, path):  # another process may have created it meanwhile
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists.

    The default state home's folder is made (0700) on first use; another missing folder is
    an error (a mistyped --state-db).
    """
    try:
        if path == default_state_db() and not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except FileNotFoundError:
        return  # a missing folder: sqlite3 says so in its own words below
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StateError(
            f"cannot create state database {path} ({reason}): choose another --state-db"
        ) from None
    os.close(fd)


def connect(path: Path) -> sqlite3.Connection:
    """Open and check the database at `path`, translating every SQLite error to StateError."""
    _create_private(path)
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


def connect_readonly(path: Path) -> sqlite3.Connection | None:
    """Open the database at `path` for reading only; None when it holds nothing yet.

    Never creates the file, a table or a pragma: `status` on an empty file leaves it empty.
    """
    uri = f"file:{urllib.parse.quote(str(path.absolute()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(f"cannot open state database {path} ({exc})") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        fresh = _is_fresh(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        if exc.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
            raise _not_ours(path, str(exc)) from exc
        raise StateError(f"cannot read state database {path} ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    if fresh:
        conn.close()
        return None
    return conn
