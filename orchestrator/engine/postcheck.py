"""Post-checks once the new version is verified: every process runs, the license is unchanged.

Processes may still be starting right after the restart: they are read again with backoff for
up to `postcheck_grace` seconds before one that is not running fails the appliance. The
license is compared with the one read at the precheck; a resumed run that no longer has it
(a run with --no-backup, taken up after its precheck) says so and compares nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from orchestrator.core.errors import PreconditionFailed
from orchestrator.engine.steps import backoff

if TYPE_CHECKING:
    from orchestrator.core.config import Settings
    from orchestrator.engine.ports import HealthPort, StepObserver

__all__ = ["postcheck"]


async def postcheck(
    client: HealthPort,
    settings: Settings,
    *,
    license_before: dict[str, Any] | None,
    observer: StepObserver,
) -> None:
    """Raise PreconditionFailed, with the reason, unless processes run and the license held."""
    observer.note("checking processes and license")
    down = await _processes_down(client, settings)
    if down:
        raise PreconditionFailed(
            client.name,
            f"post-check failed: process {', '.join(down)} not running "
            f"{settings.postcheck_grace:g}s after the upgrade",
        )
    if license_before is None:
        observer.note("license not compared: its precheck reading was not kept")
        return
    after = await client.get_license()
    if after != license_before:
        fields = sorted(
            k for k in {*after, *license_before} if after.get(k) != license_before.get(k)
        )
        raise PreconditionFailed(
            client.name,
            f"post-check failed: the license changed during the upgrade ({', '.join(fields)})",
        )


async def _processes_down(client: HealthPort, settings: Settings) -> list[str]:
    """The processes still not running once they had `postcheck_grace` seconds to start."""
    start = time.monotonic()
    down = [p.name for p in await client.get_processes() if not p.running]
    if not down or settings.postcheck_grace <= 0:
        return down
    async for _ in backoff(settings):
        down = [p.name for p in await client.get_processes() if not p.running]
        if not down or time.monotonic() - start >= settings.postcheck_grace:
            break
    return down
