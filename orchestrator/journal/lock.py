"""The run lock kept inside the state database: who holds it, and whether that holder is gone.

One row in the `lock` table (see `orchestrator.journal`) names the holder: pid, host, boot id,
the pid's start time, the command and when it started. A holder is stale when it ran on this
host and its process has exited, its pid now belongs to another process, or the host rebooted
since; a stale lock is taken over. A holder on another host is never presumed dead: the user
releases its lock with `orchestrator unlock` once they know that run is gone.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from orchestrator.core.errors import LockedError
from orchestrator.core.models import Frozen
from orchestrator.core.statehome import db_flag

if TYPE_CHECKING:
    import sqlite3

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_STAT_STARTTIME = 19  # /proc/PID/stat field 22, counted from the first field after "(comm)"
_COLUMNS = "pid, hostname, boot_id, pid_start, command, started_at, token"


class LockHolder(Frozen):
    """The process that holds (or wants) the lock on a state database."""

    pid: int
    hostname: str
    boot_id: str | None  # None where the platform does not tell
    pid_start: str | None  # the pid's start time in clock ticks since boot (Linux)
    command: str  # the sub-command, e.g. "apply"
    started_at: dt.datetime
    token: str  # tells this Journal's lock from another one in the same process

    @classmethod
    def me(cls, command: str, token: str) -> LockHolder:
        """The current process (one Journal of it, by `token`), about to lock for `command`."""
        pid = os.getpid()
        return cls(
            pid=pid,
            hostname=socket.gethostname(),
            boot_id=boot_id(),
            pid_start=_proc_stat(pid)[1],
            command=command,
            started_at=dt.datetime.now(dt.UTC),
            token=token,
        )


def boot_id() -> str | None:
    """An id that changes at every boot of this host (Linux), else None."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str | None, str | None]:
    """(state letter, start time) of `pid` from /proc, or (None, None) where unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None, None
    fields = text.rpartition(")")[2].split()
    if len(fields) <= _STAT_STARTTIME:
        return None, None
    return fields[0], fields[_STAT_STARTTIME]


def pid_alive(pid: int) -> bool:
    """Whether a process with `pid` exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists but belongs to someone else
    return _proc_stat(pid)[0] not in ("Z", "X")  # zombie, or dead and being reaped


def stale_reason(holder: LockHolder, me: LockHolder) -> str | None:
    """Why `holder` can no longer be running, or None when it may be."""
    if holder.hostname != me.hostname:
        return None
    if holder.boot_id and me.boot_id and holder.boot_id != me.boot_id:
        return "host_rebooted"
    if not pid_alive(holder.pid):
        return "process_exited"
    current_start = _proc_stat(holder.pid)[1]
    if holder.pid_start and current_start and holder.pid_start != current_start:
        return "pid_reused"
    return None


def running_here(holder: LockHolder, me: LockHolder) -> bool:
    """Whether `holder` is (as far as this host can tell) still running on this machine.

    This machine: the same host name, or the same boot (the host was renamed while it ran).
    Running: its pid alive with the start time it recorded, or with a start time this process
    may not read (another user's process under `hidepid`). Where no start time was recorded
    (not Linux) a live pid may be another program, so this is never certain: False.
    """
    same_boot = holder.boot_id is not None and holder.boot_id == me.boot_id
    if holder.hostname != me.hostname and not same_boot:
        return False
    if holder.boot_id and me.boot_id and not same_boot:
        return False  # the host rebooted since
    if holder.pid_start is None or not pid_alive(holder.pid):
        return False
    current = _proc_stat(holder.pid)[1]
    return current is None or current == holder.pid_start


def describe(holder: LockHolder, me: LockHolder) -> str:
    """Who holds the lock: `pid N [on host H] (orchestrator apply, started ...)`."""
    host = "" if holder.hostname == me.hostname else f" on host {holder.hostname}"
    started = holder.started_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {holder.pid}{host} (orchestrator {holder.command}, started {started})"


def locked_message(path: Path, holder: LockHolder, me: LockHolder) -> str:
    """The one line telling the user who holds the state database, and what to do."""
    unlock = f"`orchestrator unlock{db_flag(path)}` releases it"
    if running_here(holder, me):
        advice = "wait for it or stop it"
    elif holder.hostname != me.hostname:
        advice = f"if that run is gone (its host crashed or was renamed), {unlock}"
    else:
        advice = f"wait for it or stop it (if pid {holder.pid} is not an orchestrator, {unlock})"
    return f"state database {path} is in use by {describe(holder, me)}; {advice}"


def read_holder(conn: sqlite3.Connection) -> LockHolder | None:
    """The current holder recorded in the database, if any."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM lock WHERE id = 1").fetchone()  # noqa: S608
    if row is None:
        return None
    pid, hostname, boot, pid_start, command, started_at, token = row
    return LockHolder(
        pid=pid,
        hostname=hostname,
        boot_id=boot,
        pid_start=pid_start,
        command=command,
        started_at=dt.datetime.fromisoformat(started_at),
        token=token,
    )


def take(conn: sqlite3.Connection, path: Path, me: LockHolder) -> None:
    """Take the lock for `me` inside the caller's write transaction, or raise LockedError."""
    holder = read_holder(conn)
    if holder is not None and holder.token != me.token:
        reason = stale_reason(holder, me)
        if reason is None:
            raise LockedError(locked_message(path, holder, me))
        structlog.get_logger().warning(
            "lock.stale_taken_over",
            state_db=str(path),
            reason=reason,
            pid=holder.pid,
            hostname=holder.hostname,
            command=holder.command,
            started_at=holder.started_at.isoformat(),
        )
    conn.execute(
        f"INSERT OR REPLACE INTO lock (id, {_COLUMNS}) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            me.pid,
            me.hostname,
            me.boot_id,
            me.pid_start,
            me.command,
            me.started_at.isoformat(),
            me.token,
        ),
    )


def release(conn: sqlite3.Connection, token: str) -> None:
    """Drop the lock if `token` still holds it (never someone else's)."""
    conn.execute("DELETE FROM lock WHERE id = 1 AND token = ?", (token,))


def release_for_user(conn: sqlite3.Connection, path: Path, holder: LockHolder) -> bool:
    """Drop `holder`'s lock on the user's word that its run is gone (`orchestrator unlock`).

    Inside the caller's write transaction. False if nothing holds the lock any more (that run
    ended meanwhile); LockedError if another run took it since the user was shown `holder`.
    """
    now = read_holder(conn)
    if now is None:
        return False
    if now.token != holder.token:
        raise LockedError(
            f"state database {path}: the lock changed hands meanwhile; "
            "run `orchestrator unlock` again to see who holds it"
        )
    release(conn, holder.token)
    structlog.get_logger().warning(
        "lock.released_by_user",
        state_db=str(path),
        pid=holder.pid,
        hostname=holder.hostname,
        command=holder.command,
        started_at=holder.started_at.isoformat(),
    )
    return True
