"""The journal for the event loop: every call runs, strictly in order, on one worker thread.

The runner awaits a write before it sends the request the write announces; the event loop never
blocks on SQLite or an fsync.

State changes are group-committed: those recorded in one tick of the loop, or while the worker
is busy (fifty appliances moving at once), are written together in one transaction, with one
fsync if any of them needs it, and each caller resumes once the transaction holding its change
has committed. While a batch is being written, the next one already waits in the worker's
queue and takes changes until the worker turns to it: it is written right after, without a
round trip through the event loop (that round trip is part of the window in which a crash
forgets an upload the appliance accepted; see `Runner._drive`). Every other call first closes
the changes recorded before it, so the order of calls is the order of writes.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Self, TypeVar

from orchestrator.core.errors import StateError
from orchestrator.journal import Journal, StateChange

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from types import TracebackType

    from orchestrator.core.models import Outcome

P = ParamSpec("P")
T = TypeVar("T")
_Queued = tuple[StateChange, "asyncio.Future[None]"]  # a change and the future its caller awaits


class _Batch:
    """State changes for one transaction: it takes more until the worker starts writing it."""

    def __init__(self, first: _Queued) -> None:
        self.queued = [first]
        self.sent = False  # handed to the worker (whose queue it may still wait in)
        self._closed = False
        self._lock = threading.Lock()  # the loop adds, the worker closes

    def add(self, item: _Queued) -> bool:
        """Take one more change, unless the worker has started writing (False)."""
        with self._lock:
            if not self._closed:
                self.queued.append(item)
            return not self._closed

    def close(self) -> list[StateChange]:
        """Take no more changes; the ones to write."""
        with self._lock:
            self._closed = True
            return [change for change, _ in self.queued]

    def settle(self, error: BaseException | None) -> None:
        """Resume every caller waiting on this batch: committed, or failed with `error`."""
        self.close()
        for _, committed in self.queued:
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
        self._seal()  # changes recorded before this call are written first, later ones after
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
        self._open: _Batch | None = None  # the batch new changes join, until the worker starts it
        self._in_flight = 0  # batches sent to the worker and not yet committed

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
        item = (StateChange(run_id, appliance, state, job_id, error, version, step), committed)
        if self._open is None or not self._open.add(item):
            self._open = _Batch(item)
            if self._in_flight:
                self._send(self._open)  # waits behind the batch being written, taking more
            else:
                loop.call_soon(self._send_open)  # after the changes recorded in this same tick
        # Shielded: once queued, a change is written even if the awaiting task is cancelled.
        await asyncio.shield(committed)

    def _send_open(self) -> None:
        if self._open is not None and not self._open.sent:
            self._send(self._open)

    def _seal(self) -> None:
        """Send the open batch now; changes recorded from here on go in a later one."""
        self._send_open()
        self._open = None

    def _send(self, batch: _Batch) -> None:
        """Hand the batch to the worker, which closes it when it starts writing it."""
        batch.sent = True
        try:
            written = asyncio.get_running_loop().run_in_executor(self._executor, self._write, batch)
        except RuntimeError as exc:  # the journal was closed: nobody may think it written
            batch.settle(StateError(f"state database {self._journal.path}: {exc}"))
            return
        self._in_flight += 1
        written.add_done_callback(functools.partial(self._committed, batch))

    def _write(self, batch: _Batch) -> None:
        """On the worker thread: close the batch to new changes and commit it."""
        self._journal.record_states(batch.close())

    def _committed(self, batch: _Batch, written: asyncio.Future[None]) -> None:
        self._in_flight -= 1
        if written.cancelled():
            error: BaseException | None = StateError("a journal write was cancelled")
        else:
            error = written.exception()
        batch.settle(error)

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
    steps = _threaded(Journal.steps)
    report = _threaded(Journal.report)
