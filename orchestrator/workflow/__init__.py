"""What the commands do, without printing: plan, execute, resume, restore, follow a run."""

from __future__ import annotations

from orchestrator.workflow import planning, running
from orchestrator.workflow.planning import (
    clients_for,
    hash_images,
    make_plan,
    observe,
    prepare_saved_plan,
)
from orchestrator.workflow.running import execute, resume

__all__ = [
    "clients_for",
    "execute",
    "hash_images",
    "make_plan",
    "observe",
    "planning",
    "prepare_saved_plan",
    "resume",
    "running",
]
