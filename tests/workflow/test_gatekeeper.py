"""The run's gate on the state database: answered elsewhere, at the prompt, or by the window."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.core.about import operator
from orchestrator.core.models import Outcome
from orchestrator.engine.ports import GateRequest
from orchestrator.journal.gates import GateStore
from orchestrator.workflow.gatekeeper import JournalGate, gate_records

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.journal.gates import Answer

REQUEST = GateRequest(run_id="run-1", gate="trace", finished=(("exa-d1", Outcome.DONE),))


async def test_a_gate_still_waiting_at_the_window_end_answers_window(run_db: Path) -> None:
    """No one came before the window closed: the answer is `window`, by no one, journalled."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    record = await JournalGate(run_db, poll=0.01).wait(REQUEST, deadline=past)
    assert (record.gate, record.answer, record.by) == ("trace", "window", None)
    assert gate_records(run_db, "run-1") == (record,)


async def test_an_answer_written_by_another_process_releases_the_wait(run_db: Path) -> None:
    """`orchestrator continue` writes the answer; the waiting run sees it at its next poll."""
    waiting = asyncio.ensure_future(JournalGate(run_db, poll=0.01).wait(REQUEST, deadline=None))
    other = GateStore(run_db)
    try:
        while await asyncio.to_thread(other.waiting, "run-1") is None:  # noqa: ASYNC110 - another process's view
            await asyncio.sleep(0.01)
        assert not waiting.done()
        await asyncio.to_thread(
            other.answer, "run-1", "continue", "oncall@pager", dt.datetime.now(dt.UTC)
        )
    finally:
        other.close()
    record = await asyncio.wait_for(waiting, timeout=30)
    assert (record.answer, record.by) == ("continue", "oncall@pager")


async def test_the_answer_typed_at_the_prompt_is_journalled_with_who_typed_it(run_db: Path) -> None:
    """The terminal's `s` stops the run, and the journal records the operator as user@host."""

    async def typed(request: GateRequest) -> Answer | None:
        assert request == REQUEST
        return "stop"

    record = await JournalGate(run_db, prompt=typed, poll=0.01).wait(REQUEST, deadline=None)
    assert (record.answer, record.by) == ("stop", operator())
    assert gate_records(run_db, "run-1")[0].by == operator()
