"""`orchestrator restore-ingest`: re-enable the ingest an unfinished run left disabled.

It never re-enables a cluster whose nodes the journal shows mid-upgrade unless forced (the
vendor requires ingest off while a node is upgraded), refuses a cluster it does not know, and
closes the interrupted run only when asked for every cluster and none is left halted.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.appliance.client import open_session
from orchestrator.core.errors import ApiError, ConfigError, StateError, TransportError
from orchestrator.core.models import IngestVerb, Outcome
from orchestrator.core.statehome import db_flag
from orchestrator.engine import steps
from orchestrator.engine.ingest import restore_cluster
from orchestrator.journal.aio import AsyncJournal
from orchestrator.journal.runs import require_state_db
from orchestrator.workflow.planning import clients_for

if TYPE_CHECKING:
    from orchestrator.appliance.client import ApplianceClient
    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory
    from orchestrator.journal import RunRecord

__all__ = ["Restored", "restore_ingest"]

_NOT_FOUND = 404
# States in which an appliance's firmware job or restart may be going on.
MID_UPGRADE = frozenset({Outcome.UPGRADING, Outcome.REBOOTING, Outcome.VERIFYING})


@dataclass
class Restored:
    """What `restore-ingest` did."""

    clusters: list[tuple[str, str, str | None]] = field(default_factory=list)  # cluster, via, why
    closed: RunRecord | None = None  # the interrupted run it closed
    forced: list[str] = field(default_factory=list)  # nodes mid-upgrade it was forced past


async def restore_ingest(
    inventory: Inventory, settings: Settings, *, cluster: str | None = None, force: bool = False
) -> Restored:
    """Re-enable ingest on each cluster the journal says the tool halted (or only `cluster`)."""
    require_state_db(settings)
    done = Restored()
    async with AsyncExitStack() as stack:
        journal = await AsyncJournal.open(settings.state_db)
        stack.push_async_callback(journal.close)
        await journal.acquire_lock(command="restore-ingest")
        halted = await journal.halted_clusters(None)
        if cluster is not None:
            _check_cluster(cluster, inventory, settings)
            halted = [(name, via) for name, via in halted if name == cluster]
        unfinished = await journal.unfinished_run()
        session = await stack.enter_async_context(open_session(settings))
        client_for = clients_for(session, inventory, settings)
        journalled = await _mid_upgrade(journal, unfinished, inventory, [n for n, _ in halted])
        busy = [
            text for name, text, job in journalled if await still_upgrading(client_for(name), job)
        ]
        if busy and not force:
            raise StateError(_busy_message(busy, settings))
        done.forced = busy
        run_id = unfinished.run_id if unfinished else await _last_run_id(journal)
        known = {a.name for a in inventory.appliances}
        for name, via in halted:
            members = [a.name for a in inventory.appliances if a.cluster == name]
            candidates = [n for n in dict.fromkeys([via, *members]) if n in known]
            used, error = await restore_cluster(client_for, candidates)
            verb = IngestVerb.RESTORED if error is None else IngestVerb.RESTORE_FAILED
            await journal.record_ingest(run_id, name, used or via, verb, error)
            done.clusters.append((name, used or via, error))
        if cluster is None and unfinished is not None and not await journal.halted_clusters(None):
            await journal.finish_run(unfinished.run_id, exit_code=3)
            done.closed = unfinished
    return done


async def _last_run_id(journal: AsyncJournal) -> str:
    last = await journal.last_run()
    return last.run_id if last else "restore-ingest"


def _check_cluster(cluster: str, inventory: Inventory, settings: Settings) -> None:
    """ConfigError for a cluster the inventory does not have."""
    clusters = sorted({a.cluster for a in inventory.appliances if a.cluster})
    if cluster not in clusters:
        known = ", ".join(clusters) or "none"
        raise ConfigError(
            f"--cluster {cluster}: no such Explore cluster in {inventory.source} (clusters: "
            f"{known}); `orchestrator status{db_flag(settings.state_db)}` shows what is halted"
        )


async def _mid_upgrade(
    journal: AsyncJournal, run: RunRecord | None, inventory: Inventory, clusters: list[str]
) -> list[tuple[str, str, str | None]]:
    """(name, `name (state, job id)`, job id) of each node of `clusters` mid-upgrade.

    As the journal of the interrupted run shows it.
    """
    if run is None or not clusters:
        return []
    members = {a.name for a in inventory.appliances if a.cluster in clusters}
    states = await journal.appliance_states(run.run_id)
    return [
        (
            name,
            f"{name} ({record.state.value}{f', job {record.job_id}' if record.job_id else ''})",
            record.job_id,
        )
        for name, record in states.items()
        if name in members and record.state in MID_UPGRADE
    ]


async def still_upgrading(client: ApplianceClient, job_id: str | None) -> bool:
    """Whether a node the journal shows mid-upgrade still is: not answering, or its job runs.

    The journal of an interrupted run cannot know that a job it was following has ended
    since; the appliance can.
    """
    try:
        await client.get_info(retry=False)
        if job_id is None:
            return await steps.find_running_job(client) is not None
        return not (await client.get_job(job_id, retry=False)).terminal
    except ApiError as exc:
        return exc.status != _NOT_FOUND  # the job is gone: the appliance has moved on
    except TransportError:
        return True  # not answering: restarting into (we hope) the new firmware


def _busy_message(busy: list[str], settings: Settings) -> str:
    db = db_flag(settings.state_db)
    return (
        f"the journal shows {', '.join(busy)} mid-upgrade: re-enabling ingest under a node "
        f"being upgraded breaks the vendor's rule. `orchestrator resume{db}` finishes the "
        "upgrade and then re-enables ingest; add --force to re-enable it now anyway"
    )
