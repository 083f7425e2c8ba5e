"""The run's gate port on the state database: open the gate, wait for its answer.

The answer comes from `orchestrator continue|stop RUN` in any terminal (written to the state
database, polled here), from the prompt of the terminal the run was started on, or from the
window's end. Whoever answers first wins; the answer, who gave it and when stay in the
database, and so in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.core.about import operator
from orchestrator.journal.gates import GateStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from orchestrator.core.models import GateRecord
    from orchestrator.engine.ports import GateRequest
    from orchestrator.journal.gates import Answer, GateRow

__all__ = ["JournalGate", "gate_records"]

_POLL_SECONDS = 0.5  # how soon an answer from another terminal is seen


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(row: GateRow) -> GateRecord:
    record = row.record()
    assert record is not None  # called only once the gate has its answer
    return record


def gate_records(state_db: Path, run_id: str) -> tuple[GateRecord, ...]:
    """Every answered gate of the run, as the report shows them."""
    store = GateStore(state_db)
    try:
        return tuple(_record(row) for row in store.answered(run_id))
    finally:
        store.close()


class JournalGate:
    """A GatePort whose gates live in the state database at `state_db`."""

    def __init__(
        self,
        state_db: Path,
        *,
        prompt: Callable[[GateRequest], Awaitable[Answer | None]] | None = None,
        poll: float = _POLL_SECONDS,
    ) -> None:
        self.state_db = state_db
        self.prompt = prompt
        self.poll = poll

    async def wait(self, request: GateRequest, *, deadline: dt.datetime | None) -> GateRecord:
        """Open the gate and wait for its answer (`window` once `deadline` passes)."""
        store = await asyncio.to_thread(GateStore, self.state_db)
        asked: asyncio.Task[Answer | None] | None = None
        try:
            row = await asyncio.to_thread(store.open, request.run_id, request.gate, _now())
            if row.answer is None and self.prompt is not None:
                asked = asyncio.ensure_future(self.prompt(request))
            while row.answer is None:
                answer = asked.result() if asked is not None and asked.done() else None
                if answer is not None:  # written like any other answer: the first one wins
                    await asyncio.to_thread(
                        store.answer, request.run_id, answer, operator(), _now()
                    )
                    asked = None
                row = await self._next(store, request, deadline)
            return _record(row)
        finally:
            if asked is not None:
                asked.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asked
            await asyncio.to_thread(store.close)

    async def _next(
        self, store: GateStore, request: GateRequest, deadline: dt.datetime | None
    ) -> GateRow:
        """The gate after one poll; answered `window` once the deadline has passed."""
        if deadline is not None and _now() >= deadline:
            await asyncio.to_thread(store.answer, request.run_id, "window", None, _now())
        else:
            left = (deadline - _now()).total_seconds() if deadline is not None else self.poll
            await asyncio.sleep(max(0.0, min(self.poll, left)))
        row = await asyncio.to_thread(store.read, request.run_id, request.gate)
        assert row is not None
        return row
