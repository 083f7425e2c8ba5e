"""What a run did to each Explore cluster's ingest: its state now and when it was off.

From the run's ingest actions alone (`RunReport.ingest`), in the order they happened. Ingest is
off from the first halt (requested: the PATCH may have taken effect) until a node
acknowledged re-enabling it; a halt every node refused, read back on, changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from orchestrator.core.models import MAY_BE_HALTED, IngestVerb

if TYPE_CHECKING:
    import datetime as dt

    from orchestrator.core.models import IngestAction, RunReport

__all__ = [
    "ClusterIngest",
    "OffSpan",
    "cluster_ingest",
    "ingest_by_cluster",
    "ingest_left_disabled",
]

IngestState = Literal["enabled", "disabled", "kept_off"]
_HALTING = frozenset({IngestVerb.HALT_REQUESTED, IngestVerb.HALTED})
_ENDING = frozenset({IngestVerb.RESTORED, IngestVerb.HALT_FAILED})


@dataclass(frozen=True)
class OffSpan:
    """A stretch of time the run had the cluster's ingest disabled."""

    start: dt.datetime
    end: dt.datetime | None  # None: never re-enabled (still disabled, or the run goes on)

    def seconds(self, until: dt.datetime) -> float:
        """Its length, an open span counted until `until`."""
        return ((self.end or until) - self.start).total_seconds()


@dataclass(frozen=True)
class ClusterIngest:
    """One Explore cluster's ingest as the run left it."""

    cluster: str
    # enabled: the run re-enabled it (or never managed to disable it); disabled: the run
    # disabled it and did not re-enable it; kept_off: found disabled, and kept off by choice.
    state: IngestState
    via: str  # the node of the cluster's last action
    spans: tuple[OffSpan, ...]
    choice: str | None  # found disabled: keep or enable, as the operator chose

    def off_seconds(self, until: dt.datetime) -> float:
        """How long the run had ingest off, an open span counted until `until`."""
        return sum(span.seconds(until) for span in self.spans)


def ingest_by_cluster(report: RunReport) -> dict[str, list[IngestAction]]:
    """The ingest actions grouped by cluster, each group in time order.

    A halt requested and then answered (halted, or failed) reads as its answer alone.
    """
    groups: dict[str, list[IngestAction]] = {}
    for action in sorted(report.ingest, key=lambda a: a.at):
        group = groups.setdefault(action.cluster, [])
        answered = action.action in {IngestVerb.HALTED, IngestVerb.HALT_FAILED}
        if answered and group and _bare_request(group[-1]):
            group.pop()
        group.append(action)
    return groups


def _bare_request(action: IngestAction) -> bool:
    return action.action is IngestVerb.HALT_REQUESTED and action.error is None


def ingest_left_disabled(actions: list[IngestAction]) -> bool:
    """Whether the run halted this cluster's ingest (or may have) and did not restore it."""
    decisive = [a for a in actions if a.action is not IngestVerb.LEFT_OFF]
    return bool(decisive) and decisive[-1].action in MAY_BE_HALTED


def cluster_ingest(report: RunReport) -> list[ClusterIngest]:
    """Each cluster the run touched, in the order it first touched them."""
    return [
        ClusterIngest(
            cluster=cluster,
            state=_state(actions),
            via=actions[-1].via,
            spans=_off_spans(actions),
            choice=report.ingest_found_off.get(cluster),
        )
        for cluster, actions in ingest_by_cluster(report).items()
    ]


def _state(actions: list[IngestAction]) -> IngestState:
    if ingest_left_disabled(actions):
        return "disabled"
    if all(a.action is IngestVerb.LEFT_OFF for a in actions):
        return "kept_off"
    return "enabled"


def _off_spans(actions: list[IngestAction]) -> tuple[OffSpan, ...]:
    """When ingest was off: from a halt (requested or acknowledged) to the next restore."""
    spans: list[OffSpan] = []
    start: dt.datetime | None = None
    for action in actions:
        if action.action in _HALTING and start is None:
            start = action.at
        elif action.action in _ENDING and start is not None:
            # Re-enabled; or a later halt failed and ingest was read back on (someone had
            # turned it on). A halt refused at once never started a span: its request is
            # folded into its answer (`ingest_by_cluster`).
            spans.append(OffSpan(start, action.at))
            start = None
    if start is not None:
        spans.append(OffSpan(start, None))
    return tuple(spans)
