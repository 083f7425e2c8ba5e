"""The run lock in the state database: one run at a time, stale holders taken over."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from simproc import error_message, in_terminal, orchestrator
from structlog.testing import capture_logs

from orchestrator.core.errors import LockedError, StateError
from orchestrator.journal import Journal, lock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOLD = """
import sys
from pathlib import Path
from orchestrator.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
journal.acquire_lock(command="apply")
print("ready", flush=True)
sys.stdin.read()
journal.close()
"""
ABANDON = """
import os, sys
from pathlib import Path
from orchestrator.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
journal.acquire_lock(command="apply")
print(os.getpid(), flush=True)
os._exit(0)  # exits holding the lock, as a crash would
"""
OTHER_BOOT = "0b0e3c4f-another-machine"  # a holder on another host booted another kernel
STARTED = re.compile(r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def journal(db: Path) -> Iterator[Journal]:
    with Journal.open(db) as opened:
        yield opened


def plant(db: Path, **changes: object) -> lock.LockHolder:
    """Write a lock row as another holder would have, with `changes` to this process's facts."""
    holder = lock.LockHolder.me("apply", "planted").model_copy(update=changes)
    conn = sqlite3.connect(db)
    try:
        with conn:
            lock.take(conn, db, holder)
    finally:
        conn.close()
    return holder


@pytest.mark.slow
def test_second_journal_in_this_process_is_locked_out(db: Path, journal: Journal) -> None:
    """A second Journal on the same file gets LockedError naming the pid, command and start time."""
    journal.acquire_lock(command="apply")
    with Journal.open(db) as other, pytest.raises(LockedError) as caught:
        other.acquire_lock(command="resume")
    message = str(caught.value)
    assert message.startswith(f"state database {db} is in use by pid {os.getpid()} ")
    assert "(orchestrator apply, started " in message
    assert STARTED.search(message)
    assert message.endswith("; wait for it or stop it")
    assert isinstance(caught.value, StateError)


@contextlib.contextmanager
def holding(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock (for `apply`) until the block ends."""
    Journal.open(db).close()
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        try:
            yield child
        finally:
            child.stdin.close()
            child.wait(timeout=30)


def test_second_process_is_locked_out(db: Path) -> None:
    """While another live process holds the lock, acquiring it fails naming that process."""
    with (
        holding(db) as child,
        Journal.open(db) as journal,
        pytest.raises(LockedError) as caught,
    ):
        journal.acquire_lock(command="apply")
    assert f"in use by pid {child.pid} (orchestrator apply, started " in str(caught.value)
    with Journal.open(db) as journal:
        journal.acquire_lock(command="apply")  # released by the child's close


@pytest.mark.slow
def test_lock_of_a_dead_process_is_taken_over(db: Path) -> None:
    """A lock left by a process that exited without releasing it is taken over, with a log event."""
    result = subprocess.run(
        [sys.executable, "-c", ABANDON, str(db)], capture_output=True, text=True, check=True
    )
    dead_pid = int(result.stdout)
    with Journal.open(db) as journal, capture_logs() as logs:
        journal.acquire_lock(command="resume")
    (event,) = [log for log in logs if log["event"] == "lock.stale_taken_over"]
    assert (event["pid"], event["reason"], event["command"]) == (
        dead_pid,
        "process_exited",
        "apply",
    )


@pytest.mark.skipif(lock.boot_id() is None, reason="this platform has no boot id")
def test_lock_from_before_a_reboot_is_taken_over(db: Path, journal: Journal) -> None:
    """A lock whose boot id differs from this boot's is stale, even if its pid is alive now."""
    plant(db, boot_id="an-earlier-boot", started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    with capture_logs() as logs:
        journal.acquire_lock(command="apply")
    assert [log["reason"] for log in logs] == ["host_rebooted"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_lock_of_a_reused_pid_is_taken_over(db: Path, journal: Journal) -> None:
    """A lock whose pid now belongs to a process started at another time is stale."""
    plant(db, pid_start="1")
    with capture_logs() as logs:
        journal.acquire_lock(command="apply")
    assert [log["reason"] for log in logs] == ["pid_reused"]


def test_lock_from_another_host_is_respected(db: Path, journal: Journal) -> None:
    """A holder on another host cannot be checked, so it is never presumed dead."""
    plant(db, hostname="elsewhere.example.net", pid=999_999_999)
    with pytest.raises(LockedError, match=r"pid 999999999 on host elsewhere\.example\.net \("):
        journal.acquire_lock(command="apply")


def test_release_lock_frees_it(db: Path, journal: Journal) -> None:
    """After release_lock, another Journal can take the lock."""
    journal.acquire_lock(command="apply")
    journal.release_lock()
    with Journal.open(db) as other:
        other.acquire_lock(command="apply")
        with pytest.raises(LockedError):
            journal.acquire_lock(command="apply")


def test_release_never_drops_someone_elses_lock(db: Path, journal: Journal) -> None:
    """release_lock from a Journal that does not hold the lock leaves the holder's lock alone."""
    journal.acquire_lock(command="apply")
    with Journal.open(db) as other:
        other.release_lock()
        with pytest.raises(LockedError):
            other.acquire_lock(command="apply")


def test_acquire_is_idempotent_for_the_holder(journal: Journal) -> None:
    """The holder may acquire its own lock again, e.g. when resume follows apply in one process."""
    journal.acquire_lock(command="apply")
    journal.acquire_lock(command="resume")
    holder = lock.read_holder(journal._conn)
    assert holder is not None
    assert (holder.pid, holder.command) == (os.getpid(), "resume")


def test_close_releases_the_lock(db: Path) -> None:
    """Closing the Journal that holds the lock releases it."""
    with Journal.open(db) as first:
        first.acquire_lock(command="apply")
    with Journal.open(db) as second:
        second.acquire_lock(command="apply")


@pytest.mark.parametrize("pid", [0, -1], ids=["zero", "negative"])
def test_nonsense_pid_counts_as_dead(db: Path, journal: Journal, pid: int) -> None:
    """A recorded pid that cannot name a process (0 signals our own group) is stale."""
    plant(db, pid=pid)
    journal.acquire_lock(command="apply")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
@pytest.mark.slow
def test_lock_of_an_unreaped_child_is_taken_over(db: Path) -> None:
    """A holder that exited but was not yet reaped (a zombie) counts as gone."""
    with subprocess.Popen(
        [sys.executable, "-c", ABANDON, str(db)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert int(child.stdout.read()) == child.pid
        # Wait until it has exited, leaving it unreaped (WNOWAIT): EOF on its stdout comes a
        # moment before the kernel marks it a zombie.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        with Journal.open(db) as journal, capture_logs() as logs:
            journal.acquire_lock(command="resume")
    assert [log["reason"] for log in logs] == ["process_exited"]


def test_a_lock_on_another_host_says_how_to_release_it(db: Path, journal: Journal) -> None:
    """The refusal names the other host and the command that releases a gone run's lock."""
    plant(db, hostname="elsewhere", boot_id=OTHER_BOOT)
    with pytest.raises(LockedError) as caught:
        journal.acquire_lock(command="resume")
    message = str(caught.value)
    assert f"is in use by pid {os.getpid()} on host elsewhere (orchestrator apply" in message
    assert message.endswith(
        f"; if that run is gone (its host crashed or was renamed), "
        f"`orchestrator unlock --state-db {db}` releases it"
    )


def test_a_live_pid_not_known_to_be_the_holder_may_be_unlocked(db: Path, journal: Journal) -> None:
    """Where the pid's start time is unknown (not Linux), a live pid may be another program."""
    plant(db, pid_start=None)  # this process's pid: alive, but its start time is unknown
    with pytest.raises(LockedError) as caught:
        journal.acquire_lock(command="resume")
    assert str(caught.value).endswith(
        f"; wait for it or stop it (if pid {os.getpid()} is not an orchestrator, "
        f"`orchestrator unlock --state-db {db}` releases it)"
    )


def test_release_for_the_user_drops_only_the_lock_they_were_shown(
    db: Path, journal: Journal
) -> None:
    """If the lock changed hands after the user saw it, unlock refuses instead of dropping it."""
    shown = plant(db, hostname="elsewhere", boot_id=OTHER_BOOT)
    journal._conn.execute("UPDATE lock SET token = 'newer'")  # that host's run started again
    newer = shown.model_copy(update={"token": "newer"})
    with pytest.raises(LockedError, match="the lock changed hands meanwhile"):
        journal.release_lock_for_user(shown)
    assert journal.lock_holder() == newer
    with capture_logs() as logs:
        assert journal.release_lock_for_user(newer)
    assert journal.lock_holder() is None
    assert not journal.release_lock_for_user(newer)  # already gone: nothing to release
    assert [(e["event"], e["hostname"]) for e in logs] == [("lock.released_by_user", "elsewhere")]
    journal.acquire_lock(command="resume")


@pytest.mark.slow
def test_unlock_without_a_state_database_says_so(tmp_path: Path, state_home: Path) -> None:
    """`unlock` never creates a state database: one line, exit 2."""
    result = orchestrator("unlock", "--yes", cwd=tmp_path)
    assert result.returncode == 2
    db = state_home / "orchestrator" / "state.db"
    assert f"{db}: no state database here; pass --state-db PATH" in result.stderr
    assert not db.exists()


@pytest.mark.slow
def test_unlock_of_an_unlocked_database_does_nothing(db: Path) -> None:
    """Nothing holds the lock: `unlock` says so and exits 0."""
    Journal.open(db).close()
    result = orchestrator("unlock", "--state-db", str(db), cwd=db.parent)
    assert result.returncode == 0, result.stderr
    assert "not locked; nothing to do" in result.stdout


@pytest.mark.slow
def test_unlock_refuses_a_run_still_going_on_this_host(db: Path) -> None:
    """Even with --yes, the lock of a live run on this host stays: stop that run instead."""
    with holding(db) as child:
        result = orchestrator("unlock", "--yes", "--state-db", str(db), cwd=db.parent)
        with Journal.open(db) as journal:
            holder = journal.lock_holder()
    assert result.returncode == 2
    assert f"in use by pid {child.pid} (orchestrator apply" in result.stderr
    assert error_message(result).endswith("wait for it or stop it")
    assert holder is not None
    assert holder.pid == child.pid


@pytest.mark.slow
def test_unlock_of_a_dead_run_needs_no_confirmation(db: Path) -> None:
    """A holder known to be gone is released without asking, saying why it is gone."""
    result = subprocess.run(
        [sys.executable, "-c", ABANDON, str(db)], capture_output=True, text=True, check=True
    )
    unlocked = orchestrator("unlock", "--state-db", str(db), cwd=db.parent)
    assert unlocked.returncode == 0, unlocked.stderr
    assert f"locked by pid {result.stdout.strip()} (orchestrator apply" in unlocked.stdout
    assert "that run is gone (process exited)" in unlocked.stdout
    assert "lock released; no interrupted run is waiting to be resumed" in unlocked.stdout
    with Journal.open(db) as journal:
        assert journal.lock_holder() is None


@pytest.mark.parametrize(("answer", "code"), [("n", 4), ("y", 0)])
@pytest.mark.slow
def test_unlock_asks_on_a_terminal(db: Path, answer: str, code: int) -> None:
    """On a terminal, `unlock` shows the holder and releases its lock only on a yes."""
    Journal.open(db).close()
    plant(db, hostname="elsewhere", boot_id=OTHER_BOOT)
    returncode, shown = in_terminal("unlock", "--state-db", str(db), answer=answer, cwd=db.parent)
    assert returncode == code, shown
    assert f"locked by pid {os.getpid()} on host elsewhere (orchestrator apply" in shown
    assert "Release the lock? Only if that run is no longer going [y/N]" in shown
    with Journal.open(db) as journal:
        holder = journal.lock_holder()
    if answer == "y":
        assert "lock released" in shown
        assert holder is None
    else:
        assert "nothing was changed" in shown
        assert holder is not None


@pytest.mark.slow
def test_unlock_refuses_a_run_still_going_on_this_machine_under_an_old_name(db: Path) -> None:
    """The host was renamed while the run went on: the same boot tells it is this machine."""
    Journal.open(db).close()
    plant(db, hostname="before-the-rename")  # this very process: alive, same boot, same start
    result = orchestrator("unlock", "--yes", "--state-db", str(db), cwd=db.parent)
    assert result.returncode == 2
    assert "on host before-the-rename" in result.stderr
    assert error_message(result).endswith("wait for it or stop it")
    with Journal.open(db) as journal:
        assert journal.lock_holder() is not None
