"""PURE planner: Inventory + observed facts + settings -> Plan (waves, ingest brackets, estimates).

No I/O, no logging, no sleeping, never exits. Imports only models, config and pure helpers.
The plan's models live in `orchestrator.plan.model` and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from orchestrator.core.models import (
    ConsoleFirmware,
    Facts,
    FileFirmware,
    Firmware,
    NodeKind,
    Role,
    UrlFirmware,
    version_order,
)
from orchestrator.plan.console import console_name, ingest_via, keyless_refusals
from orchestrator.plan.fitting import deferral_note, fit_graph
from orchestrator.plan.model import (
    WAVE_OF_ROLE,
    WAVE_ORDER,
    Action,
    Estimate,
    FoundOffChoice,
    ImageInfo,
    IngestBracket,
    Plan,
    PlanModel,
    PlannedAppliance,
    Wave,
    WaveKind,
)
from orchestrator.plan.rules import check_version_rules
from orchestrator.plan.schedule import batch_schedule
from orchestrator.plan.stages import build_stages

__all__ = [
    "WAVE_ORDER",
    "Action",
    "Estimate",
    "ImageInfo",
    "IngestBracket",
    "Plan",
    "PlanModel",
    "PlannedAppliance",
    "Wave",
    "WaveKind",
    "build_plan",
    "build_wave",
    "choose_found_off",
    "ingest_warnings",
    "with_found_off_choice",
]

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Iterable, Mapping, Sequence

    from orchestrator.core.batchsizes import BatchSizes
    from orchestrator.core.config import Settings
    from orchestrator.core.models import Appliance, Inventory
    from orchestrator.plan.model import ClusterStarts


ROLE_UNKNOWN_OFFLINE = "role unknown offline; plan online or use a YAML inventory"
EXPLORE_NEEDS_NODE = "Explore nodes need cluster and node: use a YAML or headered CSV inventory"

FOUND_OFF_ASK = (
    "ingest on cluster {cluster} is already disabled, and no run of this tool disabled it: "
    "apply asks whether to keep it off or to enable it after the upgrade "
    "(--ingest-found-off keep|enable)"
)
FOUND_OFF_CHOSEN = {
    "keep": "ingest on cluster {cluster} is already disabled and stays disabled "
    "(--ingest-found-off keep)",
    "enable": "ingest on cluster {cluster} is already disabled and will be enabled after its "
    "last node (--ingest-found-off enable)",
}
HALTED_BY_TOOL = (
    "ingest on cluster {cluster} was disabled by a run of this tool that did not finish: "
    "`orchestrator resume` continues that run, or `orchestrator restore-ingest` re-enables it"
)


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """What every per-appliance decision needs besides the appliance itself."""

    facts: Mapping[str, Facts] | None
    images: Mapping[str, ImageInfo]
    settings: Settings
    console: str | None = None  # console mode: the Command appliance that upgrades the others


def build_plan(
    inventory: Inventory,
    facts: Mapping[str, Facts] | None,
    images: Mapping[str, ImageInfo],
    settings: Settings,
    *,
    now: dt.datetime,
    halted_by_tool: Collection[str] = (),
) -> Plan:
    """Plan the upgrade of `inventory` (`facts` None: offline); refusals are data, not raises.

    `halted_by_tool` names the clusters the state database says an unfinished run disabled.
    """
    inputs = _Inputs(facts, images, settings, console_name(inventory))
    warnings: list[str] = []
    if facts is None:
        warnings.append("planned offline: current versions and ingest state were not observed")
    planned: list[PlannedAppliance] = []
    for appliance in inventory.appliances:
        line, notes = _plan_appliance(appliance, inputs)
        planned.append(line)
        warnings.extend(notes)
    refusals, rule_warnings = check_version_rules(planned)
    keyless = frozenset(a.name for a in inventory.appliances if a.api_key is None)
    brackets = ingest_brackets(
        planned, facts, frozenset(halted_by_tool), settings.ingest_found_off, keyless
    )
    refusals += keyless_refusals(brackets, keyless)
    waves = [build_wave(kind, planned, settings) for kind in WAVE_ORDER]
    schedule = settings.schedule_kind
    stages = build_stages(planned, facts) if schedule == "graph" else ()
    cluster_starts: ClusterStarts = "ready"
    if schedule == "graph":
        fit = fit_graph(waves, stages, brackets, settings, _budget(now, settings.window_end))
        waves, brackets, estimate, cluster_starts = (
            fit.waves,
            fit.brackets,
            fit.estimate,
            fit.cluster_starts,
        )
        warnings.extend(fit.warnings)
    elif settings.window_end is not None:
        waves, window_warning = _fit_window(waves, now, settings.window_end, settings.concurrency)
        warnings.extend(window_warning)
    if schedule == "waves":
        estimate = sum(wave.estimate for wave in waves)
    return Plan(
        created_at=now,
        inventory_source=inventory.source,
        inventory_sha256=inventory.sha256,
        offline=facts is None,
        concurrency=settings.concurrency,
        allow_downgrade=settings.allow_downgrade,
        window_end=settings.window_end,
        batch_sizes=str(settings.batches) if settings.batches else None,
        pause_after=settings.pause_after,
        schedule=schedule,
        stages=stages,
        clusters_at_once=settings.clusters_at_once,  # refused with waves (Settings)
        cluster_starts=cluster_starts,
        waves=tuple(waves),
        unplaced=tuple(p for p in planned if p.wave is None),
        ingest=brackets,
        warnings=(*warnings, *rule_warnings, *ingest_warnings(brackets)),
        refusals=tuple(refusals),
        estimate=estimate,
    )


def wave_of(role: Role | None, cluster: str | None, node: NodeKind | None) -> WaveKind | None:
    """The wave an appliance belongs to; None if its role or Explore placement is unknown."""
    if role is Role.EXPLORE:
        return WAVE_OF_ROLE.get((role, node)) if cluster else None
    return WAVE_OF_ROLE.get((role, None))


def _plan_appliance(
    appliance: Appliance, inputs: _Inputs
) -> tuple[PlannedAppliance, tuple[str, ...]]:
    observed = _observed(appliance, inputs.facts)
    role = appliance.role or (observed.role if observed else None)
    line = PlannedAppliance(
        name=appliance.name,
        url=appliance.url,
        role=role,
        cluster=appliance.cluster,
        node=appliance.node,
        wave=wave_of(role, appliance.cluster, appliance.node),
        current_version=observed.version if observed else None,
        target_version=appliance.firmware.version,
        action=_action(appliance.firmware),
        firmware=appliance.firmware,
        image=_image(appliance.firmware, inputs.images),
        tls=appliance.tls_check,
        pin=appliance.pin,
        **_console_fields(appliance, inputs.console),
    )
    refusal = _refusal(line, observed)
    if refusal is not None:
        return _refuse(line, refusal), ()
    return _decide_version(line, inputs.settings)


def _observed(appliance: Appliance, facts: Mapping[str, Facts] | None) -> Facts | None:
    if facts is None:
        return None
    return facts.get(appliance.name) or Facts(
        name=appliance.name, error="no facts were gathered at plan time"
    )


def _console_fields(appliance: Appliance, console: str | None) -> dict[str, object]:
    if not isinstance(appliance.firmware, ConsoleFirmware):
        return {}
    return {"console": console, "console_id": appliance.console_id}


def _action(firmware: Firmware) -> Action:
    if isinstance(firmware, FileFirmware):
        return Action.UPLOAD
    if isinstance(firmware, ConsoleFirmware):
        return Action.CONSOLE
    return Action.URL if isinstance(firmware, UrlFirmware) else Action.CLOUD


def _image(firmware: Firmware, images: Mapping[str, ImageInfo]) -> ImageInfo | None:
    return images.get(str(firmware.file)) if isinstance(firmware, FileFirmware) else None


def _refusal(line: PlannedAppliance, observed: Facts | None) -> str | None:
    """Why the plan will not touch this appliance at all, or None."""
    if observed is not None and (reported := observed.refusal):
        return reported
    if line.role is None:
        if observed is None:
            return ROLE_UNKNOWN_OFFLINE
        return f"role unknown: platform {observed.platform or '(none)'} is not a known appliance"
    if line.role is Role.EXPLORE and line.wave is None:
        return EXPLORE_NEEDS_NODE
    if isinstance(line.firmware, FileFirmware) and line.image is None:
        return f"image {line.firmware.file} was not found at plan time"
    return None


def _refuse(line: PlannedAppliance, reason: str) -> PlannedAppliance:
    return line.model_copy(update={"action": Action.REFUSED, "reason": reason, "image": None})


def _decide_version(
    line: PlannedAppliance, settings: Settings
) -> tuple[PlannedAppliance, tuple[str, ...]]:
    """Skip, refuse a downgrade, or upgrade with an estimate; plus any warnings."""
    order = version_order(line.current_version, line.target_version)
    if order == 0:
        return _skip(line), ()
    if order is not None and order < 0:
        move = f"from {line.current_version} to {line.target_version}"
        if not settings.allow_downgrade:
            return _refuse(line, f"downgrade {move}; pass --allow-downgrade"), ()
        return _with_estimate(line, settings), (f"{line.name} will be downgraded {move}",)
    return _with_estimate(line, settings), _version_notes(line, order)


def _version_notes(line: PlannedAppliance, order: int | None) -> tuple[str, ...]:
    if line.target_version is None:
        unchecked = "skip, downgrade and ordering checks not possible"
        return (f"target version of {line.name} unknown: {unchecked}",)
    if line.current_version is not None and order is None:
        pair = f"{line.current_version} and {line.target_version}"
        return (f"cannot compare versions {pair} of {line.name}: skip check not possible",)
    return ()


def _skip(line: PlannedAppliance) -> PlannedAppliance:
    reason = f"already at {line.target_version}"
    return line.model_copy(update={"action": Action.SKIP, "reason": reason, "image": None})


def _with_estimate(line: PlannedAppliance, settings: Settings) -> PlannedAppliance:
    transfer = {"download": settings.download_duration}
    if line.action is Action.UPLOAD and line.image is not None:
        transfer = {"upload": line.image.size / settings.upload_throughput}
    estimate = Estimate(
        upgrade=settings.upgrade_duration, reboot=settings.reboot_duration, **transfer
    )
    return line.model_copy(update={"estimate": estimate})


# --- ingest brackets -------------------------------------------------------------------------


def ingest_brackets(
    planned: Sequence[PlannedAppliance],
    facts: Mapping[str, Facts] | None,
    halted_by_tool: frozenset[str],
    choice: FoundOffChoice | None,
    keyless: frozenset[str] = frozenset(),
) -> tuple[IngestBracket, ...]:
    """One bracket per cluster with a node to upgrade, through a node with a key if any."""
    clusters: dict[str, list[PlannedAppliance]] = {}
    for line in planned:
        if line.role is Role.EXPLORE and line.cluster:
            clusters.setdefault(line.cluster, []).append(line)
    brackets = []
    for cluster, nodes in clusters.items():
        acting = [n for n in nodes if n.actionable]
        if not acting:
            continue
        was_enabled = _ingest_state([n.name for n in nodes], facts)
        bracket = IngestBracket(
            cluster=cluster,
            via=ingest_via(nodes, keyless) or acting[0].name,
            members=tuple(n.name for n in nodes),
            was_enabled=was_enabled,
            halt=was_enabled is not False,
            halted_by_tool=cluster in halted_by_tool,
            found_off=was_enabled is False and cluster not in halted_by_tool,
        )
        brackets.append(choose_found_off(bracket, choice))
    return tuple(brackets)


def choose_found_off(bracket: IngestBracket, choice: FoundOffChoice | None) -> IngestBracket:
    """The bracket with the operator's choice for ingest found off (no change otherwise)."""
    if not bracket.found_off or choice is None:
        return bracket
    return bracket.model_copy(update={"choice": choice, "halt": choice == "enable"})


def with_found_off_choice(plan: Plan, choice: FoundOffChoice) -> Plan:
    """`plan` with `choice` made for every cluster found off and not decided yet."""
    brackets = tuple(choose_found_off(b, choice) if b.choice is None else b for b in plan.ingest)
    warnings = [w for w in plan.warnings if w not in ingest_warnings(plan.ingest)]
    return plan.model_copy(
        update={"ingest": brackets, "warnings": (*warnings, *ingest_warnings(brackets))}
    )


def ingest_warnings(brackets: Sequence[IngestBracket]) -> tuple[str, ...]:
    """What the plan must say about clusters whose ingest is already off."""
    warnings = []
    for bracket in brackets:
        if bracket.halted_by_tool:
            warnings.append(HALTED_BY_TOOL.format(cluster=bracket.cluster))
        elif bracket.found_off:
            text = FOUND_OFF_CHOSEN[bracket.choice] if bracket.choice else FOUND_OFF_ASK
            warnings.append(text.format(cluster=bracket.cluster))
    return tuple(warnings)


def _ingest_state(names: Iterable[str], facts: Mapping[str, Facts] | None) -> bool | None:
    """True if any node saw ingest on, False if all that answered saw it off, None if none did."""
    if facts is None:
        return None
    states = [facts[n].ingest_enabled for n in names if n in facts]
    seen = [state for state in states if state is not None]
    return any(seen) if seen else None


def bracket_waves(plan: Plan, bracket: IngestBracket) -> tuple[WaveKind, WaveKind] | None:
    """The waves a bracket's halt precedes and its restore follows (None if nothing is upgraded)."""
    members = set(bracket.members)
    kinds = [
        wave.kind
        for wave in plan.waves
        if any(a.name in members and a.actionable for a in wave.appliances)
    ]
    return (kinds[0], kinds[-1]) if kinds else None


# --- estimates and the window ----------------------------------------------------------------


def build_wave(kind: WaveKind, planned: Sequence[PlannedAppliance], settings: Settings) -> Wave:
    """The wave of `kind`: its members in plan order, their batches, its estimate."""
    members = tuple(line for line in planned if line.wave is kind)
    wave = Wave(kind=kind, appliances=members, batches=_batches(members, settings.batches))
    estimate = batch_schedule(wave.batch_jobs(), settings.concurrency).makespan
    return wave.model_copy(update={"estimate": estimate})


def _batches(
    members: Sequence[PlannedAppliance], sizes: BatchSizes | None
) -> tuple[tuple[str, ...], ...]:
    """The wave's appliances to upgrade cut into batches of `sizes`, in inventory order."""
    names = [line.name for line in members if line.actionable]
    if sizes is None:
        return ()
    batches: list[tuple[str, ...]] = []
    for size in sizes.split(len(names)):
        batches.append(tuple(names[:size]))
        names = names[size:]
    return tuple(batches)


def _fit_window(
    waves: Sequence[Wave], now: dt.datetime, window_end: dt.datetime, workers: int
) -> tuple[list[Wave], tuple[str, ...]]:
    """Mark what would not finish before `window_end`; a deferral also defers all later waves."""
    budget = _budget(now, window_end)
    fitted: list[Wave] = []
    elapsed, deferred, total = 0.0, 0, 0
    for wave in waves:
        late = _late(wave, budget - elapsed if not deferred else -1.0, workers)
        deferred += len(late)
        total += sum(1 for line in wave.appliances if line.actionable)
        elapsed += wave.estimate
        lines = tuple(
            line.model_copy(update={"fits_window": False}) if line.name in late else line
            for line in wave.appliances
        )
        fitted.append(wave.model_copy(update={"appliances": lines}))
    return fitted, deferral_note(deferred, total, window_end)


def _budget(now: dt.datetime, window_end: dt.datetime | None) -> float:
    """Seconds from `now` to the window's end (infinite without a window)."""
    if window_end is None:
        return math.inf
    if (now.tzinfo is None) != (window_end.tzinfo is None):
        now = now.replace(tzinfo=window_end.tzinfo)
    return (window_end - now).total_seconds()


def _late(wave: Wave, budget: float, workers: int) -> frozenset[str]:
    """Names that would end after `budget` seconds, in the plan's schedule order."""
    return batch_schedule(wave.batch_jobs(), workers, budget=budget).late
