"""The journal for the event loop: every call runs, strictly in order, on one worker thread.

The runner awaits a write before it sends the request the write announces; the event loop never
blocks on SQLite or an fsync.

State changes are group-committed: those recorded while the worker is busy (fifty appliances
moving at once) are written together in one transaction, with one fsync if any of them needs
it, and each caller resumes once the transaction holding its change has committed. Every other
call first sends the changes queued before it, so the order of calls is the order of writes.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Self, TypeVar

from orchestrator.errors import StateError
from orchestrator.journal import Journal, StateChange

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from types import TracebackType

    from orchestrator.models import Outcome

P = ParamSpec("P")
T = TypeVar("T")
_Queued = tuple[StateChange, "asyncio.Future[None]"]  # a change and the future its caller awaits


def _settle(batch: list[_Queued], error: BaseException | None) -> None:
    """Resume every caller waiting on `batch`: committed, or failed with `error`."""
    for _, committed in batch:
        if committed.done():
            continue
        if error is not None:
            committed.set_exception(error)
        else:
            committed.set_result(None)


def _threaded(
    method: Callable[Concatenate[Journal, P], T],
) -> Callable[Concatenate[AsyncJournal, P], Coroutine[None, None, T]]:
    """An async twin of a Journal method that runs it on the AsyncJournal's worker thread."""

    async def threaded(self: AsyncJournal, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(method, self.journal, *args, **kwargs)
        self._send_changes(force=True)  # changes recorded before this call are written first
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        # Shielded: once queued, a write completes even if the awaiting task is cancelled.
        return await asyncio.shield(future)

    threaded.__name__ = method.__name__
    threaded.__doc__ = f"Journal.{method.__name__}, awaited; runs in order on the worker thread."
    return threaded


class AsyncJournal:
    """A Journal for the event loop: calls run strictly in order on one dedicated thread."""

    def __init__(self, journal: Journal, executor: ThreadPoolExecutor | None = None) -> None:
        self._journal = journal
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="journal")
        self._queued: list[_Queued] = []
        self._in_flight = 0  # batches of changes sent to the worker and not yet committed

    @classmethod
    async def open(cls, path: Path) -> AsyncJournal:
        """Open the state database on the journal's own thread (StateError if unusable)."""
        executor = ThreadPoolExecutor(1, thread_name_prefix="journal")
        try:
            journal = await asyncio.get_running_loop().run_in_executor(executor, Journal.open, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(journal, executor)

    @property
    def journal(self) -> Journal:
        """The synchronous Journal underneath."""
        return self._journal

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Finish every queued call, close the journal and stop the worker thread."""
        try:
            await self._close()
        finally:
            self._executor.shutdown(wait=False)

    async def record_state(
        self,
        run_id: str,
        appliance: str,
        state: Outcome,
        *,
        job_id: str | None = None,
        error: str | None = None,
        version: str | None = None,
        step: str | None = None,
    ) -> None:
        """Journal.record_state, awaited: returns once the change is committed (group commit)."""
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()
        self._queued.append(
            (StateChange(run_id, appliance, state, job_id, error, version, step), committed)
        )
        if len(self._queued) == 1:
            loop.call_soon(self._send_changes)  # after the changes recorded in this same tick
        # Shielded: once queued, a change is written even if the awaiting task is cancelled.
        await asyncio.shield(committed)

    def _send_changes(self, *, force: bool = False) -> None:
        """Send the queued changes to the worker as one batch, unless one is being written.

        While a batch is being written, changes queue up and go as the next batch when it
        commits; `force` sends them at once (another call must be written after them).
        """
        if not self._queued or (self._in_flight and not force):
            return
        batch, self._queued = self._queued, []
        changes = [change for change, _ in batch]
        try:
            written = asyncio.get_running_loop().run_in_executor(
                self._executor, self._journal.record_states, changes
            )
        except RuntimeError as exc:  # the journal was closed: nobody may think it written
            _settle(batch, StateError(f"state database {self._journal.path}: {exc}"))
            return
        self._in_flight += 1
        written.add_done_callback(functools.partial(self._committed, batch))

    def _committed(self, batch: list[_Queued], written: asyncio.Future[None]) -> None:
        self._in_flight -= 1
        if written.cancelled():
            error: BaseException | None = StateError("a journal write was cancelled")
        else:
            error = written.exception()
        _settle(batch, error)
        self._send_changes()

    _close = _threaded(Journal.close)
    acquire_lock = _threaded(Journal.acquire_lock)
    release_lock = _threaded(Journal.release_lock)
    start_run = _threaded(Journal.start_run)
    record_states_bulk = _threaded(Journal.record_states_bulk)
    record_ingest = _threaded(Journal.record_ingest)
    finish_run = _threaded(Journal.finish_run)
    last_run = _threaded(Journal.last_run)
    unfinished_run = _threaded(Journal.unfinished_run)
    appliance_states = _threaded(Journal.appliance_states)
    halted_clusters = _threaded(Journal.halted_clusters)
    last_ingest = _threaded(Journal.last_ingest)
    events = _threaded(Journal.events)
    report = _threaded(Journal.report)
