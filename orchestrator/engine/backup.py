"""Backup first: before an appliance's first change, save what it would take to put it back.

Its customizations (`POST /customizations` named after the run, then the `.exbk` file from
`POST /customizations/{id}/download`), its running config (`GET /runningconfig`) and the
license the post-check compares against, kept through the run's `BackupStore` (the run
folder's `backups/`, 0600). A resumed run keeps a backup already saved and does not take it
again. Any failure fails the appliance before anything on it changed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from orchestrator.core.errors import (
    ApplianceError,
    OrchestratorError,
    PreconditionFailed,
    TransportError,
)

if TYPE_CHECKING:
    from orchestrator.engine.ports import BackupStore, HealthPort, StepObserver

__all__ = ["CUSTOMIZATIONS", "LICENSE", "RUNNINGCONFIG", "backup_name", "saved_license", "take"]

CUSTOMIZATIONS = "customizations.exbk"
RUNNINGCONFIG = "runningconfig.json"
LICENSE = "license.json"  # what the post-check compares the license with after a resume
BACKUP_KINDS = (CUSTOMIZATIONS, RUNNINGCONFIG)


def backup_name(run_id: str, appliance: str) -> str:
    """The name the backup gets on the appliance: which run made it, before what."""
    return f"orchestrator run {run_id}: {appliance} before the firmware upgrade"


def already_saved(store: BackupStore, appliance: str) -> bool:
    """Whether every file of the appliance's backup is in the store (a resumed run)."""
    return all(store.saved(appliance, kind) is not None for kind in BACKUP_KINDS)


async def take(
    client: HealthPort,
    store: BackupStore,
    *,
    run_id: str,
    license_before: dict[str, Any],
    observer: StepObserver,
) -> bool:
    """Save the appliance's backup unless the store holds it; whether it was taken now."""
    name = client.name
    if already_saved(store, name):
        observer.note("backup already saved by this run")
        return False
    observer.note("saving its customizations and running config")
    try:
        exbk, config = await _fetch(client, backup_name(run_id, name))
        await store.save(name, LICENSE, json.dumps(license_before, indent=2).encode())
        await store.save(name, RUNNINGCONFIG, config)
        await store.save(name, CUSTOMIZATIONS, exbk)  # last: its presence means a whole backup
    except OrchestratorError as exc:
        why = exc.message if isinstance(exc, ApplianceError) else str(exc)
        raise _failed(name, " ".join(why.split())) from exc
    return True


async def _fetch(client: HealthPort, backup: str) -> tuple[bytes, bytes]:
    """Create the backup called `backup` and download it; read the running config."""
    backup_id = await client.create_backup(backup)
    exbk = await client.download_backup(backup_id)
    if not exbk:
        raise TransportError(client.name, f"the downloaded backup {backup_id} is empty")
    return exbk, await client.get_running_config()


def _failed(name: str, why: str) -> PreconditionFailed:
    return PreconditionFailed(
        name,
        f"backup failed, nothing on it was changed: {why}; "
        "fix the cause and resume, or run again with --no-backup",
    )


def saved_license(store: BackupStore | None, appliance: str) -> dict[str, Any] | None:
    """The license saved before the change (a resumed run past its precheck), if any."""
    data = None if store is None else store.saved(appliance, LICENSE)
    if data is None:
        return None
    try:
        found = json.loads(data)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
