"""`orchestrator unlock`: who holds the run lock, and releasing it on the user's word."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.core.errors import LockedError
from orchestrator.core.statehome import db_flag
from orchestrator.journal import Journal, lock

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["HeldLock", "held_lock", "release"]


@dataclass(frozen=True)
class HeldLock:
    """The lock as the user is shown it before deciding."""

    holder: lock.LockHolder
    line: str  # `DB is locked by pid N (...)`, and what this host can tell about it
    gone: bool  # its run is certainly gone: no need to ask


def held_lock(db: Path) -> HeldLock | None:
    """Who holds the lock on `db` (None: nobody); LockedError if that run is still going here."""
    me = lock.LockHolder.me("unlock", "unlock")
    with Journal.open(db) as journal:
        holder = journal.lock_holder()
    if holder is None:
        return None
    if lock.running_here(holder, me):
        raise LockedError(lock.locked_message(db, holder, me))
    gone = lock.stale_reason(holder, me)
    if gone is not None:
        note = f"; that run is gone ({gone.replace('_', ' ')})"
    elif holder.hostname == me.hostname:
        note = f"; pid {holder.pid} is alive, but this host cannot tell if it is that run"
    else:
        note = ""
    return HeldLock(
        holder, f"{db} is locked by {lock.describe(holder, me)}{note}", gone is not None
    )


def release(db: Path, held: HeldLock) -> str:
    """Release the lock the user was shown; the line saying what to do next."""
    with Journal.open(db) as journal:
        released = journal.release_lock_for_user(held.holder)
        interrupted = journal.unfinished_run() is not None
    if not released:
        return f"{db}: no longer locked (that run ended meanwhile); nothing to do"
    if interrupted:
        flag = db_flag(db)
        return (
            f"lock released: `orchestrator status{flag}` shows where the "
            f"interrupted run was, `orchestrator resume{flag}` continues it"
        )
    return "lock released; no interrupted run is waiting to be resumed"
