"""The PURE planner: Inventory + facts + settings -> Plan; saved plans and their checks."""

from __future__ import annotations

from orchestrator.plan.build import (
    EXPLORE_NEEDS_NODE,
    ROLE_UNKNOWN_OFFLINE,
    WAVE_ORDER,
    Action,
    Estimate,
    ImageInfo,
    IngestBracket,
    Plan,
    PlannedAppliance,
    Wave,
    WaveKind,
    bracket_waves,
    build_plan,
    choose_found_off,
    ingest_warnings,
    wave_of,
    with_found_off_choice,
)

__all__ = [
    "EXPLORE_NEEDS_NODE",
    "ROLE_UNKNOWN_OFFLINE",
    "WAVE_ORDER",
    "Action",
    "Estimate",
    "ImageInfo",
    "IngestBracket",
    "Plan",
    "PlannedAppliance",
    "Wave",
    "WaveKind",
    "bracket_waves",
    "build_plan",
    "choose_found_off",
    "ingest_warnings",
    "makespan",
    "wave_of",
    "with_found_off_choice",
]

from orchestrator.plan.schedule import makespan
