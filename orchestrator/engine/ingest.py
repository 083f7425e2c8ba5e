"""The Explore ingest bracket: halt once per cluster before its first node, restore after its last.

A halt is journalled as requested (synced) before its PATCH and as halted once a node has
acknowledged it; no Explore node's job starts on a cluster whose halt is not acknowledged
(`ready`). Before its cluster's next node, a resumed run sends the halt again if the
journal shows it only requested (the process may have died while the PATCH was being
retried), and reads ingest back if it shows it acknowledged (halting again if it is on).
A halt every node refused is read back: ingest still on is `halt_failed` (nothing changed,
nothing to restore).

Restoring happens on every way out of a run, except for a cluster with a node still mid-upgrade
(a hard stop detaches from running jobs): that cluster stays halted for `resume` or
`restore-ingest`, because the vendor requires ingest off while its nodes are upgraded.

Ingest found off: a cluster the plan saw disabled is left off, unless the operator chose
`enable` (the plan's `IngestBracket.choice`): then it is "halted" (confirmed off) and enabled
after its last node. A cluster the plan did not observe (an offline plan) is read before the
halt; found off, it is treated the same way, never turned on by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.core.errors import OrchestratorError, one_line
from orchestrator.core.models import IngestAction, IngestVerb
from orchestrator.engine import steps
from orchestrator.engine.ports import IngestChanged

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from orchestrator.engine.context import RunContext
    from orchestrator.engine.ports import AppliancePort
    from orchestrator.plan import IngestBracket, WaveKind

# Restoring ingest on the way out must not hang a run that is being torn down.
RESTORE_TIMEOUT = 60.0
FOUND_OFF_AT_RUN = "found disabled when the run began; kept off"


@dataclass
class _Cluster:
    bracket: IngestBracket
    halted: bool = False  # the tool may have disabled ingest and has not re-enabled it
    confirmed: bool = False  # a node acknowledged the halt in this run
    resumed: bool = False  # an interrupted run of this tool halted it (per the journal)
    acknowledged: bool = False  # ... and a node acknowledged that halt (per the journal)
    busy: set[str] = field(default_factory=set)  # members with a job or restart under way
    failed: bool = False  # restoring was tried and failed (tried once more on the way out)


class IngestGuard:
    """Owns every cluster's ingest state for one run."""

    def __init__(self, context: RunContext) -> None:
        before = context.halted_before
        self.clusters = {
            b.cluster: _Cluster(
                b,
                halted=b.cluster in before,
                resumed=b.cluster in before,
                acknowledged=before.get(b.cluster) is IngestVerb.HALTED,
            )
            for b in context.plan.ingest
        }
        self.client_for = context.client_for
        self.journal = context.journal
        self.run_id = context.run_id
        self.observer = context.observer
        self.actions: list[IngestAction] = []
        self._halt_errors: dict[str, str] = {}  # cluster -> why halting failed
        self._decided: set[str] = set()  # clusters halted or left off by this run
        self._left_off: set[str] = set()  # clusters found off and kept off

    async def halt_before(
        self, wave: WaveKind, *, first_wave: Callable[[IngestBracket], WaveKind | None]
    ) -> None:
        """Halt each cluster whose first node to upgrade is in `wave` (journalled first)."""
        for cluster in self.clusters.values():
            if first_wave(cluster.bracket) is wave:
                await self.halt(cluster.bracket.cluster)

    async def halt(self, name: str) -> None:
        """Halt (or leave off) ingest on cluster `name` before its first node; once per run."""
        cluster = self.clusters.get(name)
        if cluster is None or name in self._decided:
            return
        self._decided.add(name)
        bracket = cluster.bracket
        if not bracket.halt and not cluster.resumed:
            await self._leave_off(bracket, None)
        elif cluster.resumed:
            await self._confirm_resumed(cluster)
        elif not await self._found_off(cluster):
            await self._halt(cluster)

    async def _confirm_resumed(self, cluster: _Cluster) -> None:
        """A halt journalled by the interrupted run: read back if acknowledged, else re-sent."""
        if cluster.acknowledged and await self._read_enabled(cluster.bracket) is False:
            cluster.confirmed = True  # still off, as the journal says: nothing to record
            return
        await self._halt(cluster)

    async def _found_off(self, cluster: _Cluster) -> bool:
        """For a cluster the plan did not observe: left off if it is off and was not chosen on."""
        bracket = cluster.bracket
        if bracket.was_enabled is not None or bracket.choice == "enable":
            return False
        if await self._read_enabled(bracket) is not False:
            return False
        await self._leave_off(bracket, FOUND_OFF_AT_RUN)
        return True

    async def _leave_off(self, bracket: IngestBracket, note: str | None) -> None:
        self._left_off.add(bracket.cluster)
        await self._record(bracket, IngestVerb.LEFT_OFF, bracket.via, note)

    async def _halt(self, cluster: _Cluster) -> None:
        bracket = cluster.bracket
        # Written (and synced) before the PATCH: a crash after it leaves a record that
        # restore-ingest obeys, and that `resume` confirms by halting again.
        await self._record(bracket, IngestVerb.HALT_REQUESTED, bracket.via)
        cluster.halted = True
        errors: list[str] = []
        for via in _candidates(bracket):
            try:
                await steps.halt_ingest(self.client_for(via))
            except OrchestratorError as exc:
                errors.append(one_line(exc))
                continue
            await self._confirm(cluster, via)
            return
        await self._halt_refused(cluster, "; ".join(errors))

    async def _confirm(self, cluster: _Cluster, via: str, note: str | None = None) -> None:
        cluster.confirmed = True
        await self._record(cluster.bracket, IngestVerb.HALTED, via, note)

    async def _halt_refused(self, cluster: _Cluster, errors: str) -> None:
        """Every node refused the halt: read it back to tell unchanged from unknown."""
        bracket = cluster.bracket
        enabled = await self._read_enabled(bracket)
        if enabled is False:
            await self._confirm(cluster, bracket.via, "confirmed off by reading it back")
            return
        self._halt_errors[bracket.cluster] = errors
        if enabled:
            cluster.halted = False  # ingest was never changed: nothing to restore
            await self._record(bracket, IngestVerb.HALT_FAILED, bracket.via, errors)
        else:
            message = f"halt not confirmed, ingest state unknown: {errors}"
            await self._record(bracket, IngestVerb.HALT_REQUESTED, bracket.via, message)

    async def _read_enabled(self, bracket: IngestBracket) -> bool | None:
        """Whether the cluster ingests, read from the first node that answers (None: none)."""
        for via in _candidates(bracket):
            with contextlib.suppress(OrchestratorError):
                return await steps.read_ingest(self.client_for(via))
        return None

    def halt_failed(self, cluster: str | None) -> bool:
        """Whether halting ingest on `cluster` failed (its nodes must not be upgraded)."""
        return cluster is not None and cluster in self._halt_errors

    def ready(self, cluster: str | None) -> bool:
        """Whether an Explore node of `cluster` may start its job: ingest is known to be off."""
        if cluster is None:
            return True
        entry = self.clusters.get(cluster)
        return entry is not None and (entry.confirmed or cluster in self._left_off)

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
        via, error = await restore_cluster(self.client_for, _candidates(bracket))
        if error is None:
            cluster.halted = False
            await self._record(bracket, IngestVerb.RESTORED, via)
            return
        cluster.failed = True
        await self._record(bracket, IngestVerb.RESTORE_FAILED, bracket.via, error)

    async def _record(
        self, bracket: IngestBracket, action: IngestVerb, via: str, error: str | None = None
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
        self.observer.notify(IngestChanged(bracket.cluster, action, via, error))


async def restore_cluster(
    client_for: Callable[[str], AppliancePort], candidates: list[str]
) -> tuple[str, str | None]:
    """Re-enable ingest through the first of `candidates` that accepts: (via, None) or (_, why).

    Used by a run on its way out and by `restore-ingest`: one routine, one timeout per node.
    """
    errors: list[str] = []
    for via in candidates:
        try:
            async with asyncio.timeout(RESTORE_TIMEOUT):
                await steps.restore_ingest(client_for(via))
        except OrchestratorError as exc:
            errors.append(one_line(exc))
            continue
        except TimeoutError:
            errors.append(f"{via}: no answer within {RESTORE_TIMEOUT:.0f}s")
            continue
        return via, None
    return candidates[0] if candidates else "", "; ".join(errors) or "no node to send it to"


def _candidates(bracket: IngestBracket) -> list[str]:
    """The node named in the plan first, then the cluster's other nodes."""
    return [bracket.via, *[m for m in bracket.members if m != bracket.via]]
