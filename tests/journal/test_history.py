"""The runs of a state database, newest first, each summed up in one line (`history`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.models import Outcome
from orchestrator.journal import Journal
from orchestrator.journal.history import list_runs

if TYPE_CHECKING:
    from pathlib import Path


def start(journal: Journal, inventory: str = "fleet.yaml") -> str:
    return journal.start_run(
        plan_json="{}",
        inventory_source=inventory,
        inventory_sha256="ab" * 32,
        settings_json="{}",
    )


def test_runs_are_listed_newest_first_with_their_counts_and_how_they_ended(tmp_path: Path) -> None:
    """Succeeded, failed, closed by restore-ingest, and interrupted: each in its own words."""
    db = tmp_path / "state.db"
    with Journal.open(db) as journal:
        ok = start(journal, "a.yaml")
        journal.record_states_bulk(ok, ["eca1", "eda1"], Outcome.DONE)
        journal.finish_run(ok, exit_code=0)
        failed = start(journal, "b.yaml")
        journal.record_state(failed, "eca1", Outcome.DONE)
        journal.record_state(failed, "eda1", Outcome.FAILED, error="eda1: job 17 FAILED")
        journal.record_state(failed, "exa-m1", Outcome.BLOCKED)
        journal.finish_run(failed, exit_code=1)
        closed = start(journal)
        journal.record_state(closed, "eca1", Outcome.UPGRADING)
        journal.finish_run(closed, exit_code=3)  # what restore-ingest does to close it
        interrupted = start(journal)
        journal.record_state(interrupted, "eca1", Outcome.UPLOADING)
    history = list_runs(db, 10)
    assert [r.record.run_id for r in history.runs] == [interrupted, closed, failed, ok]
    assert [r.lifecycle for r in history.runs] == ["incomplete", "closed", "failed", "succeeded"]
    assert history.total == 4
    assert history.runs[2].counts == {Outcome.DONE: 1, Outcome.FAILED: 1, Outcome.BLOCKED: 1}
    assert history.runs[0].counts == {Outcome.UPLOADING: 1}
    assert history.runs[0].ended_at is not None  # its last journalled change


def test_a_limit_keeps_the_newest_and_says_how_many_there_are(tmp_path: Path) -> None:
    """`--limit 2` of five runs: the two newest, and the total of five."""
    db = tmp_path / "state.db"
    with Journal.open(db) as journal:
        ids = [start(journal) for _ in range(5)]
        for run_id in ids:
            journal.finish_run(run_id, exit_code=0)
    history = list_runs(db, 2)
    assert [r.record.run_id for r in history.runs] == [ids[4], ids[3]]
    assert history.total == 5


def test_a_cluster_is_left_disabled_by_the_run_that_halted_it_until_someone_restores_it(
    tmp_path: Path,
) -> None:
    """The run that halted ingest and never restored it names the cluster; a restore clears it."""
    db = tmp_path / "state.db"
    with Journal.open(db) as journal:
        run_id = start(journal)
        journal.record_ingest(run_id, "exa", "exa-m1", "halt_requested")
        journal.record_ingest(run_id, "exa", "exa-m1", "halted")
        journal.record_ingest(run_id, "exb", "exb-m1", "halted")
        journal.record_ingest(run_id, "exb", "exb-m1", "restored")
        journal.finish_run(run_id, exit_code=1)
    assert list_runs(db, 5).runs[0].ingest_left_disabled == ("exa",)
    with Journal.open(db) as journal:
        journal.record_ingest(run_id, "exa", "exa-m2", "restored")  # restore-ingest
    assert list_runs(db, 5).runs[0].ingest_left_disabled == ()


def test_no_database_or_an_empty_one_has_no_runs_and_is_left_as_it_was(tmp_path: Path) -> None:
    """Listing never creates a database; an empty file stays empty."""
    missing = tmp_path / "missing.db"
    assert list_runs(missing, 5).runs == ()
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    assert list_runs(empty, 5).total == 0
    assert empty.stat().st_size == 0
