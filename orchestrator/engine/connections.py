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


class InventoryIndex:
    """The inventory's Explore and Trace appliances (or of unknown role), by address and name.

    Built once per gathering, so matching a Discover appliance's list is linear in its length.
    """

    def __init__(self, inventory: Sequence[Appliance]) -> None:
        candidates = [a for a in inventory if a.role is None or a.role in _CONNECTABLE]
        self.position = {a.name: index for index, a in enumerate(candidates)}
        self.by_address: dict[Address, Appliance] = {}
        self.by_default_port: dict[str, Appliance] = {}  # host -> one on its scheme's port
        self.by_name: dict[str, Appliance] = {}
        for appliance in reversed(candidates):  # the first in inventory order wins
            address = _address(appliance.url)
            if address is not None:
                self.by_address[address] = appliance
                scheme = urlsplit(appliance.url).scheme
                if address[1] == _DEFAULT_PORTS.get(scheme):
                    self.by_default_port[address[0]] = appliance
            self.by_name[appliance.name.casefold()] = appliance

    def match(self, item: ListedAppliance) -> Appliance | None:
        """The inventory appliance `item` is: by its address, else by its name."""
        hostname = item.hostname.strip()
        if hostname:
            listed = _address(f"scheme://{hostname}")
            if listed is not None and listed[1] is not None:
                found = self.by_address.get(listed)
            elif listed is not None:
                found = self.by_default_port.get(listed[0])
            else:
                found = None
            if found is not None:
                return found
        for label in (item.display_name, item.nickname):
            found = self.by_name.get(label.strip().casefold()) if label.strip() else None
            if found is not None:
                return found
        return None


async def read_connections(
    client: ConsoleReader, discover: Appliance, inventory: Sequence[Appliance] | InventoryIndex
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
    listed: Sequence[ListedAppliance],
    discover: Appliance,
    inventory: Sequence[Appliance] | InventoryIndex,
) -> tuple[str, ...] | str:
    """The inventory names of the listed Explore and Trace appliances, or why not known."""
    index = inventory if isinstance(inventory, InventoryIndex) else InventoryIndex(inventory)
    found: set[str] = set()
    for item in listed:
        role = role_for_platform(item.platform)
        if item.id == 0 or role in {Role.COMMAND, Role.DISCOVER}:
            continue
        if role is None:  # an Explore or Trace appliance the platform fails to say?
            return f"it lists {_label(item)}, whose platform names no role"
        match = index.match(item)
        if match is None or match.name == discover.name:
            return f"it lists {_label(item)}, which matches no appliance of the inventory"
        found.add(match.name)
    return tuple(sorted(found, key=index.position.__getitem__))


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
