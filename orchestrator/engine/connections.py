"""The Explore and Trace appliances a Discover appliance lists as connected to it, by name.

`GET /api/v1/appliances` on a Discover appliance lists itself (id 0) and the Explore and
Trace appliances connected to it. Each is matched to an inventory appliance by address (its
`hostname` against the inventory URL's host[:port], as `orchestrator discover` matches) or by
name (its `display_name` or `nickname` equal to the inventory name, case aside).

Safety first: a list that cannot be read, or an Explore or Trace appliance that matches no
inventory appliance, leaves the connections unknown (None, one warning line): the planner
then makes every Explore and Trace appliance wait for this Discover appliance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog

from orchestrator.core.errors import ApplianceError, one_line
from orchestrator.core.models import Role, role_for_platform

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.core.consolelist import ListedAppliance
    from orchestrator.core.models import Appliance
    from orchestrator.engine.ports import ConsoleReader

__all__ = ["connected_names", "read_connections"]

_log = structlog.get_logger(__name__)

_CONNECTABLE = frozenset({Role.EXPLORE, Role.TRACE})
_DEFAULT_PORTS = {"http": 80, "https": 443}
Address = tuple[str, int | None]


async def read_connections(
    client: ConsoleReader, discover: Appliance, inventory: Sequence[Appliance]
) -> tuple[str, ...] | None:
    """The inventory names `discover` lists as connected; None (and a warning) if not known."""
    try:
        listed = await client.list_appliances()
    except ApplianceError as exc:
        names: tuple[str, ...] | str = f"its list could not be read ({one_line(exc)})"
    else:
        names = connected_names(listed, discover, inventory)
    if isinstance(names, str):
        _log.warning("facts.connections_unknown", appliance=discover.name, reason=names)
        return None
    return names


def connected_names(
    listed: Sequence[ListedAppliance], discover: Appliance, inventory: Sequence[Appliance]
) -> tuple[str, ...] | str:
    """The inventory names of the listed Explore and Trace appliances, or why not known."""
    candidates = [
        a
        for a in inventory
        if a.name != discover.name and (a.role is None or a.role in _CONNECTABLE)
    ]
    found: set[str] = set()
    for item in listed:
        role = role_for_platform(item.platform)
        if item.id == 0 or role in {Role.COMMAND, Role.DISCOVER}:
            continue
        if role is None:  # an Explore or Trace appliance the platform fails to say?
            return f"it lists {_label(item)}, whose platform names no role"
        match = _match(item, candidates)
        if match is None:
            return f"it lists {_label(item)}, which matches no appliance of the inventory"
        found.add(match.name)
    return tuple(a.name for a in candidates if a.name in found)


def _match(item: ListedAppliance, candidates: Sequence[Appliance]) -> Appliance | None:
    by_address = next((a for a in candidates if _same_address(item.hostname, a.url)), None)
    if by_address is not None:
        return by_address
    labels = {text.strip().casefold() for text in (item.display_name, item.nickname)} - {""}
    return next((a for a in candidates if a.name.casefold() in labels), None)


def _same_address(hostname: str, url: str) -> bool:
    """Whether a listed `hostname` (host or host:port) is the inventory URL's host[:port]."""
    scheme = urlsplit(url).scheme
    listed = _address(f"{scheme}://{hostname.strip()}") if hostname.strip() else None
    return listed is not None and listed == _address(url)


def _address(url: str) -> Address | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.rstrip(".").lower(), port or _DEFAULT_PORTS.get(parts.scheme)


def _label(item: ListedAppliance) -> str:
    """`explore exa9 (10.0.0.9)`: its platform, name and address as the list gives them."""
    name = item.nickname.strip() or item.display_name.strip() or f"id {item.id}"
    where = f" ({item.hostname.strip()})" if item.hostname.strip() else ""
    return f"{item.platform or 'unknown platform'} {name}{where}"
