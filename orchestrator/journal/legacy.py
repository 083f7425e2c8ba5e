"""The state database of orchestrator 0.1 (`./orchestrator-state.db`), found and pointed at.

Runs now live in one per-user state home (`orchestrator.core.statehome`). A database left in the
working directory by the old default is never read silently; commands say it is there and
how to use it. Once, when it holds nothing unfinished; every time while it holds an
interrupted run or a cluster the tool left with ingest disabled.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING

from orchestrator.core.errors import StateError
from orchestrator.core.statehome import LEGACY_STATE_DB, make_private_dir
from orchestrator.journal import Journal

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.core.config import Settings

__all__ = ["legacy_notice"]


def legacy_notice(settings: Settings, *, explicit: bool) -> str | None:
    """The line to print about an old state database in this folder, or None."""
    legacy = LEGACY_STATE_DB.absolute()
    if explicit or not legacy.is_file() or _same(legacy, settings.state_db):
        return None
    use = f"`--state-db {LEGACY_STATE_DB}` uses it"
    pending = _pending(legacy)
    if pending:
        return (
            f"{LEGACY_STATE_DB} here (the state database of an older orchestrator) holds "
            f"{pending}, and commands now use {settings.state_db}: {use} "
            f"(e.g. `orchestrator resume --state-db {LEGACY_STATE_DB}`)"
        )
    marker = settings.state_db.parent / "notices" / hashlib.sha256(bytes(legacy)).hexdigest()
    if marker.exists():
        return None
    with contextlib.suppress(OSError, StateError):
        make_private_dir(marker.parent)
        marker.touch()
    return (
        f"{LEGACY_STATE_DB} here is the state database of an older orchestrator; runs now "
        f"live in {settings.state_db}: {use} (said once)"
    )


def _same(one: Path, other: Path) -> bool:
    with contextlib.suppress(OSError):
        return one.resolve() == other.resolve()
    return False


def _pending(path: Path) -> str | None:
    """What unfinished business the old database holds, or None."""
    try:
        journal = Journal.open_readonly(path)
    except StateError:
        return None
    if journal is None:
        return None
    with journal:
        try:
            if journal.unfinished_run() is not None:
                return "an interrupted run"
            halted = journal.halted_clusters(None)
        except StateError:
            return None
    if halted:
        return f"cluster {', '.join(c for c, _ in halted)} with ingest disabled by the tool"
    return None
