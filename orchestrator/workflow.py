"""What the commands do, without printing: plan a fleet, execute a plan, resume, restore ingest."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from orchestrator import facts as facts_mod
from orchestrator.client import ApplianceClient, open_session
from orchestrator.errors import PlanError, StateError
from orchestrator.journal import AsyncJournal, Journal
from orchestrator.models import Outcome
from orchestrator.plan import ImageInfo, build_plan
from orchestrator.planfile import check_drift
from orchestrator.runner import PHASE_OF, Prior, run_plan

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from pathlib import Path

    import aiohttp

    from orchestrator.config import Settings
    from orchestrator.models import Facts, Inventory, RunReport
    from orchestrator.plan import Plan
    from orchestrator.runner import RunObserver

_CHUNK = 1 << 20


def _hash_file(path: Path) -> ImageInfo:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return ImageInfo(path=str(path), size=size, sha256=digest.hexdigest())


async def hash_images(inventory: Inventory) -> dict[str, ImageInfo]:
    """sha256 and size of every local image the inventory names, hashed off the event loop."""
    paths = sorted(
        {a.firmware.file for a in inventory.appliances if a.firmware.kind == "file"}, key=str
    )
    infos = await asyncio.gather(*(asyncio.to_thread(_hash_file, p) for p in paths))
    return {str(p): info for p, info in zip(paths, infos, strict=True)}


def clients_for(
    session: aiohttp.ClientSession, inventory: Inventory, settings: Settings
) -> Callable[[str], ApplianceClient]:
    """A memoising factory of one ApplianceClient per appliance name."""
    made: dict[str, ApplianceClient] = {}

    def client_for(name: str) -> ApplianceClient:
        if name not in made:
            made[name] = ApplianceClient(session, inventory.by_name(name), settings)
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


async def make_plan(
    inventory: Inventory, settings: Settings, *, offline: bool, now: dt.datetime | None = None
) -> Plan:
    """Observe the fleet (unless offline), hash the images and build the plan."""
    images = await hash_images(inventory)
    facts: dict[str, Facts] | None = None
    if not offline:
        async with open_session(settings) as session:
            facts = await observe(inventory, settings, session)
    return build_plan(inventory, facts, images, settings, now=now or dt.datetime.now(dt.UTC))


async def recheck_saved_plan(plan: Plan, inventory: Inventory, settings: Settings) -> None:
    """Refuse a saved plan whose inventory, images or observed versions drifted (DriftError)."""
    images = await hash_images(inventory)
    facts: dict[str, Facts] | None = None
    if not plan.offline:
        async with open_session(settings) as session:
            facts = await observe(inventory, settings, session)
    check_drift(plan, inventory, facts, images)


def _settings_json(settings: Settings) -> str:
    return settings.model_dump_json()


async def execute(
    plan: Plan,
    inventory: Inventory,
    settings: Settings,
    *,
    observer: RunObserver,
    stop: asyncio.Event,
    command: str = "apply",
) -> RunReport:
    """Lock the state database, journal a new run, and run the plan."""
    if plan.refused:
        raise PlanError("the plan is refused (see its refusals); fix them and plan again")
    async with AsyncExitStack() as stack:
        journal = await _open_journal(stack, settings, command)
        run_id = await journal.start_run(
            plan_json=plan.model_dump_json(),
            inventory_source=inventory.source,
            inventory_sha256=inventory.sha256,
            settings_json=_settings_json(settings),
        )
        return await _run(
            stack,
            plan,
            inventory,
            settings,
            journal=journal,
            run_id=run_id,
            observer=observer,
            stop=stop,
            prior={},
        )


async def resume(
    inventory_for: Callable[[str], Inventory],
    settings: Settings,
    *,
    observer_for: Callable[[Plan], RunObserver],
    stop: asyncio.Event,
) -> RunReport:
    """Continue the newest unfinished run from its journal: nothing is done twice."""
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
        inventory = inventory_for(record.inventory_source)
        if inventory.sha256 != record.inventory_sha256:
            raise PlanError(
                f"inventory {inventory.source} changed since the run began; "
                "restore it, or run `orchestrator restore-ingest` and plan a new run"
            )
        await _check_images(plan, inventory)
        prior = await _prior_states(journal, record.run_id)
        halted = [cluster for cluster, _ in await journal.halted_clusters(record.run_id)]
        return await _run(
            stack,
            plan,
            inventory,
            settings,
            journal=journal,
            run_id=record.run_id,
            observer=observer_for(plan),
            stop=stop,
            prior=prior,
            halted_before=halted,
        )


async def _prior_states(journal: AsyncJournal, run_id: str) -> dict[str, Prior]:
    """Each appliance's last state and furthest progress, from the run's journal."""
    progress: dict[str, Outcome] = {}
    for event in await journal.events(run_id):
        if event.state in PHASE_OF:
            progress[event.appliance] = event.state
    states = await journal.appliance_states(run_id)
    return {
        name: Prior(
            state=r.state,
            progress=progress.get(name, Outcome.PENDING),
            job_id=r.job_id,
            version_before=r.version_before,
            error=r.error,
        )
        for name, r in states.items()
    }


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
    stack.push_async_callback(journal.close)
    await journal.acquire_lock(command=command)
    stack.push_async_callback(journal.release_lock)
    return journal


async def _run(
    stack: AsyncExitStack,
    plan: Plan,
    inventory: Inventory,
    settings: Settings,
    *,
    journal: AsyncJournal,
    run_id: str,
    observer: RunObserver,
    stop: asyncio.Event,
    prior: Mapping[str, Prior],
    halted_before: Collection[str] = (),
) -> RunReport:
    session = await stack.enter_async_context(open_session(settings))
    report = await run_plan(
        plan,
        settings,
        client_for=clients_for(session, inventory, settings),
        journal=journal,
        run_id=run_id,
        observer=observer,
        stop=stop,
        prior=prior,
        halted_before=halted_before,
    )
    if report.exit_code != 3:  # noqa: PLR2004 - an incomplete run stays open for `resume`
        await journal.finish_run(run_id, exit_code=report.exit_code)
    return report


async def restore_ingest(
    inventory: Inventory, settings: Settings, *, cluster: str | None = None
) -> list[tuple[str, str, str | None]]:
    """Re-enable ingest on every cluster the journal says the tool halted: (cluster, via, error)."""
    outcome: list[tuple[str, str, str | None]] = []
    async with AsyncExitStack() as stack:
        journal = await _open_journal(stack, settings, "restore-ingest")
        halted = await journal.halted_clusters(None)
        session = await stack.enter_async_context(open_session(settings))
        client_for = clients_for(session, inventory, settings)
        for name, via in halted:
            if cluster is not None and name != cluster:
                continue
            error = await _restore_one(client_for, inventory, name, via)
            run = await journal.last_run()
            await journal.record_ingest(
                run.run_id if run else "restore-ingest",
                name,
                via,
                "restored" if error is None else "restore_failed",
                error,
            )
            outcome.append((name, via, error))
    return outcome


async def _restore_one(
    client_for: Callable[[str], ApplianceClient], inventory: Inventory, cluster: str, via: str
) -> str | None:
    members = [a.name for a in inventory.appliances if a.cluster == cluster]
    candidates = [via, *[m for m in members if m != via]]
    errors: list[str] = []
    for name in candidates:
        try:
            await client_for(name).set_ingest(enabled=True)
        except KeyError:
            errors.append(f"{name} is not in the inventory")
        except Exception as exc:  # noqa: BLE001 - every failure is reported per cluster
            errors.append(str(exc))
        else:
            return None
    return "; ".join(errors) or f"no appliance of cluster {cluster} in the inventory"


async def last_report(settings: Settings) -> RunReport | None:
    """The newest run recorded in the state database, as a report (None if there is none)."""
    if not settings.state_db.exists():
        return None

    def read() -> RunReport | None:
        journal = Journal.open(settings.state_db)
        try:
            run = journal.last_run()
            return journal.report(run.run_id) if run else None
        finally:
            journal.close()

    return await asyncio.to_thread(read)
