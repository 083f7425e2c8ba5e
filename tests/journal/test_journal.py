"""The journal: durable run state that resume, status and restore-ingest rely on."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator import workflow
from orchestrator.core.errors import StateError
from orchestrator.core.models import Outcome, Role, UrlFirmware
from orchestrator.journal import Journal
from orchestrator.journal.aio import AsyncJournal
from orchestrator.journal.statedb import APPLICATION_ID, SCHEMA_VERSION
from orchestrator.journal.view import INCOMPLETE_EXIT_CODE
from orchestrator.plan import Action, Plan, PlannedAppliance, Wave, WaveKind

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CHILD = """
import sys, time
from pathlib import Path
from orchestrator.journal import Journal
from orchestrator.core.models import Outcome
journal = Journal.open(Path(sys.argv[1]))
journal.acquire_lock(command="apply")
run_id = journal.start_run(plan_json="{}", inventory_source="inv.yaml",
                           inventory_sha256="abc", settings_json="{}")
print(run_id, flush=True)
for i in range(int(sys.argv[2])):
    journal.record_state(run_id, f"eda{i}", Outcome.UPGRADING, job_id=f"job-{i}", version="9.1")
    print(i, flush=True)
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def journal(db: Path) -> Iterator[Journal]:
    with Journal.open(db) as opened:
        yield opened


def start(journal: Journal, plan_json: str = "{}") -> str:
    return journal.start_run(
        plan_json=plan_json,
        inventory_source="inventories/lab.yaml",
        inventory_sha256="0" * 64,
        settings_json='{"concurrency": 4}',
    )


def sample_plan() -> str:
    def line(name: str, role: Role, wave: WaveKind) -> PlannedAppliance:
        firmware = UrlFirmware(url=f"https://repo/{name}.tar", version="9.9.1.100")
        return PlannedAppliance(
            name=name,
            url=f"https://{name}.example.net",
            role=role,
            wave=wave,
            current_version="9.8.0.1",
            target_version="9.9.1.100",
            action=Action.URL,
            firmware=firmware,
        )

    plan = Plan(
        created_at=dt.datetime.now(dt.UTC),
        inventory_source="inventories/lab.yaml",
        inventory_sha256="0" * 64,
        concurrency=2,
        waves=(
            Wave(kind=WaveKind.COMMAND, appliances=(line("eca1", Role.COMMAND, WaveKind.COMMAND),)),
            Wave(
                kind=WaveKind.DISCOVER,
                appliances=(
                    line("eda1", Role.DISCOVER, WaveKind.DISCOVER),
                    line("eda2", Role.DISCOVER, WaveKind.DISCOVER),
                ),
            ),
        ),
    )
    return plan.model_dump_json()


def raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db)


# --- opening ---------------------------------------------------------------------------------


def test_open_creates_schema_marked_as_ours_in_wal_mode(db: Path) -> None:
    """A new state database carries our application_id and schema version and uses WAL."""
    Journal.open(db).close()
    conn = raw(db)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_reopen_keeps_runs(db: Path) -> None:
    """A database written earlier opens again with its runs intact."""
    with Journal.open(db) as first:
        run_id = start(first)
    with Journal.open(db) as second:
        record = second.last_run()
    assert record is not None
    assert record.run_id == run_id


def test_empty_file_is_initialised(db: Path) -> None:
    """A zero-byte file is an empty SQLite database and becomes a state database."""
    db.touch()
    with Journal.open(db) as journal:
        assert journal.last_run() is None


def test_corrupt_file_is_refused_with_its_path(db: Path) -> None:
    """A file of random bytes is refused in one line naming it, and left untouched."""
    content = os.urandom(8192)
    db.write_bytes(content)
    with pytest.raises(StateError, match="is not an orchestrator state database") as caught:
        Journal.open(db)
    assert str(db) in str(caught.value)
    assert "--state-db" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert db.read_bytes() == content


def test_foreign_sqlite_database_is_refused(db: Path) -> None:
    """A SQLite database of another application is refused and gets none of our tables."""
    conn = raw(db)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="is not an orchestrator state database") as caught:
        Journal.open(db)
    assert str(db) in str(caught.value)
    conn = raw(db)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert tables == {"customers"}


def test_our_id_without_our_tables_is_refused(db: Path) -> None:
    """A file claiming our application_id but missing the schema is refused."""
    conn = raw(db)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute("CREATE TABLE runs (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="is not an orchestrator state database"):
        Journal.open(db)


def test_newer_schema_is_refused(db: Path) -> None:
    """A database written by a newer orchestrator is refused rather than misread."""
    Journal.open(db).close()
    conn = raw(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="newer orchestrator") as caught:
        Journal.open(db)
    assert str(db) in str(caught.value)


def test_unopenable_path_is_refused(tmp_path: Path) -> None:
    """A path in a missing directory gives a StateError naming it."""
    path = tmp_path / "missing" / "state.db"
    with pytest.raises(StateError, match="cannot open state database") as caught:
        Journal.open(path)
    assert str(path) in str(caught.value)


# --- runs ------------------------------------------------------------------------------------


def test_start_run_round_trips_the_run(journal: Journal) -> None:
    """What start_run is given comes back from last_run, with a UTC start time and our pid."""
    plan_json = '{"waves": [], "note": "no keys here"}'
    settings_json = '{"concurrency": 4, "state_db": "state.db"}'
    run_id = journal.start_run(
        plan_json=plan_json,
        inventory_source="inventories/lab.yaml",
        inventory_sha256="ab" * 32,
        settings_json=settings_json,
    )
    record = journal.last_run()
    assert record is not None
    assert len(run_id) == 32
    assert (record.run_id, record.plan_json, record.settings_json) == (
        run_id,
        plan_json,
        settings_json,
    )
    assert (record.inventory_source, record.inventory_sha256) == ("inventories/lab.yaml", "ab" * 32)
    assert record.started_at.tzinfo is not None
    assert record.started_at.utcoffset() == dt.timedelta(0)
    assert (record.finished_at, record.exit_code, record.pid) == (None, None, os.getpid())


def test_unfinished_run_is_the_newest_without_finish(journal: Journal) -> None:
    """unfinished_run returns the newest run not finished, and None once all are finished."""
    assert journal.unfinished_run() is None
    first = start(journal)
    second = start(journal)
    assert journal.unfinished_run().run_id == second  # type: ignore[union-attr]
    journal.finish_run(second, exit_code=0)
    assert journal.unfinished_run().run_id == first  # type: ignore[union-attr]
    assert journal.last_run().run_id == second  # type: ignore[union-attr]
    journal.finish_run(first, exit_code=1)
    assert journal.unfinished_run() is None


def test_finish_run_records_exit_code_and_time(journal: Journal) -> None:
    """finish_run stores the exit code and a finish time no earlier than the start."""
    run_id = start(journal)
    journal.finish_run(run_id, exit_code=1)
    record = journal.last_run()
    assert record is not None
    assert record.exit_code == 1
    assert record.finished_at is not None
    assert record.finished_at >= record.started_at


def test_finish_unknown_run_is_a_state_error(journal: Journal) -> None:
    """Finishing a run that does not exist is a StateError, not a silent no-op."""
    with pytest.raises(StateError, match="no run nope"):
        journal.finish_run("nope", exit_code=0)


# --- appliance states ----------------------------------------------------------------------------


def test_record_state_keeps_job_id_and_first_version(journal: Journal) -> None:
    """The job id survives later records without one; the first version is version_before."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.PRECHECKED, version="9.8.0.1")
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="job-7", step="upgrade")
    journal.record_state(run_id, "eda1", Outcome.REBOOTING, step="await_reboot")
    journal.record_state(run_id, "eda1", Outcome.DONE, version="9.9.1.100")
    record = journal.appliance_states(run_id)["eda1"]
    assert record.state is Outcome.DONE
    assert record.job_id == "job-7"
    assert (record.version_before, record.version_after) == ("9.8.0.1", "9.9.1.100")
    assert (record.step, record.error) == (None, None)
    assert record.updated_at.utcoffset() == dt.timedelta(0)


def test_record_state_replaces_job_id_when_given(journal: Journal) -> None:
    """A new job id (a retried upgrade) replaces the old one."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="job-1")
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="job-2")
    assert journal.appliance_states(run_id)["eda1"].job_id == "job-2"


def test_record_state_error_belongs_to_the_current_state(journal: Journal) -> None:
    """An error is shown with the state it came with and cleared by the next record."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, error="HTTP 503: busy")
    journal.record_state(run_id, "eda1", Outcome.FAILED, error="job job-1 ended FAILED")
    assert journal.appliance_states(run_id)["eda1"].error == "job job-1 ended FAILED"


def test_appliance_states_are_per_run_in_first_recorded_order(journal: Journal) -> None:
    """appliance_states lists only the run's appliances, in the order first recorded."""
    run_id, other = start(journal), start(journal)
    for name in ("eda2", "eca1", "eda1"):
        journal.record_state(run_id, name, Outcome.PENDING)
    journal.record_state(other, "eta1", Outcome.PENDING)
    journal.record_state(run_id, "eda2", Outcome.PRECHECKED)
    assert list(journal.appliance_states(run_id)) == ["eda2", "eca1", "eda1"]
    assert list(journal.appliance_states(other)) == ["eta1"]


def test_events_are_appended_in_order(journal: Journal) -> None:
    """Every record_state appends one event with what it was given, in write order."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.PRECHECKED, version="9.8")
    journal.record_state(run_id, "eda2", Outcome.UPLOADING, step="upload")
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="j1")
    journal.record_state(run_id, "eda1", Outcome.FAILED, error="boom")
    events = journal.events(run_id)
    assert [(e.appliance, e.state, e.job_id, e.error, e.step) for e in events] == [
        ("eda1", Outcome.PRECHECKED, None, None, None),
        ("eda2", Outcome.UPLOADING, None, None, "upload"),
        ("eda1", Outcome.UPGRADING, "j1", None, None),
        ("eda1", Outcome.FAILED, None, "boom", None),
    ]
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_record_states_bulk_gives_every_appliance_a_row_and_an_event(journal: Journal) -> None:
    """record_states_bulk records one state for many appliances, as record_state would each."""
    run_id = start(journal)
    journal.record_states_bulk(run_id, ["eda1", "eda2", "eta1"], Outcome.PENDING)
    journal.record_state(run_id, "eda2", Outcome.PRECHECKED, version="9.8")
    states = journal.appliance_states(run_id)
    assert {name: r.state for name, r in states.items()} == {
        "eda1": Outcome.PENDING,
        "eda2": Outcome.PRECHECKED,
        "eta1": Outcome.PENDING,
    }
    events = [(e.appliance, e.state) for e in journal.events(run_id)]
    assert events[:3] == [(n, Outcome.PENDING) for n in ("eda1", "eda2", "eta1")]


def test_observed_states_survive_a_reopen_after_announcing_ones(db: Path) -> None:
    """States committed without an fsync are still read back, before and after synced ones."""
    with Journal.open(db) as journal:
        run_id = start(journal)
        journal.record_state(run_id, "eda1", Outcome.PRECHECKED, version="9.8")
        journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="j1")
        journal.record_state(run_id, "eda1", Outcome.REBOOTING)
    with Journal.open(db) as journal:
        states = [e.state for e in journal.events(run_id)]
    assert states == [Outcome.PRECHECKED, Outcome.UPGRADING, Outcome.REBOOTING]


def test_record_state_for_unknown_run_is_a_state_error(journal: Journal) -> None:
    """A state for a run that was never started is refused."""
    with pytest.raises(StateError):
        journal.record_state("nope", "eda1", Outcome.PENDING)


def test_record_state_refuses_objects_that_could_carry_keys(db: Path) -> None:
    """Only text is stored: an object (whose repr may hold a key) is refused and never written."""
    with Journal.open(db) as journal:
        run_id = start(journal)
        secret = SecretStr("sk-very-secret-key")
        with pytest.raises(TypeError, match="error must be str"):
            journal.record_state(run_id, "eda1", Outcome.FAILED, error=secret)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="step must be str"):
            journal.record_state(run_id, "eda1", Outcome.FAILED, step={"key": "sk-x"})  # type: ignore[arg-type]
        assert journal.events(run_id) == []
    files = [db, *db.parent.glob(db.name + "-*")]
    assert all(b"sk-very-secret-key" not in path.read_bytes() for path in files)


# --- ingest ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        pytest.param(["halted"], [("exa", "exa-m1")], id="halted-never-restored"),
        pytest.param(["halted", "restored"], [], id="restored"),
        pytest.param(["halted", "restore_failed"], [("exa", "exa-m1")], id="restore-failed"),
        pytest.param(["halted", "restore_failed", "restored"], [], id="restored-on-retry"),
        pytest.param(["left_off"], [], id="was-already-off"),
        pytest.param(["halted", "left_off"], [("exa", "exa-m1")], id="left-off-hides-no-halt"),
        pytest.param(["halt_requested"], [("exa", "exa-m1")], id="requested-may-be-off"),
        pytest.param(["halt_requested", "halt_failed"], [], id="refused-never-changed"),
    ],
)
def test_halted_clusters_follows_the_last_action(
    journal: Journal, actions: list[str], expected: list[tuple[str, str]]
) -> None:
    """A cluster is listed while the tool's last halt/restore on it left ingest disabled."""
    run_id = start(journal)
    for action in actions:
        journal.record_ingest(run_id, "exa", "exa-m1", action)
    assert journal.halted_clusters(run_id) == expected
    assert journal.halted_clusters() == expected


def test_halted_clusters_across_runs(journal: Journal) -> None:
    """Without a run id, a halt left by a crashed run counts until any later run restores it."""
    crashed, later = start(journal), start(journal)
    journal.record_ingest(crashed, "exa", "exa-m1", "halted")
    journal.record_ingest(crashed, "exb", "exb-m1", "halted")
    journal.record_ingest(crashed, "exb", "exb-m1", "restored")
    assert journal.halted_clusters(later) == []
    assert journal.halted_clusters() == [("exa", "exa-m1")]
    journal.record_ingest(later, "exa", "exa-m2", "restored")
    assert journal.halted_clusters() == []
    assert journal.halted_clusters(crashed) == [("exa", "exa-m1")]


def test_record_ingest_refuses_unknown_action(journal: Journal) -> None:
    """An ingest action outside the four known verbs is a programming error."""
    run_id = start(journal)
    with pytest.raises(ValueError, match="unknown ingest action"):
        journal.record_ingest(run_id, "exa", "exa-m1", "paused")


# --- report ----------------------------------------------------------------------------------


def test_report_builds_results_in_plan_order(journal: Journal) -> None:
    """report() gives one result per appliance with outcome, versions, job, times and plan facts."""
    run_id = start(journal, sample_plan())
    journal.record_state(run_id, "eda2", Outcome.PENDING)
    journal.record_state(run_id, "eca1", Outcome.PENDING)
    journal.record_state(run_id, "eca1", Outcome.PRECHECKED, version="9.8.0.1")
    journal.record_state(run_id, "eca1", Outcome.UPGRADING, job_id="j1")
    journal.record_state(run_id, "eca1", Outcome.DONE, version="9.9.1.100")
    journal.record_state(run_id, "eda1", Outcome.PRECHECKED, version="9.9.1.100")
    journal.record_state(run_id, "eda1", Outcome.SKIPPED)
    journal.record_state(run_id, "eda2", Outcome.PRECHECKED, version="9.8.0.1")
    journal.record_state(run_id, "eda2", Outcome.UPGRADING, job_id="j2")
    journal.record_state(run_id, "eda2", Outcome.FAILED, error="job j2 ended FAILED")
    journal.record_ingest(run_id, "exa", "exa-m1", "left_off")
    journal.finish_run(run_id, exit_code=1)
    events = journal.events(run_id)
    report = journal.report(run_id)
    eca1, eda1, eda2 = report.results
    assert [r.name for r in report.results] == ["eca1", "eda1", "eda2"]
    assert (report.run_id, report.exit_code) == (run_id, 1)
    assert (eca1.outcome, eca1.version_before, eca1.version_after) == (
        Outcome.DONE,
        "9.8.0.1",
        "9.9.1.100",
    )
    assert (eca1.role, eca1.wave, eca1.target_version, eca1.job_id) == (
        Role.COMMAND,
        "command",
        "9.9.1.100",
        "j1",
    )
    assert eca1.started_at == events[2].ts
    assert eca1.finished_at == events[4].ts
    assert (eda1.outcome, eda1.version_after) == (Outcome.SKIPPED, "9.9.1.100")
    assert (eda2.outcome, eda2.error, eda2.job_id) == (
        Outcome.FAILED,
        "job j2 ended FAILED",
        "j2",
    )
    assert eda2.started_at == events[7].ts
    assert eda2.finished_at == events[9].ts
    assert [(i.cluster, i.via, i.action) for i in report.ingest] == [("exa", "exa-m1", "left_off")]


def test_report_of_unfinished_run_says_incomplete(journal: Journal) -> None:
    """An unfinished run reports exit code 3 and no finish time for unfinished appliances."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.PENDING)
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="j1")
    report = journal.report(run_id)
    (result,) = report.results
    assert report.exit_code == INCOMPLETE_EXIT_CODE
    assert (result.outcome, result.role, result.wave) == (Outcome.UPGRADING, None, None)
    assert result.started_at is not None
    assert result.finished_at is None
    assert report.finished_at >= report.started_at


def test_report_finish_time_is_the_final_event_after_resume(journal: Journal) -> None:
    """An appliance cancelled then resumed to done finishes at the done event, not the cancel."""
    run_id = start(journal)
    journal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="j1")
    journal.record_state(run_id, "eda1", Outcome.CANCELLED, error="interrupted")
    journal.record_state(run_id, "eda1", Outcome.REBOOTING)
    journal.record_state(run_id, "eda1", Outcome.DONE, version="9.9")
    journal.record_state(run_id, "eda1", Outcome.DONE, version="9.9")
    events = journal.events(run_id)
    (result,) = journal.report(run_id).results
    assert result.finished_at == events[3].ts
    assert result.started_at == events[0].ts


def test_report_of_unknown_run_is_a_state_error(journal: Journal) -> None:
    """Asking for the report of a run that does not exist is a StateError."""
    with pytest.raises(StateError, match="no run"):
        journal.report("nope")


# --- durability ------------------------------------------------------------------------------


def spawn(db: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_sigkill_loses_no_committed_record(db: Path) -> None:
    """After SIGKILL, reopening recovers the WAL and every record, and the run is unfinished."""
    with spawn(db, 25) as child:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        lines = [child.stdout.readline().strip() for _ in range(26)]
        assert lines[-1] == "ready"
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert db.with_name(db.name + "-wal").stat().st_size > 0  # never checkpointed: WAL recovery
    with Journal.open(db) as journal:
        unfinished = journal.unfinished_run()
        states = journal.appliance_states(run_id)
        events = journal.events(run_id)
    assert unfinished is not None
    assert unfinished.run_id == run_id
    assert len(states) == len(events) == 25
    assert states["eda24"].job_id == "job-24"
    assert states["eda24"].version_before == "9.1"


def test_sigkill_mid_stream_keeps_every_acknowledged_record(db: Path) -> None:
    """Every record the child saw committed survives a SIGKILL in the middle of its writes."""
    with spawn(db, 100_000) as child:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        acknowledged = [child.stdout.readline() for _ in range(40)]
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert acknowledged[-1].strip() == "39"
    with Journal.open(db) as journal:
        events = journal.events(run_id)
        states = journal.appliance_states(run_id)
    assert len(events) >= 40
    assert [e.appliance for e in events] == [f"eda{i}" for i in range(len(events))]
    assert len(states) == len(events)


# --- AsyncJournal ----------------------------------------------------------------------------


async def test_async_journal_preserves_order_across_tasks(db: Path) -> None:
    """Concurrent awaits from many tasks are committed in exactly the order they were made."""
    submitted: list[tuple[str, str]] = []

    async def worker(ajournal: AsyncJournal, run_id: str, name: str) -> None:
        for step in range(10):
            submitted.append((name, str(step)))
            await ajournal.record_state(run_id, name, Outcome.UPGRADING, step=str(step))
            if step % 3 == 0:
                await asyncio.sleep(0)

    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        async with asyncio.TaskGroup() as group:
            for index in range(20):
                group.create_task(worker(ajournal, run_id, f"eda{index}"))
        events = await ajournal.events(run_id)
    assert [(e.appliance, e.step) for e in events] == submitted
    assert len(submitted) == 200


async def test_async_journal_runs_sqlite_off_the_event_loop(db: Path) -> None:
    """Every SQL statement of an AsyncJournal runs on its one worker thread, not the loop's."""
    threads: set[str] = set()
    async with await AsyncJournal.open(db) as ajournal:
        ajournal.journal._conn.set_trace_callback(
            lambda _: threads.add(threading.current_thread().name)
        )
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        await ajournal.record_state(run_id, "eda1", Outcome.PENDING)
        await ajournal.report(run_id)
    assert len(threads) == 1
    assert threading.current_thread().name not in threads


async def test_async_write_survives_cancellation_of_its_caller(db: Path) -> None:
    """A queued write still commits when the task awaiting it is cancelled."""
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        with ajournal.journal._mutex:  # hold the worker so the write is still queued
            task = asyncio.create_task(ajournal.record_state(run_id, "eda1", Outcome.CANCELLED))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        events = await ajournal.events(run_id)
    assert [e.state for e in events] == [Outcome.CANCELLED]


async def test_changes_made_while_the_worker_writes_share_one_commit(db: Path) -> None:
    """Fifty appliances moving at once cost one transaction, and each caller waits for it."""
    statements: list[str] = []
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        ajournal.journal._conn.set_trace_callback(statements.append)
        with ajournal.journal._mutex:  # the worker is busy: the changes queue up
            tasks = [
                asyncio.create_task(ajournal.record_state(run_id, f"eda{i}", Outcome.UPLOADING))
                for i in range(50)
            ]
            await asyncio.sleep(0.05)
            assert not any(task.done() for task in tasks)  # none returns before its commit
        await asyncio.gather(*tasks)
        commits = sum(sql.startswith("BEGIN") for sql in statements)
        with Journal.open(db) as other:  # committed: another connection sees every change
            states = other.appliance_states(run_id)
    assert {name: s.state for name, s in states.items()} == {
        f"eda{i}": Outcome.UPLOADING for i in range(50)
    }
    assert commits == 1


async def test_a_change_made_while_a_batch_is_written_follows_it_without_the_loop(
    db: Path,
) -> None:
    """The next batch waits in the worker's queue: it commits even while the loop is blocked.

    An `uploaded` that lands while another appliance's change is being written is journalled
    right after it, not one round trip through a busy event loop later.
    """
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        with ajournal.journal._mutex:  # the worker is stuck writing eda1's change
            first = asyncio.create_task(ajournal.record_state(run_id, "eda1", Outcome.UPGRADING))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(ajournal.record_state(run_id, "eda2", Outcome.UPLOADED))
            await asyncio.sleep(0)  # eda2's change is recorded while eda1's is being written
        time.sleep(0.5)  # noqa: ASYNC251 - the event loop is blocked on purpose
        with Journal.open(db) as other:  # before the loop ever ran again
            committed = {name: r.state for name, r in other.appliance_states(run_id).items()}
        await asyncio.gather(first, second)
    assert committed == {"eda1": Outcome.UPGRADING, "eda2": Outcome.UPLOADED}


async def test_a_failed_commit_fails_every_change_in_it(db: Path) -> None:
    """A batch that cannot be written raises StateError in each caller waiting on it."""
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        with ajournal.journal._mutex:
            good = asyncio.create_task(ajournal.record_state(run_id, "eda1", Outcome.PENDING))
            bad = asyncio.create_task(ajournal.record_state("no-such-run", "eda2", Outcome.PENDING))
            await asyncio.sleep(0.05)
        results = await asyncio.gather(good, bad, return_exceptions=True)
    assert all(isinstance(result, StateError) for result in results)


async def test_state_changes_are_written_before_a_later_call(db: Path) -> None:
    """A queued state change is written before an ingest action recorded after it."""
    statements: list[str] = []
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        ajournal.journal._conn.set_trace_callback(statements.append)
        with ajournal.journal._mutex:
            # Both in the same tick: the ingest call runs before the queued change is sent.
            state = asyncio.create_task(ajournal.record_state(run_id, "exa-m", Outcome.DONE))
            ingest = asyncio.create_task(ajournal.record_ingest(run_id, "exa", "exa-m", "restored"))
            await asyncio.sleep(0.05)
        await asyncio.gather(state, ingest)
    written = [sql.split()[2] for sql in statements if sql.strip().startswith("INSERT INTO")]
    assert [table for table in written if table in {"events", "ingest"}] == ["events", "ingest"]


@pytest.fixture
def corrupt_db(db: Path) -> Path:
    db.write_bytes(b"not a database" * 100)
    return db


async def test_async_open_of_corrupt_file_raises_state_error(corrupt_db: Path) -> None:
    """AsyncJournal.open reports an unusable file as the same one-line StateError."""
    with pytest.raises(StateError, match="is not an orchestrator state database"):
        await AsyncJournal.open(corrupt_db)


async def test_async_close_releases_the_lock(db: Path) -> None:
    """Leaving an AsyncJournal's context releases its lock for the next run."""
    async with await AsyncJournal.open(db) as ajournal:
        await ajournal.acquire_lock(command="apply")
    with Journal.open(db) as journal:
        journal.acquire_lock(command="resume")


def test_close_is_idempotent(db: Path) -> None:
    """Closing a journal twice is harmless."""
    journal = Journal.open(db)
    journal.acquire_lock(command="status")
    journal.close()
    journal.close()
    with Journal.open(db) as again:
        again.acquire_lock(command="apply")


async def test_resume_knows_when_a_journalled_job_was_started(db: Path) -> None:
    """`resume` takes a re-attached job's start from the `upgrading` written just before it."""
    async with await AsyncJournal.open(db) as ajournal:
        run_id = await ajournal.start_run(
            plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
        )
        await ajournal.record_state(run_id, "eda1", Outcome.PRECHECKED, version="9.8.0.100")
        await ajournal.record_state(run_id, "eda1", Outcome.UPGRADING)
        await ajournal.record_state(run_id, "eda1", Outcome.UPGRADING, job_id="j7")
        await ajournal.record_state(run_id, "eda2", Outcome.PRECHECKED, version="9.8.0.100")
        events = await ajournal.events(run_id)
        prior = await workflow.running._prior_states(ajournal, run_id)
    announced = next(e.ts for e in events if e.state is Outcome.UPGRADING and e.job_id is None)
    assert prior["eda1"].job_started == announced
    assert prior["eda1"].job_id == "j7"
    assert prior["eda2"].job_started is None


async def test_a_change_recorded_after_close_fails_instead_of_waiting_forever(db: Path) -> None:
    """Nobody may believe a change written that never reached the database."""
    ajournal = await AsyncJournal.open(db)
    run_id = await ajournal.start_run(
        plan_json="{}", inventory_source="inv", inventory_sha256="x", settings_json="{}"
    )
    await ajournal.close()
    with pytest.raises(StateError, match="state database"):
        await asyncio.wait_for(ajournal.record_state(run_id, "eda1", Outcome.DONE), timeout=10)
