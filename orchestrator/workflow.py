"""What the commands do, without printing: plan a fleet, execute a plan, resume, restore ingest."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from orchestrator import facts as facts_mod
from orchestrator import lock, steps
from orchestrator.ajournal import AsyncJournal
from orchestrator.client import ApplianceClient, open_session
from orchestrator.config import Settings, resumed_settings
from orchestrator.errors import OrchestratorError, PlanError, StateError, one_line
from orchestrator.ingest import RESTORE_TIMEOUT
from orchestrator.journal import Journal
from orchestrator.models import Outcome
from orchestrator.plan import ImageInfo, build_plan
from orchestrator.planfile import check_drift
from orchestrator.runner import run_plan
from orchestrator.runstate import PHASE_OF, Prior
from orchestrator.userfile import open_regular

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping
    from pathlib import Path

    import aiohttp

    from orchestrator.journal import RunRecord
    from orchestrator.models import Facts, Inventory, RunReport
    from orchestrator.plan import Plan
    from orchestrator.runstate import RunObserver

_CHUNK = 1 << 20


def _hash_file(path: Path) -> ImageInfo:
    digest = hashlib.sha256()
    size = 0
    try:
        with open_regular(path) as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fix = "make it a readable file again, or change the inventory"
        raise PlanError(f"cannot read firmware image {path} ({reason}); {fix}") from None
    return ImageInfo(path=str(path), size=size, sha256=digest.hexdigest())


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


async def make_plan(
    inventory: Inventory, settings: Settings, *, offline: bool, now: dt.datetime | None = None
) -> Plan:
    """Observe the fleet (unless offline), hash the images and build the plan."""
    images = await hash_images(inventory)
    facts: dict[str, Facts] | None = None
    if not offline:
        # Each appliance is read once or twice: no idle socket per appliance (open file limits).
        async with open_session(settings, keep_alive=False) as session:
            facts = await observe(inventory, settings, session)
    return build_plan(inventory, facts, images, settings, now=now or dt.datetime.now(dt.UTC))


async def recheck_saved_plan(plan: Plan, inventory: Inventory, settings: Settings) -> None:
    """Refuse a saved plan whose inventory, images or observed versions drifted (DriftError)."""
    images = await hash_images(inventory)
    facts: dict[str, Facts] | None = None
    if not plan.offline:
        # Each appliance is read once or twice: no idle socket per appliance (open file limits).
        async with open_session(settings, keep_alive=False) as session:
            facts = await observe(inventory, settings, session)
    check_drift(plan, inventory, facts, images)


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
        _refuse_new_run(
            settings, await journal.unfinished_run(), await journal.halted_clusters(None)
        )
        run_id = await journal.start_run(
            plan_json=plan.model_dump_json(),
            inventory_source=inventory.source,
            inventory_sha256=inventory.sha256,
            settings_json=settings.model_dump_json(),
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
    job_started: dict[str, dt.datetime] = {}  # `upgrading` is journalled just before the start
    for event in await journal.events(run_id):
        if event.state in PHASE_OF:
            progress[event.appliance] = event.state
        if event.state is Outcome.UPGRADING and event.job_id is None:
            job_started[event.appliance] = event.ts
    states = await journal.appliance_states(run_id)
    return {
        name: Prior(
            state=r.state,
            progress=progress.get(name, Outcome.PENDING),
            job_id=r.job_id,
            version_before=r.version_before,
            error=r.error,
            job_started=job_started.get(name),
        )
        for name, r in states.items()
    }


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
    # Resumed: the whole run from its start, as journalled (a failing journal: what we know).
    if prior:
        with contextlib.suppress(StateError):
            whole = await journal.report(run_id)
            report = whole.model_copy(update={"exit_code": report.exit_code, "error": report.error})
    return report


async def restore_ingest(
    inventory: Inventory, settings: Settings, *, cluster: str | None = None
) -> tuple[list[tuple[str, str, str | None]], RunRecord | None]:
    """(cluster, via, error) for each halted cluster re-enabled; the interrupted run closed."""
    require_state_db(settings)
    outcome: list[tuple[str, str, str | None]] = []
    async with AsyncExitStack() as stack:
        journal = await _open_journal(stack, settings, "restore-ingest")
        run = await journal.unfinished_run() or await journal.last_run()
        run_id = run.run_id if run else "restore-ingest"
        session = await stack.enter_async_context(open_session(settings))
        client_for = clients_for(session, inventory, settings)
        for name, via in await journal.halted_clusters(None):
            if cluster is not None and name != cluster:
                continue
            error = await _restore_one(client_for, inventory, name, via)
            if error is None:
                await journal.record_ingest(run_id, name, via, "restored")
            else:
                await journal.record_ingest(run_id, name, via, "restore_failed", error)
            outcome.append((name, via, error))
        unfinished = await journal.unfinished_run()
        if unfinished is not None and not await journal.halted_clusters(None):  # not resumed
            await journal.finish_run(unfinished.run_id, exit_code=3)
            return outcome, unfinished
    return outcome, None


async def _restore_one(
    client_for: Callable[[str], ApplianceClient], inventory: Inventory, cluster: str, via: str
) -> str | None:
    known = {a.name for a in inventory.appliances}
    members = [a.name for a in inventory.appliances if a.cluster == cluster]
    errors: list[str] = []
    for name in [via, *[m for m in members if m != via]]:
        if name not in known:
            errors.append(f"{name} is not in the inventory")
            continue
        try:
            async with asyncio.timeout(RESTORE_TIMEOUT):
                await steps.restore_ingest(client_for(name))
        except OrchestratorError as exc:
            errors.append(one_line(exc))
        except TimeoutError:
            errors.append(f"{name}: no answer within {RESTORE_TIMEOUT:.0f}s")
        else:
            return None
    return "; ".join(errors) or f"no appliance of cluster {cluster} in the inventory"


def require_state_db(settings: Settings) -> None:
    """StateError unless the state database exists (never create one by reading it)."""
    if not settings.state_db.exists():
        raise StateError(f"{settings.state_db}: no state database here; pass --state-db PATH")


async def preflight(settings: Settings) -> None:
    """Refuse a new run over a held lock, an interrupted run or a cluster left halted."""
    if not settings.state_db.exists():
        return

    def check() -> None:
        with Journal.open(settings.state_db) as journal:
            journal.acquire_lock(command="apply (checking)")
            journal.release_lock()
            _refuse_new_run(settings, journal.unfinished_run(), journal.halted_clusters(None))

    await asyncio.to_thread(check)


def _refuse_new_run(
    settings: Settings, unfinished: RunRecord | None, halted: list[tuple[str, str]]
) -> None:
    if unfinished is not None:
        raise StateError(
            f"{settings.state_db} holds an interrupted run (started "
            f"{unfinished.started_at:%Y-%m-%d %H:%M} UTC): `orchestrator resume` continues it, "
            "or `orchestrator restore-ingest INVENTORY` re-enables ingest and closes it"
        )
    if halted:
        clusters = ", ".join(sorted({cluster for cluster, _ in halted}))
        raise StateError(
            f"ingest on cluster {clusters} was disabled by an earlier run and never re-enabled: "
            "run `orchestrator restore-ingest INVENTORY` first"
        )


async def last_report(settings: Settings) -> tuple[RunReport, bool, str | None] | None:
    """The newest run as a report, whether `resume` continues it, and a live lock's holder."""
    if not settings.state_db.exists():
        return None

    def read() -> tuple[RunReport, bool, str | None] | None:
        with Journal.open(settings.state_db) as journal:
            run = journal.last_run()
            if run is None:
                return None
            unfinished = journal.unfinished_run()
            resumable = unfinished is not None and unfinished.run_id == run.run_id
            holder = journal.lock_holder()
            me = lock.LockHolder.me("status", "status")
            going = holder is not None and lock.stale_reason(holder, me) is None
            busy = lock.describe(holder, me) if holder is not None and going else None
            return journal.report(run.run_id), resumable, busy

    return await asyncio.to_thread(read)
