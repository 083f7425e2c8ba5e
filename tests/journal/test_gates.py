"""Gates in the state database: opened by the waiting run, answered from any process."""

from __future__ import annotations

import datetime as dt
import stat
from typing import TYPE_CHECKING

from orchestrator.journal.gates import GateStore

if TYPE_CHECKING:
    from pathlib import Path

T0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)


def test_an_answer_from_another_connection_reaches_the_waiting_run(run_db: Path) -> None:
    """The run opens its gate; `continue` on another connection answers it; the run reads who."""
    waiting, other = GateStore(run_db), GateStore(run_db)
    try:
        assert waiting.open("run-1", "discover batch 2", T0).answer is None
        assert other.waiting("run-1") is not None
        assert other.answer("run-1", "continue", "ops@jump1", T0 + dt.timedelta(minutes=3)) == (
            "discover batch 2"
        )
        row = waiting.read("run-1", "discover batch 2")
        assert row is not None
        assert (row.answer, row.answered_by) == ("continue", "ops@jump1")
        assert row.answered_at == T0 + dt.timedelta(minutes=3)
        assert other.waiting("run-1") is None
    finally:
        waiting.close()
        other.close()


def test_the_first_answer_wins(run_db: Path) -> None:
    """A second answer to the same gate changes nothing and says no gate was waiting."""
    store = GateStore(run_db)
    try:
        store.open("run-1", "trace", T0)
        assert store.answer("run-1", "stop", "a@h", T0) == "trace"
        assert store.answer("run-1", "continue", "b@h", T0) is None
        row = store.read("run-1", "trace")
        assert row is not None
        assert (row.answer, row.answered_by) == ("stop", "a@h")
    finally:
        store.close()


def test_a_released_gate_stays_released_and_a_stopped_one_opens_again(run_db: Path) -> None:
    """Resumed, a run passes a gate released before, and waits again where it was stopped."""
    store = GateStore(run_db)
    try:
        store.open("run-1", "discover", T0)
        store.answer("run-1", "continue", "a@h", T0)
        store.open("run-1", "trace", T0)
        store.answer("run-1", "stop", "a@h", T0)
        assert store.open("run-1", "discover", T0).answer == "continue"
        assert store.open("run-1", "trace", T0).answer is None
        assert [row.gate for row in store.answered("run-1")] == ["discover"]
    finally:
        store.close()


def test_nothing_waits_in_a_run_without_gates(run_db: Path) -> None:
    """Answering a run that waits at no gate writes nothing."""
    store = GateStore(run_db)
    try:
        assert store.answer("run-1", "continue", "a@h", T0) is None
        assert store.answered("run-1") == []
    finally:
        store.close()
    assert stat.S_IMODE(run_db.stat().st_mode) == 0o600
