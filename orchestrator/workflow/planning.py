"""What `plan` does, and `apply` before it runs: hash the images, read the fleet, plan.

A saved plan is not trusted as it is: it is rebuilt from the inventory and the fleet as they
are, and refused if it differs (`prepare_saved_plan`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.appliance.imageread import hash_image
from orchestrator.core.errors import PlanError
from orchestrator.engine import facts as facts_mod
from orchestrator.engine.consolefacts import console_facts
from orchestrator.journal.runs import halted_clusters
from orchestrator.plan import ImageInfo, build_plan, choose_found_off
from orchestrator.plan.console import console_name
from orchestrator.plan.file import check_drift, check_same_plan

if TYPE_CHECKING:
    from pathlib import Path

    import aiohttp

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Facts, Inventory
    from orchestrator.plan import Plan

Progress = Callable[[int], None]  # told the bytes of image hashed, as they are

# An appliance's few reads for the plan (its version, cluster, connections, jobs) share one
# connection, one TLS handshake instead of one per request (planning 2,000 appliances over TLS:
# 19 -> 11 s, docs/benchmarks.md), where the process may open a file for every appliance.
# Those reads follow one another within milliseconds; an idle connection is closed after this
# long (aiohttp checks at the same interval, so at most twice as long): only the appliances
# read in the last fraction of a second hold one. Over TLS each holds ~285 KiB: kept a second,
# planning 1,000 appliances held hundreds at once (a peak of 340 MiB). Under a lower open-file
# limit (a hard limit the administrator set) each closes after its answer.
_FACTS_IDLE = 0.1
_FILES_BESIDE = 64  # open files besides the fleet's sockets: the journal, logs, images...


def _hash_file(path: Path, progress: Progress | None = None) -> ImageInfo:
    try:
        size, sha256 = hash_image(path, progress)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fix = "make it a readable file again, or change the inventory"
        raise PlanError(f"cannot read firmware image {path} ({reason}); {fix}") from None
    return ImageInfo(path=str(path), size=size, sha256=sha256)


async def hash_images(
    inventory: Inventory, progress: Progress | None = None
) -> dict[str, ImageInfo]:
    """sha256 and size of every local image the inventory names, hashed off the event loop.

    `progress` is told the bytes hashed as they are (a 2 GiB image takes a while).
    """
    paths = sorted(
        {a.firmware.file for a in inventory.appliances if a.firmware.kind == "file"}, key=str
    )
    # Every hash runs to its end, so that no failure is left unretrieved; the first is raised.
    infos = await asyncio.gather(
        *(asyncio.to_thread(_hash_file, p, progress) for p in paths), return_exceptions=True
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
    console = console_name(inventory)
    through = [a for a in inventory.appliances if a.firmware.kind == "console"]
    direct = [a for a in inventory.appliances if a.firmware.kind != "console"]
    facts = await facts_mod.gather_facts(
        [client_for(a.name) for a in direct],
        direct,
        concurrency=max(settings.concurrency, 16),
        inventory=inventory.appliances,  # a Discover's connections may be upgraded by a console
    )
    if console is not None and through:  # the console answers for them (console mode)
        facts |= await console_facts(client_for(console), through, client_for)
    return facts


def _files_for(appliances: int) -> bool:
    """Whether this process may open a socket per appliance and its other files besides."""
    try:
        import resource  # noqa: PLC0415 - Unix only

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return False
    return soft == resource.RLIM_INFINITY or soft >= appliances + _FILES_BESIDE


async def _observe_fleet(
    inventory: Inventory, settings: Settings, *, offline: bool, progress: Progress | None
) -> tuple[dict[str, ImageInfo], dict[str, Facts] | None, list[str]]:
    """The images' hashes, the fleet's facts (None offline) and the clusters the tool halted."""
    images = await hash_images(inventory, progress)
    facts: dict[str, Facts] | None = None
    if not offline:
        idle = _FACTS_IDLE if _files_for(len(inventory.appliances)) else 0.0
        async with open_session(settings, idle=idle) as session:
            facts = await observe(inventory, settings, session)
    return images, facts, await asyncio.to_thread(halted_clusters, settings.state_db)


async def make_plan(
    inventory: Inventory,
    settings: Settings,
    *,
    offline: bool,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Observe the fleet (unless offline), hash the images and build the plan."""
    images, facts, halted = await _observe_fleet(
        inventory, settings, offline=offline, progress=progress
    )
    return build_plan(
        inventory,
        facts,
        images,
        settings,
        now=now or dt.datetime.now(dt.UTC),
        halted_by_tool=halted,
    )


async def prepare_saved_plan(
    plan: Plan, inventory: Inventory, settings: Settings, progress: Progress | None = None
) -> Plan:
    """The plan to execute for a saved one: rebuilt from the inventory and the fleet as it is.

    Refuses (DriftError) what changed since the plan was made, and (PlanError) anything in the
    file that differs from what the inventory and the fleet give: a plan file, edited or not,
    can never make the run break a vendor rule or skip an ingest bracket. The operator's
    choices recorded in the plan (ingest found off) carry over unless given again.
    """
    images, facts, halted = await _observe_fleet(
        inventory, settings, offline=plan.offline, progress=progress
    )
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
