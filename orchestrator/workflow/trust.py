"""What `orchestrator trust` does, without printing: read, compare, and record certificates.

Trust on first use, as SSH does with host keys: each https appliance's certificate is read
(a TLS handshake, no request, no key sent), compared with its pin, and the certificates the
operator accepts are written to the pins file beside the inventory.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.appliance.certs import Presented, read_certificate
from orchestrator.core.errors import ApplianceError
from orchestrator.core.tls import TlsCheck
from orchestrator.inventory.pins import Pin, pins_path, read_pins, write_pins

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Appliance, Inventory

__all__ = ["Sighting", "Standing", "record_pins", "survey"]


class Standing(enum.StrEnum):
    """An appliance's certificate against its pin."""

    NEW = "new"  # not pinned yet
    SAME = "same"  # pinned, and it presents that certificate still
    CHANGED = "changed"  # pinned, and it presents another certificate now
    FAILED = "failed"  # its certificate could not be read
    PLAIN = "plain"  # an http:// URL: no TLS, nothing to pin


@dataclass(frozen=True)
class Sighting:
    """One appliance as `trust` found it."""

    appliance: Appliance
    standing: Standing
    presented: Presented | None = None
    error: str | None = None


async def survey(inventory: Inventory, settings: Settings) -> list[Sighting]:
    """Every appliance's certificate and standing, in inventory order, read concurrently."""
    limit = asyncio.Semaphore(max(settings.concurrency, 16))

    async def look(appliance: Appliance) -> Sighting:
        async with limit:
            return await _look(appliance, settings.connect_timeout)

    return list(await asyncio.gather(*(look(a) for a in inventory.appliances)))


async def _look(appliance: Appliance, seconds: float) -> Sighting:
    if appliance.tls_check is TlsCheck.HTTP:
        return Sighting(appliance, Standing.PLAIN)
    try:
        presented = await read_certificate(appliance, seconds=seconds)
    except ApplianceError as exc:
        return Sighting(appliance, Standing.FAILED, error=" ".join(exc.message.split()))
    if appliance.pin is None:
        standing = Standing.NEW
    elif appliance.pin == presented.certificate.fingerprint:
        standing = Standing.SAME
    else:
        standing = Standing.CHANGED
    return Sighting(appliance, standing, presented)


def record_pins(inventory: Inventory, accepted: Sequence[Sighting], *, now: dt.datetime) -> Path:
    """Pin the `accepted` certificates in the inventory's pins file; every other pin stays."""
    source = Path(inventory.source)
    path = pins_path(source)
    pins = read_pins(path)
    for sighting in accepted:
        if sighting.presented is not None:
            pins[sighting.appliance.name.casefold()] = _pin(sighting, sighting.presented, now)
    order = [a.name.casefold() for a in inventory.appliances]
    ranked = sorted(pins, key=lambda key: order.index(key) if key in order else len(order))
    write_pins(path, [pins[key] for key in ranked], inventory=source.name)
    return path


def _pin(sighting: Sighting, presented: Presented, now: dt.datetime) -> Pin:
    """The pin, with comment lines saying what was trusted, and when."""
    appliance, cert = sighting.appliance, presented.certificate
    issuer = f"{cert.issuer} (self-signed)" if cert.self_signed else cert.issuer
    return Pin(
        appliance.name,
        cert.fingerprint,
        (
            f"{appliance.name}  {appliance.url}  (pinned {now:%Y-%m-%d %H:%M} UTC)",
            f"  subject: {cert.subject}",
            f"  issuer:  {issuer}",
            f"  valid:   {cert.validity(now)}",
        ),
    )
