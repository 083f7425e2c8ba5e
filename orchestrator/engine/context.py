"""Everything one run of the engine works with, built once where the run is assembled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from orchestrator.core.config import Settings
    from orchestrator.core.models import IngestVerb
    from orchestrator.engine.ports import (
        AppliancePort,
        BackupStore,
        GatePort,
        JournalPort,
        RunObserver,
    )
    from orchestrator.engine.runstate import Prior
    from orchestrator.plan import Plan

__all__ = ["RunContext"]


@dataclass(frozen=True)
class RunContext:
    """One run: what to do, with which settings, through which ports, and where it left off."""

    plan: Plan
    settings: Settings
    client_for: Callable[[str], AppliancePort]  # the appliance called NAME
    journal: JournalPort
    run_id: str
    observer: RunObserver
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set: start nothing new
    # A resumed run: what the journal says of each appliance, and of each cluster's ingest.
    prior: Mapping[str, Prior] = field(default_factory=dict)
    halted_before: Mapping[str, IngestVerb] = field(default_factory=dict)
    gate: GatePort | None = None  # where a gate's answer comes from (plans with --pause-after)
    backups: BackupStore | None = None  # where each appliance is backed up (None: no backup)
