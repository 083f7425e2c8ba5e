"""What `apply` and `resume` do once the plan is settled: journal a run and execute it.

A run is journalled in the state database and gets a folder beside it
(`orchestrator.core.statehome`): the plan it executed, and its log of every event while it
runs. `resume` takes an interrupted run up from its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from orchestrator.appliance.client import open_session
from orchestrator.core.about import host_name, tool_version, user_name
from orchestrator.core.config import Settings, resumed_settings
from orchestrator.core.errors import PlanError, StateError
from orchestrator.core.models import MAY_BE_HALTED, RunOrigin
from orchestrator.core.statehome import RunFolder, db_flag
from orchestrator.engine import logs
from orchestrator.engine.context import RunContext
from orchestrator.engine.runner import run_plan
from orchestrator.engine.runstate import Prior, priors
from orchestrator.journal.aio import AsyncJournal
from orchestrator.journal.runs import refuse_new_run, require_state_db
from orchestrator.journal.view import run_origin, started_by, with_steps
from orchestrator.plan.file import plan_sha256, plan_text
from orchestrator.report.document import started_payload
from orchestrator.report.notify import notify, redact_url
from orchestrator.workflow.backups import FolderBackups, backup_files
from orchestrator.workflow.gatekeeper import JournalGate, gate_records
from orchestrator.workflow.planning import clients_for, hash_images

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from orchestrator.core.models import GateRecord, IngestVerb, Inventory, RunReport
    from orchestrator.engine.ports import GateRequest, RunObserver
    from orchestrator.journal.gates import Answer
    from orchestrator.plan import Plan

    GatePromptFn = Callable[[GateRequest], Awaitable[Answer | None]]  # asks the terminal

_log = structlog.get_logger("orchestrator")


async def execute(
    plan: Plan,
    inventory: Inventory,
    settings: Settings,
    *,
    observer: RunObserver,
    stop: asyncio.Event,
    command: str = "apply",
    run_id: str | None = None,
    plan_file: Path | None = None,
    prompt: GatePromptFn | None = None,
) -> RunReport:
    """Lock the state database, journal a new run (`run_id` if given), and run the plan.

    `plan_file` is the reviewed plan `apply --plan` was given: the report names it and its hash.
    """
    if plan.refused:
        raise PlanError("the plan is refused (see its refusals); fix them and plan again")
    if plan.undecided_found_off():
        clusters = ", ".join(plan.undecided_found_off())
        raise PlanError(
            f"ingest on cluster {clusters} was found disabled: choose --ingest-found-off keep "
            "(leave it off) or enable (turn it on after the upgrade)"
        )
    async with AsyncExitStack() as stack:
        journal = await _open_journal(stack, settings, command)
        refuse_new_run(
            settings,
            await journal.unfinished_run(),
            await journal.halted_clusters(None),
            await journal.last_run(),
        )
        run_id = await journal.start_run(
            plan_json=plan.model_dump_json(),
            inventory_source=inventory.source,
            inventory_sha256=inventory.sha256,
            settings_json=_journalled(settings).model_dump_json(),
            run_id=run_id,
        )
        folder = _open_folder(stack, settings, run_id, plan, command)
        origin = _origin(plan, inventory, plan_file)
        _log.info(
            "run.started",
            command=command,
            folder=str(folder.path),
            **_process(),  # pid and host
            **origin.model_dump(include={"user", "tool_version", "plan_file", "plan_file_sha256"}),
        )
        _notify_start(stack, settings, run_id, plan, origin, resumed=False)
        return await _run(
            stack,
            plan,
            inventory,
            settings,
            journal,
            run_id,
            observer,
            stop,
            origin=origin,
            gate=JournalGate(settings.state_db, prompt=prompt),
            folder=folder,
        )


def _process() -> dict[str, object]:
    """The current process, as `watch` finds it in the run's log (to tell when it is gone)."""
    return {"pid": os.getpid(), "host": host_name()}


def _origin(plan: Plan, inventory: Inventory, plan_file: Path | None) -> RunOrigin:
    """Who starts the run with which release, from which inventory and plan."""
    return RunOrigin(
        tool_version=tool_version(),
        host=host_name(),
        user=user_name(),
        inventory=str(Path(inventory.source).absolute()),  # a hint pasted anywhere works
        inventory_sha256=inventory.sha256,
        plan_sha256=plan_sha256(plan),
        plan_file=str(plan_file.absolute()) if plan_file else None,
        plan_file_sha256=_file_sha256(plan_file) if plan_file else None,
        rolls_back=plan.rolls_back,
    )


def _file_sha256(path: Path) -> str | None:
    """The file's sha256 now; None if it cannot be read any more."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _notify_start(
    stack: AsyncExitStack,
    settings: Settings,
    run_id: str,
    plan: Plan,
    origin: RunOrigin,
    *,
    resumed: bool,
) -> None:
    """POST the start of the run with --notify-start, beside the run: it never delays it."""
    if not (settings.notify_start and settings.notify_url):
        return
    body = started_payload(run_id, plan, origin, resumed=resumed)
    sending = asyncio.ensure_future(notify(settings.notify_url, body))
    stack.push_async_callback(_finish_sending, sending)


async def _finish_sending(sending: asyncio.Future[None]) -> None:
    """Let the start notification finish (or give up) before the run's end is reported."""
    with contextlib.suppress(Exception):
        await sending


def _journalled(settings: Settings) -> Settings:
    """The settings as the journal keeps them: a webhook's credentials are never stored."""
    if settings.notify_url is None:
        return settings
    return settings.model_copy(update={"notify_url": redact_url(settings.notify_url)})


def _open_folder(
    stack: AsyncExitStack, settings: Settings, run_id: str, plan: Plan, command: str
) -> RunFolder:
    """The run's folder with the plan it executes, and its log open until the run ends."""
    folder = RunFolder.of(settings.state_db, run_id).create()
    if command == "apply" or not folder.plan.exists():
        folder.write_private(folder.plan, plan_text(plan))
    logs.open_run_log(folder.events)
    structlog.contextvars.bind_contextvars(run_id=run_id)
    stack.callback(structlog.contextvars.unbind_contextvars, "run_id")
    stack.callback(logs.close_run_log)
    return folder


async def resume(
    inventory_for: Callable[[str], Inventory],
    settings: Settings,
    *,
    observer_for: Callable[[Plan], RunObserver],
    stop: asyncio.Event,
    prompt: GatePromptFn | None = None,
) -> RunReport:
    """Continue the newest unfinished run from its journal: nothing is done twice."""
    require_state_db(settings)
    async with AsyncExitStack() as stack:
        journal = await _open_journal(stack, settings, "resume")
        record = await journal.unfinished_run()
        if record is None:
            raise StateError(f"{settings.state_db}: no interrupted run to resume")
        newest = await journal.last_run()
        if newest is not None and newest.run_id != record.run_id:
            raise StateError(
                f"{settings.state_db}: a newer run finished after the interrupted one; "
                "plan a new run instead of resuming the old one"
            )
        plan = _plan_from_journal(record.plan_json, settings)
        settings = _settings_of_run(record.settings_json, settings)
        inventory = inventory_for(record.inventory_source)
        if inventory.sha256 != record.inventory_sha256:
            db = db_flag(settings.state_db)
            raise PlanError(
                f"inventory {inventory.source} changed since the run began; restore it, or run "
                f"`orchestrator restore-ingest {inventory.source}{db}` and plan a new run"
            )
        await _check_images(plan, inventory)
        prior = await _prior_states(journal, record.run_id)
        last = await journal.last_ingest(record.run_id)
        halted = {c: verb for c, verb in last.items() if verb in MAY_BE_HALTED}
        folder = _open_folder(stack, settings, record.run_id, plan, "resume")
        _log.info("run.resumed", folder=str(folder.path), **_process())
        origin = run_origin(record, started_by(folder.events))
        _notify_start(stack, settings, record.run_id, plan, origin, resumed=True)
        return await _run(
            stack,
            plan,
            inventory,
            settings,
            journal,
            record.run_id,
            observer_for(plan),
            stop,
            prior=prior,
            halted_before=halted,
            origin=origin,
            gate=JournalGate(settings.state_db, prompt=prompt),
            folder=folder,
        )


async def _prior_states(journal: AsyncJournal, run_id: str) -> dict[str, Prior]:
    """Each appliance's last state and furthest progress, from the run's journal."""
    return priors(await journal.events(run_id), await journal.appliance_states(run_id))


def _settings_of_run(settings_json: str, current: Settings) -> Settings:
    """The settings the run was started with; where to write and log stay this invocation's."""
    try:
        original = Settings.model_validate_json(settings_json)
    except ValueError:
        return current
    return resumed_settings(original, current)


def _plan_from_journal(plan_json: str, settings: Settings) -> Plan:
    from orchestrator.plan import Plan  # noqa: PLC0415 - the model, at runtime only here

    try:
        return Plan.model_validate_json(plan_json)
    except ValueError:
        raise StateError(f"{settings.state_db}: the journalled plan cannot be read") from None


async def _check_images(plan: Plan, inventory: Inventory) -> None:
    images = await hash_images(inventory)
    for planned in plan.appliances():
        if planned.image is None:
            continue
        now = images.get(planned.image.path)
        if now is None or now.sha256 != planned.image.sha256:
            raise PlanError(
                f"image {planned.image.path} changed since the run began; "
                "put the original back, or plan a new run"
            )


async def _open_journal(stack: AsyncExitStack, settings: Settings, command: str) -> AsyncJournal:
    journal = await AsyncJournal.open(settings.state_db)
    stack.push_async_callback(_quietly, journal.close)
    await journal.acquire_lock(command=command)
    stack.push_async_callback(_quietly, journal.release_lock)
    return journal


async def _quietly(close: Callable[[], Awaitable[None]]) -> None:
    """Release and close must not hide the error (or the report) that is on its way out."""
    with contextlib.suppress(StateError):
        await close()


async def _run(  # noqa: PLR0917 - the run's parts, positional in one private call chain
    stack: AsyncExitStack,
    plan: Plan,
    inventory: Inventory,
    settings: Settings,
    journal: AsyncJournal,
    run_id: str,
    observer: RunObserver,
    stop: asyncio.Event,
    *,
    prior: Mapping[str, Prior] | None = None,
    halted_before: Mapping[str, IngestVerb] | None = None,
    origin: RunOrigin,
    gate: JournalGate,
    folder: RunFolder,
) -> RunReport:
    session = await stack.enter_async_context(open_session(settings))
    context = RunContext(
        plan=plan,
        settings=settings,
        client_for=clients_for(session, inventory, settings),
        journal=journal,
        run_id=run_id,
        observer=observer,
        stop=stop,
        prior=prior or {},
        halted_before=halted_before or {},
        gate=gate,
        backups=FolderBackups(folder) if settings.backup else None,
    )
    report = await run_plan(context)
    if report.exit_code != 3:  # noqa: PLR2004 - an incomplete run stays open for `resume`
        await journal.finish_run(run_id, exit_code=report.exit_code)
    # Resumed: the whole run from its start, as journalled; each step's times from the
    # journal's events either way (a failing journal: what we know).
    with contextlib.suppress(StateError):
        if prior:
            whole = await journal.report(run_id)
            report = whole.model_copy(update={"exit_code": report.exit_code, "error": report.error})
        else:
            report = with_steps(report, await journal.steps(run_id))
    return report.model_copy(
        update={
            "ingest_found_off": _choices(plan),
            "window_end": settings.window_end,
            "origin": origin,
            "gates": await _gates(settings, run_id, report),
            "backups": await asyncio.to_thread(backup_files, folder),
        }
    )


async def _gates(settings: Settings, run_id: str, report: RunReport) -> tuple[GateRecord, ...]:
    """The run's gates as the state database keeps them (a resumed run: from its start)."""
    try:
        return await asyncio.to_thread(gate_records, settings.state_db, run_id)
    except StateError:
        return report.gates


def _choices(plan: Plan) -> dict[str, str]:
    """What the operator chose for each cluster found with ingest off."""
    return {b.cluster: b.choice for b in plan.ingest if b.found_off and b.choice is not None}
