"""Console mode in the inventory: who the console is, and what its appliances must say.

An appliance with `console_version` firmware is upgraded by the inventory's one Command
appliance (the console), which itself downloads that version from Cloud Services. Each
other one needs its `console_id`; its own key is optional (`inventory.check`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.core.models import Appliance, CloudFirmware, ConsoleFirmware, Firmware, Role

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.inventory.document import Document
    from orchestrator.inventory.yamlfile import Where

__all__ = ["check_console", "through_console"]


def through_console(
    doc: Document,
    raw: dict[str, Any],
    where: Where,
    name: str,
    *,
    role: Role | None,
    firmware: Firmware | None,
) -> Firmware | None:
    """The firmware as console mode reads it: the console's own from the cloud; an id needed."""
    if not isinstance(firmware, ConsoleFirmware):
        return firmware
    if role is Role.COMMAND:
        return CloudFirmware(cloud_version=firmware.console_version)
    if "console_id" not in raw:
        fix = (
            "write its id on the console (GET /api/v1/appliances), or run "
            "`orchestrator discover CONSOLE_URL --merge` on this file"
        )
        message = f"{name} is upgraded through the console but has no console_id; {fix}"
        raise doc.error((*where, "console_id"), message)
    return firmware


def check_console(doc: Document, appliances: Sequence[Appliance]) -> None:
    """Console mode needs exactly one Command appliance in the inventory: the console."""
    through = [a.name for a in appliances if isinstance(a.firmware, ConsoleFirmware)]
    consoles = [a.name for a in appliances if a.role is Role.COMMAND]
    if not through or len(consoles) == 1:
        return
    fix = "list the console (role: command, with its key) once in appliances:"
    if consoles:
        fix = f"keep one Command appliance ({', '.join(consoles)}), or use cloud_version"
    listed = f"{len(consoles)} Command appliances" if consoles else "no Command appliance"
    message = f"{through[0]} is upgraded through the console (console_version) but the "
    raise doc.error(("appliances",), f"{message}inventory lists {listed}; {fix}")
