"""Gates in the state database: a run waiting for a person, and that person's answer.

    gates   PK (run_id, gate): opened_at, answer, answered_by, answered_at

The table is created on first use (`CREATE TABLE IF NOT EXISTS`), so a state database made
before gates existed keeps its schema version. The waiting run opens its gate and polls it;
`orchestrator continue` / `stop`, from any process, answers it. A gate answered `continue`
stays released (a resumed run passes it); one answered `stop` is opened again by a resumed
run, which waits there anew.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from typing import TYPE_CHECKING, Literal

from orchestrator.core.errors import StateError
from orchestrator.core.models import GateRecord
from orchestrator.journal.statedb import connect, transaction

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Answer", "GateRow", "GateStore", "read_gates"]

Answer = Literal["continue", "stop", "window"]
_TABLE = """CREATE TABLE IF NOT EXISTS gates (run_id TEXT NOT NULL REFERENCES runs (run_id),
    gate TEXT NOT NULL, opened_at TEXT NOT NULL, answer TEXT, answered_by TEXT,
    answered_at TEXT, PRIMARY KEY (run_id, gate))"""
_ANSWERS: dict[str, Answer] = {"continue": "continue", "stop": "stop", "window": "window"}
_COLUMNS = "run_id, gate, opened_at, answer, answered_by, answered_at"


@dataclasses.dataclass(frozen=True)
class GateRow:
    """One gate of one run as the database holds it."""

    run_id: str
    gate: str
    opened_at: dt.datetime
    answer: Answer | None
    answered_by: str | None
    answered_at: dt.datetime | None

    def record(self) -> GateRecord | None:
        """The gate as the report shows it; None while it waits for an answer."""
        if self.answer is None:
            return None
        return GateRecord(
            gate=self.gate,
            opened_at=self.opened_at,
            answer=self.answer,
            by=self.answered_by,
            answered_at=self.answered_at or self.opened_at,
        )


def _row(values: tuple[str, ...] | None) -> GateRow | None:
    if values is None:
        return None
    run_id, gate, opened, answer, by, answered = values
    return GateRow(
        run_id=run_id,
        gate=gate,
        opened_at=dt.datetime.fromisoformat(opened),
        answer=_ANSWERS.get(answer) if answer else None,
        answered_by=by,
        answered_at=dt.datetime.fromisoformat(answered) if answered else None,
    )


def read_gates(conn: sqlite3.Connection, run_id: str) -> list[GateRow]:
    """Every gate of the run, oldest first; none in a database that never had a gate.

    Reads only: on a read-only connection (`status`, `watch`) a missing table is no gate.
    """
    query = f"SELECT {_COLUMNS} FROM gates WHERE run_id = ? ORDER BY opened_at"  # noqa: S608
    try:
        rows = conn.execute(query, (run_id,)).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [row for row in map(_row, rows) if row is not None]


class GateStore:
    """The gates table of one state database, on a connection of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        try:
            with transaction(self.conn):
                self.conn.execute(_TABLE)
        except sqlite3.Error as exc:
            self.conn.close()
            raise StateError(f"cannot use state database {path} ({exc})") from exc

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def _write(self, statement: str, params: tuple[object, ...]) -> int:
        try:
            with transaction(self.conn):
                return self.conn.execute(statement, params).rowcount
        except sqlite3.Error as exc:
            raise StateError(f"cannot write state database {self.path} ({exc})") from exc

    def open(self, run_id: str, gate: str, now: dt.datetime) -> GateRow:
        """Open the gate (again after a `stop`); a gate released before stays released."""
        self._write(
            "INSERT INTO gates (run_id, gate, opened_at) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id, gate) DO UPDATE SET opened_at = excluded.opened_at, "
            "answer = NULL, answered_by = NULL, answered_at = NULL WHERE answer != 'continue'",
            (run_id, gate, now.isoformat()),
        )
        row = self.read(run_id, gate)
        assert row is not None
        return row

    def read(self, run_id: str, gate: str) -> GateRow | None:
        """The gate as it is now."""
        query = f"SELECT {_COLUMNS} FROM gates WHERE run_id = ? AND gate = ?"  # noqa: S608
        try:
            return _row(self.conn.execute(query, (run_id, gate)).fetchone())
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state database {self.path} ({exc})") from exc

    def answer(self, run_id: str, answer: Answer, by: str | None, now: dt.datetime) -> str | None:
        """Answer the run's open gate; the gate's name, or None if none was open."""
        waiting = self.waiting(run_id)
        if waiting is None:
            return None
        changed = self._write(
            "UPDATE gates SET answer = ?, answered_by = ?, answered_at = ? "
            "WHERE run_id = ? AND gate = ? AND answer IS NULL",
            (answer, by, now.isoformat(), run_id, waiting.gate),
        )
        return waiting.gate if changed else None

    def answered(self, run_id: str) -> list[GateRow]:
        """The run's answered gates, in the order they were answered."""
        rows = [row for row in self._all(run_id) if row.answer is not None]
        return sorted(rows, key=lambda row: row.answered_at or row.opened_at)

    def _all(self, run_id: str) -> list[GateRow]:
        try:
            return read_gates(self.conn, run_id)
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state database {self.path} ({exc})") from exc

    def waiting(self, run_id: str) -> GateRow | None:
        """The run's gate that waits for an answer, if any."""
        open_gates = [row for row in self._all(run_id) if row.answer is None]
        return open_gates[-1] if open_gates else None
