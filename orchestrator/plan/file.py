"""Saved plans: write and read the plan JSON, and find what drifted since it was made.

`find_drift` is pure; `save_plan` and `load_plan` are the only I/O, and every failure is a
one-line PlanError naming the file.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from pydantic import ValidationError

from orchestrator.core.errors import DriftError, PlanError
from orchestrator.core.models import CloudFirmware, ConsoleFirmware, FileFirmware, same_version
from orchestrator.core.userfile import read_regular, replace_atomically
from orchestrator.plan import Plan, PlannedAppliance

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from orchestrator.core.models import Appliance, Facts, Firmware, Inventory
    from orchestrator.plan import ImageInfo, IngestBracket
    from orchestrator.plan.model import Stage

SCHEMA_VERSION = Plan.model_fields["schema_version"].default


def plan_text(plan: Plan) -> str:
    """The plan as saved (`plan --out`, a run folder's plan.json): indented JSON and a newline."""
    return plan.model_dump_json(indent=2) + "\n"


def plan_sha256(plan: Plan) -> str:
    """The sha256 of the plan as saved: what `sha256sum` prints for its file."""
    return hashlib.sha256(plan_text(plan).encode("utf-8")).hexdigest()


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan as JSON, atomically: a reader sees the old file or the new, never half."""
    try:
        replace_atomically(path, plan_text(plan).encode("utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: cannot write the plan ({_os_reason(exc)})") from None


def load_plan(path: Path) -> Plan:
    """Read a saved plan; anything unusable is one PlanError line naming the file."""
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
    except OSError as exc:
        raise _not_a_plan(path, _os_reason(exc)) from None
    except UnicodeDecodeError:
        raise _not_a_plan(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _not_a_plan(path, f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:  # json recurses once per level of [ or {
        raise _not_a_plan(path, "nested too deeply") from None
    if not isinstance(data, dict):
        raise _not_a_plan(path, "not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        reason = f"schema_version {version!r}; this orchestrator reads {SCHEMA_VERSION}"
        raise _not_a_plan(path, reason)
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "plan"
        raise _not_a_plan(path, f"{where}: {first['msg']}") from None


def _not_a_plan(path: Path, reason: str) -> PlanError:
    return PlanError(f"{path}: not a plan file ({' '.join(reason.split())})")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or exc.__class__.__name__


# --- drift -----------------------------------------------------------------------------------


def check_drift(
    plan: Plan,
    inventory: Inventory,
    facts: Mapping[str, Facts] | None,
    images: Mapping[str, ImageInfo],
) -> None:
    """Raise DriftError naming everything that changed since the plan was made."""
    drifts = find_drift(plan, inventory, facts, images)
    if drifts:
        raise DriftError(drifts)


def find_drift(
    plan: Plan,
    inventory: Inventory,
    facts: Mapping[str, Facts] | None,
    images: Mapping[str, ImageInfo],
) -> list[str]:
    """One sentence per change since the plan; `facts` None skips the observed-state checks."""
    drifts: list[str] = []
    if inventory.sha256 != plan.inventory_sha256:
        drifts.append(
            f"inventory {inventory.source} changed since the plan "
            f"(sha256 {_short(plan.inventory_sha256)} -> {_short(inventory.sha256)})"
        )
    drifts.extend(_membership(plan, inventory))
    planned = {line.name: line for line in plan.appliances()}
    for appliance in inventory.appliances:
        if appliance.name in planned:
            drifts.extend(_appliance_drift(planned[appliance.name], appliance, facts))
    drifts.extend(_image_drift(plan, images))
    if facts is not None:
        drifts.extend(_ingest_drift(plan, facts))
    return drifts


def _membership(plan: Plan, inventory: Inventory) -> Iterator[str]:
    planned = [line.name for line in plan.appliances()]
    present = [appliance.name for appliance in inventory.appliances]
    for name in present:
        if name not in planned:
            yield f"appliance {name} was added to the inventory since the plan"
    for name in planned:
        if name not in present:
            yield f"appliance {name} was removed from the inventory since the plan"


def _appliance_drift(
    line: PlannedAppliance, appliance: Appliance, facts: Mapping[str, Facts] | None
) -> Iterator[str]:
    name = appliance.name
    if appliance.url != line.url:
        yield f"{name}'s URL changed: {line.url} -> {appliance.url}"
    seen = facts.get(name) if facts is not None else None
    role = appliance.role or (seen.role if seen else None)
    if role is not None and role != line.role:
        yield f"{name}'s role changed: {line.role or 'unknown'} -> {role}"
    if (appliance.cluster, appliance.node) != (line.cluster, line.node):
        before, after = _place(line.cluster, line.node), _place(appliance.cluster, appliance.node)
        yield f"{name}'s Explore cluster/node changed: {before} -> {after}"
    if appliance.firmware != line.firmware:
        before, after = _describe(line.firmware), _describe(appliance.firmware)
        yield f"{name}'s firmware changed: {before} -> {after}"
    if facts is not None:
        yield from _observed_drift(line, facts.get(name))


def _observed_drift(line: PlannedAppliance, seen: Facts | None) -> Iterator[str]:
    if seen is None or seen.error:
        why = seen.error if seen and seen.error else "no facts were gathered"
        yield f"{line.name} is now unreachable ({why})"
        return
    if seen.running_job is not None:
        yield (
            f"{line.name} now has job {seen.running_job} running (another run of this tool, "
            "using another state database?)"
        )
    if line.current_version is None or seen.version is None:
        return  # planned offline (or not reported): there is nothing to compare with
    if not same_version(line.current_version, seen.version):
        yield f"{line.name} now runs {seen.version}; the plan saw {line.current_version}"


def _image_drift(plan: Plan, images: Mapping[str, ImageInfo]) -> Iterator[str]:
    planned = {line.image.path: line.image for line in plan.appliances() if line.image}
    for path, before in planned.items():
        now = images.get(path)
        if now is None:
            yield f"image {path} is gone"
        elif now.sha256 != before.sha256:
            yield f"image {path} changed: sha256 {_short(before.sha256)} -> {_short(now.sha256)}"
        elif now.size != before.size:
            yield f"image {path} changed: size {before.size} -> {now.size} bytes"


def _ingest_drift(plan: Plan, facts: Mapping[str, Facts]) -> Iterator[str]:
    for bracket in plan.ingest:
        states = [facts[n].ingest_enabled for n in bracket.members if n in facts]
        seen = [state for state in states if state is not None]
        if bracket.was_enabled is None or not seen or any(seen) == bracket.was_enabled:
            continue
        now, then = ("enabled", "disabled") if any(seen) else ("disabled", "enabled")
        yield f"ingest on cluster {bracket.cluster} is now {now}; the plan saw it {then}"


def _describe(firmware: Firmware) -> str:
    if isinstance(firmware, CloudFirmware):
        return f"cloud {firmware.cloud_version}"
    if isinstance(firmware, ConsoleFirmware):
        return f"console {firmware.console_version}"
    text = f"file {firmware.file}" if isinstance(firmware, FileFirmware) else f"url {firmware.url}"
    return f"{text} {firmware.version}" if firmware.version else text


def _place(cluster: str | None, node: object) -> str:
    return f"{cluster or '-'}/{node or '-'}"


def _short(digest: str) -> str:
    return digest[:12] + "…" if len(digest) > 12 else digest  # noqa: PLR2004 -- a readable prefix


# --- the saved plan against the plan rebuilt now ---------------------------------------------


def check_same_plan(saved: Plan, fresh: Plan) -> None:
    """PlanError naming each way the saved plan differs from the plan the fleet gives now."""
    differences = plan_differences(saved, fresh)
    if differences:
        raise PlanError(
            "the plan file does not match the plan the inventory and the fleet give now "
            "(was it edited?)",
            items=differences,
            fix="plan again and review the new plan",
        )


def plan_differences(saved: Plan, fresh: Plan) -> list[str]:
    """What the saved plan would do differently from `fresh` (pure; empty when the same)."""
    differences: list[str] = []
    if [w.kind for w in saved.waves] != [w.kind for w in fresh.waves]:
        differences.append("its waves are not the vendor's order")
    now = {line.name: line for line in fresh.appliances()}
    for line in saved.appliances():
        other = now.get(line.name)
        if other is None:
            differences.append(f"it lists {line.name}, which the inventory does not")
            continue
        differences += [
            f"{line.name}: {what} {_text(mine)} in the file, {_text(theirs)} now"
            for what, mine, theirs in _compared(line, other)
            if mine != theirs
        ]
    missing = now.keys() - {line.name for line in saved.appliances()}
    differences += [f"it leaves out {name}" for name in sorted(missing)]
    differences += _bracket_differences(saved, fresh)
    differences += _batch_differences(saved, fresh)
    differences += _schedule_differences(saved, fresh)
    if set(saved.refusals) != set(fresh.refusals):
        differences.append("its refusals differ from the vendor rules' verdict")
    return differences


def _compared(line: PlannedAppliance, other: PlannedAppliance) -> list[tuple[str, object, object]]:
    # A plan file older than the TLS fields recorded nothing to compare: it is not refused.
    tls = [] if line.tls is None else [("TLS check", _tls(line), _tls(other))]
    return [
        *tls,
        ("wave", line.wave, other.wave),
        ("action", line.action, other.action),
        ("target version", line.target_version, other.target_version),
        ("role", line.role, other.role),
        ("URL", line.url, other.url),
        ("firmware", line.firmware, other.firmware),
        ("image", line.image, other.image),
        ("Explore place", (line.cluster, line.node), (other.cluster, other.node)),
        ("console", (line.console, line.console_id), (other.console, other.console_id)),
    ]


def _tls(line: PlannedAppliance) -> str:
    return f"{line.tls} {line.pin}" if line.pin else str(line.tls)


def _bracket_differences(saved: Plan, fresh: Plan) -> list[str]:
    mine = {b.cluster: b for b in saved.ingest}
    differences = []
    for bracket in fresh.ingest:
        other = mine.pop(bracket.cluster, None)
        if other is None:
            differences.append(f"it does not halt ingest on cluster {bracket.cluster}")
        elif _bracket_key(other) != _bracket_key(bracket):
            differences.append(f"its ingest bracket of cluster {bracket.cluster} differs")
    differences += [f"it brackets unknown cluster {name}" for name in sorted(mine)]
    return differences


def _batch_differences(saved: Plan, fresh: Plan) -> list[str]:
    """The batches must be the reviewed ones: their sizes and who is in each."""
    if saved.batch_sizes != fresh.batch_sizes:
        sizes = (_text(saved.batch_sizes), _text(fresh.batch_sizes))
        return ["its batch sizes are {} in the file, {} now".format(*sizes)]
    now = {wave.kind: wave.batch_names() for wave in fresh.waves}
    return [
        f"its batches of wave {wave.kind} differ"
        for wave in saved.waves
        if wave.kind in now and wave.batch_names() != now[wave.kind]
    ]


def _schedule_differences(saved: Plan, fresh: Plan) -> list[str]:
    """The schedule must be the reviewed one, and so must what each stage waits for."""
    if saved.schedule != fresh.schedule:
        return [f"its schedule is {saved.schedule} in the file, {fresh.schedule} now"]
    now = {stage.name: stage for stage in fresh.stages}
    differences = []
    if saved.cluster_starts != fresh.cluster_starts:
        starts = (saved.cluster_starts, fresh.cluster_starts)
        differences.append("its Explore clusters start {!r} in the file, {!r} now".format(*starts))
    for stage in saved.stages:
        other = now.pop(stage.name, None)
        if other is None or _waits(other) != _waits(stage):
            differences.append(f"its stage {stage.name} differs (what it holds or waits for)")
    differences += [f"it has no stage {name}" for name in sorted(now)]
    return differences


def _waits(stage: Stage) -> tuple[object, ...]:
    return (stage.members, set(stage.after), set(stage.after_stages))


def _bracket_key(bracket: IngestBracket) -> tuple[object, ...]:
    """What a bracket must keep: its members, and whether it halts.

    For a cluster found off, whether it halts is the operator's choice, made anew at apply.
    """
    halt = None if bracket.found_off else bracket.halt
    return (bracket.members, bracket.found_off, halt)


def _text(value: object) -> str:
    if isinstance(value, tuple):
        return "/".join(str(part or "-") for part in value)
    if hasattr(value, "model_dump"):
        return "another" if value else "none"
    return str(value) if value is not None else "none"
