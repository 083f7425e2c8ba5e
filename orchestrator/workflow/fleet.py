"""What `plan`, `apply` and `resume` do, without printing: plan a fleet, execute a plan, resume.

A run is journalled in the state database and gets a folder beside it
(`orchestrator.core.statehome`): the plan it executed, and its log of every event while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import structlog

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.appliance.imageread import hash_image
from orchestrator.core.config import Settings, resumed_settings
from orchestrator.core.errors import PlanError, StateError
from orchestrator.core.models import MAY_BE_HALTED
from orchestrator.core.statehome import RunFolder
from orchestrator.engine import facts as facts_mod
from orchestrator.engine import logs
from orchestrator.engine.context import RunContext
from orchestrator.engine.runner import run_plan
from orchestrator.engine.runstate import Prior, priors
from orchestrator.journal.aio import AsyncJournal
from orchestrator.journal.runs import halted_clusters, refuse_new_run, require_state_db
from orchestrator.plan import ImageInfo, build_plan, choose_found_off
from orchestrator.plan.file import check_drift, check_same_plan
from orchestrator.report.notify import redact_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from pathlib import Path

    import aiohttp

    from orchestrator.core.models import Facts, IngestVerb, Inventory, RunReport
    from orchestrator.engine.ports import RunObserver
    from orchestrator.plan import Plan

_CHUNK = 1 << 20
_log = structlog.get_logger("orchestrator")


def _hash_file(path: Path) -> ImageInfo:
    try:
        size, sha256 = hash_image(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fix = "make it a readable file again, or change the inventory"
        raise PlanError(f"cannot read firmware image {path} ({reason}); {fix}") from None
    return ImageInfo(path=str(path), size=size, sha256=sha256)


async def hash_images(inventory: Inventory) -> dict[str, ImageInfo]:
    """sha256 and size of every local image the inventory names, hashed off the event loop."""
    paths = sorted(
        {a.firmware.file for a in inventory.appliances if a.firmware.kind == "file"}, key=str
    )
    # Every hash runs to its end, so that no failure is left unretrieved; the first is raised.
    infos = await asyncio.gather(
        *(asyncio.to_thread(_hash_file, p) for p in paths), return_exceptions=True
    )
    images: dict[str, ImageInfo] = {}
    for path, info in zip(paths, infos, strict=True):
        if isinstance(info, BaseException):
            raise info
        images[str(path)] = info
    return images


def clients_for(
    session: aiohttp.ClientSession, inventory: Inventory, settings: Settings
) -> Callable[[str], ApplianceClient]:
    """A memoising factory of one ApplianceClient per appliance name."""
    made: dict[str, ApplianceClient] = {}
    appliances = {appliance.name: appliance for appliance in inventory.appliances}

    def client_for(name: str) -> ApplianceClient:
        if name not in made:
            made[name] = ApplianceClient(session, appliances[name], settings)
        return made[name]

    return client_for


async def observe(
    inventory: Inventory, settings: Settings, session: aiohttp.ClientSession
) -> dict[str, Facts]:
    """Read every appliance's version, platform and ingest state, concurrently and read-only."""
    client_for = clients_for(session, inventory, settings)
    clients = [client_for(a.name) for a in inventory.appliances]
    return await facts_mod.gather_facts(
        clients, list(inventory.appliances), concurrency=max(settings.concurrency, 16)
    )


async def _observe_fleet(
    inventory: Inventory, settings: Settings, *, offline: bool
) -> tuple[dict[str, ImageInfo], dict[str, Facts] | None, list[str]]:
    """The images' hashes, the fleet's facts (None offline) and the clusters the tool halted."""
    images = await hash_images(inventory)
    facts: dict[str, Facts] | None = None
    if not offline:
        # Each appliance is read once or twice: no idle socket per appliance (open file limits).
        async with open_session(settings, keep_alive=False) as session:
            facts = await observe(inventory, settings, session)
    return images, facts, await asyncio.to_thread(halted_clusters, settings.state_db)


async def make_plan(
    inventory: Inventory, settings: Settings, *, offline: bool, now: dt.datetime | None = None
) -> Plan:
    """Observe the fleet (unless offline), hash the images and build the plan."""
    images, facts, halted = await _observe_fleet(inventory, settings, offline=offline)
    return build_plan(
        inventory,
        facts,
        images,
        settings,
        now=now or dt.datetime.now(dt.UTC),
        halted_by_tool=halted,
    )


async def prepare_saved_plan(plan: Plan, inventory: Inventory, settings: Settings) -> Plan:
    """The plan to execute for a saved one: rebuilt from the inventory and the fleet as it is.

    Refuses (DriftError) what changed since the plan was made, and (PlanError) anything in the
    file that differs from what the inventory and the fleet give: a plan file, edited or not,
    can never make the run break a vendor rule or skip an ingest bracket. The operator's
    choices recorded in the plan (ingest found off) carry over unless given again.
    """
    images, facts, halted = await _observe_fleet(inventory, settings, offline=plan.offline)
    check_drift(plan, inventory, facts, images)
    fresh = build_plan(
        inventory,
        facts,
        images,
        settings,
        now=dt.datetime.now(dt.UTC),
        halted_by_tool=halted,
    )
    saved_choice = {b.cluster: b.choice for b in plan.ingest}
    fresh = fresh.model_copy(
        update={
            "ingest": tuple(
                choose_found_off(b, saved_choice.get(b.cluster)) if b.choice is None else b
                for b in fresh.ingest
            )
        }
    )
    check_same_plan(plan, fresh)
    return fresh


# --- a run -----------------------------------------------------------------------------------


async def execute(
    plan: Plan,
    inventory: Inventory,
    settings: Settings,
    *,
    observer: RunObserver,
    stop: asyncio.Event,
    command: str = "apply",
    run_id: str | None = None,
) -> RunReport:
    """Lock the state database, journal a new run (`run_id` if given), and run the plan."""
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
            settings, await journal.unfinished_run(), await journal.halted_clusters(None)
        )
        run_id = await journal.start_run(
            plan_json=plan.model_dump_json(),
            inventory_source=inventory.source,
            inventory_sha256=inventory.sha256,
            settings_json=_journalled(settings).model_dump_json(),
            run_id=run_id,
        )
        folder = _open_folder(stack, settings, run_id, plan, command)
        _log.info("run.started", command=command, folder=str(folder.path), **_process())
        return await _run(stack, plan, inventory, settings, journal, run_id, observer, stop)


def _process() -> dict[str, object]:
    """The current process, as `watch` finds it in the run's log (to tell when it is gone)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


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
        folder.write_private(folder.plan, plan.model_dump_json(indent=2) + "\n")
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
            raise PlanError(
                f"inventory {inventory.source} changed since the run began; "
                "restore it, or run `orchestrator restore-ingest` and plan a new run"
            )
        await _check_images(plan, inventory)
        prior = await _prior_states(journal, record.run_id)
        last = await journal.last_ingest(record.run_id)
        halted = {c: verb for c, verb in last.items() if verb in MAY_BE_HALTED}
        folder = _open_folder(stack, settings, record.run_id, plan, "resume")
        _log.info("run.resumed", folder=str(folder.path), **_process())
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
    )
    report = await run_plan(context)
    if report.exit_code != 3:  # noqa: PLR2004 - an incomplete run stays open for `resume`
        await journal.finish_run(run_id, exit_code=report.exit_code)
    # Resumed: the whole run from its start, as journalled (a failing journal: what we know).
    if prior:
        with contextlib.suppress(StateError):
            whole = await journal.report(run_id)
            report = whole.model_copy(update={"exit_code": report.exit_code, "error": report.error})
    return report.model_copy(update={"ingest_found_off": _choices(plan)})


def _choices(plan: Plan) -> dict[str, str]:
    """What the operator chose for each cluster found with ingest off."""
    return {b.cluster: b.choice for b in plan.ingest if b.found_off and b.choice is not None}
