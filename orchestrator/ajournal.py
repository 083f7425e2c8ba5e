"""The journal for the event loop: every call runs, strictly in order, on one worker thread.

The runner awaits a write before it sends the request the write announces; the event loop never
blocks on SQLite or an fsync.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Concatenate, ParamSpec, Self, TypeVar

from orchestrator.journal import Journal

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path
    from types import TracebackType

P = ParamSpec("P")
T = TypeVar("T")


def _threaded(
    method: Callable[Concatenate[Journal, P], T],
) -> Callable[Concatenate[AsyncJournal, P], Coroutine[None, None, T]]:
    """An async twin of a Journal method that runs it on the AsyncJournal's worker thread."""

    async def threaded(self: AsyncJournal, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(method, self.journal, *args, **kwargs)
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

    _close = _threaded(Journal.close)
    acquire_lock = _threaded(Journal.acquire_lock)
    release_lock = _threaded(Journal.release_lock)
    start_run = _threaded(Journal.start_run)
    record_state = _threaded(Journal.record_state)  # returns once committed
    record_states_bulk = _threaded(Journal.record_states_bulk)
    record_ingest = _threaded(Journal.record_ingest)
    finish_run = _threaded(Journal.finish_run)
    last_run = _threaded(Journal.last_run)
    unfinished_run = _threaded(Journal.unfinished_run)
    appliance_states = _threaded(Journal.appliance_states)
    halted_clusters = _threaded(Journal.halted_clusters)
    events = _threaded(Journal.events)
    report = _threaded(Journal.report)
