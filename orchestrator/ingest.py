"""The Explore ingest bracket: halt once per cluster before its first node, restore after its last.

Restoring happens on every way out of a run, except for a cluster with a node still mid-upgrade
(a hard stop detaches from running jobs): that cluster stays halted for `resume` or
`restore-ingest`, because the vendor requires ingest off while its nodes are upgraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from orchestrator import steps
from orchestrator.errors import OrchestratorError, one_line
from orchestrator.models import IngestAction

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    from orchestrator.client import ApplianceClient
    from orchestrator.plan import IngestBracket, WaveKind

IngestWord = Literal["halted", "restored", "left_off", "restore_failed"]
# Restoring ingest on the way out must not hang a run that is being torn down.
RESTORE_TIMEOUT = 60.0


class IngestJournal(Protocol):
    """The part of the journal the ingest bracket writes to."""

    async def record_ingest(
        self, run_id: str, cluster: str, via: str, action: IngestWord, error: str | None = None
    ) -> None:
        """Commit one ingest action."""


class IngestObserver(Protocol):
    """Told about every ingest action (the live view and the logs)."""

    def ingest_changed(self, cluster: str, action: str, via: str, error: str | None = None) -> None:
        """Ingest on a cluster was halted, restored, left off, or could not be restored (why)."""


@dataclass
class _Cluster:
    bracket: IngestBracket
    halted: bool = False  # the tool disabled ingest and has not re-enabled it
    busy: set[str] = field(default_factory=set)  # members with a job or restart under way
    failed: bool = False  # restoring was tried and failed (tried once more on the way out)


class IngestGuard:
    """Owns every cluster's ingest state for one run."""

    def __init__(
        self,
        brackets: Collection[IngestBracket],
        *,
        client_for: Callable[[str], ApplianceClient],
        journal: IngestJournal,
        run_id: str,
        observer: IngestObserver,
        halted_before: Collection[str] = (),
    ) -> None:
        self.clusters = {
            b.cluster: _Cluster(b, halted=b.cluster in halted_before) for b in brackets
        }
        self.client_for = client_for
        self.journal = journal
        self.run_id = run_id
        self.observer = observer
        self.actions: list[IngestAction] = []
        self._halt_errors: dict[str, str] = {}  # cluster -> why halting failed
        self._decided: set[str] = set()  # clusters halted or left off by this run

    async def halt_before(
        self, wave: WaveKind, *, first_wave: Callable[[IngestBracket], WaveKind | None]
    ) -> None:
        """Halt each cluster whose first node to upgrade is in `wave` (journalled first)."""
        for cluster in self.clusters.values():
            bracket = cluster.bracket
            if bracket.cluster in self._decided or first_wave(bracket) is not wave:
                continue
            self._decided.add(bracket.cluster)
            if not bracket.halt:
                await self._record(bracket, "left_off", bracket.via)
            elif not cluster.halted:  # a resumed run's cluster may be halted already
                await self._halt(cluster)

    async def _halt(self, cluster: _Cluster) -> None:
        bracket = cluster.bracket
        # Written before the PATCH: a crash after it leaves a record restore-ingest obeys.
        await self._record(bracket, "halted", bracket.via)
        cluster.halted = True
        errors: list[str] = []
        for via in _candidates(bracket):
            try:
                await steps.halt_ingest(self.client_for(via))
            except OrchestratorError as exc:
                errors.append(one_line(exc))
                continue
            return
        self._halt_errors[bracket.cluster] = "; ".join(errors)
        await self._record(bracket, "halted", bracket.via, f"halt failed: {'; '.join(errors)}")

    def halt_failed(self, cluster: str | None) -> bool:
        """Whether halting ingest on `cluster` failed (its nodes must not be upgraded)."""
        return cluster is not None and cluster in self._halt_errors

    @contextlib.contextmanager
    def upgrading(self, cluster: str | None, name: str) -> Iterator[None]:
        """Mark a node busy while its job runs; a cancelled node stays busy (detached)."""
        entry = self.clusters.get(cluster or "")
        if entry is None:
            yield
            return
        entry.busy.add(name)
        try:
            yield
        except asyncio.CancelledError:
            raise  # its job goes on without us: keep the cluster halted
        except BaseException:
            entry.busy.discard(name)
            raise
        entry.busy.discard(name)

    async def restore_idle(
        self, *, only: Callable[[str], bool] | None = None, retry_failed: bool = True
    ) -> None:
        """Restore every halted cluster with no node mid-upgrade (and, if given, `only`)."""
        for name, cluster in self.clusters.items():
            if cluster.failed and not retry_failed:
                continue
            if cluster.halted and not cluster.busy and (only is None or only(name)):
                await self._restore(cluster)

    def still_halted(self) -> list[str]:
        """Clusters left with ingest disabled by this run."""
        return [name for name, c in self.clusters.items() if c.halted]

    async def _restore(self, cluster: _Cluster) -> None:
        bracket = cluster.bracket
        errors: list[str] = []
        for via in _candidates(bracket):
            try:
                async with asyncio.timeout(RESTORE_TIMEOUT):
                    await steps.restore_ingest(self.client_for(via))
            except OrchestratorError as exc:
                errors.append(one_line(exc))
                continue
            except TimeoutError:
                errors.append(f"{via}: no answer within {RESTORE_TIMEOUT:.0f}s")
                continue
            cluster.halted = False
            await self._record(bracket, "restored", via)
            return
        cluster.failed = True
        await self._record(bracket, "restore_failed", bracket.via, "; ".join(errors))

    async def _record(
        self, bracket: IngestBracket, action: IngestWord, via: str, error: str | None = None
    ) -> None:
        await self.journal.record_ingest(self.run_id, bracket.cluster, via, action, error)
        self.actions.append(
            IngestAction(
                cluster=bracket.cluster,
                via=via,
                action=action,
                at=dt.datetime.now(dt.UTC),
                error=error,
            )
        )
        self.observer.ingest_changed(bracket.cluster, action, via, error)


def _candidates(bracket: IngestBracket) -> list[str]:
    """The node named in the plan first, then the cluster's other nodes."""
    return [bracket.via, *[m for m in bracket.members if m != bracket.via]]
