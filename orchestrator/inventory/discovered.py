"""The console's list of appliances turned into inventory entries: names, URLs, roles.

Pure: `orchestrator discover` reads `GET /api/v1/appliances` from a Command appliance and
gives the list here; `inventory.writer` writes the entries. What the console does not tell
(an Explore node's cluster and kind, the firmware to install) is left to the operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from orchestrator.core.models import Role, role_for_platform
from orchestrator.inventory.urls import normalise_url

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.core.consolelist import ListedAppliance

__all__ = ["Discovered", "Entry", "discovered", "key_variable"]

_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Entry:
    """One appliance as the written inventory lists it."""

    name: str
    url: str
    role: Role
    console_id: int
    version: str  # as the console reported it
    status: str  # the console's status_message
    online: bool


@dataclass(frozen=True)
class Discovered:
    """The entries, the console's first, and one note per appliance left out."""

    entries: tuple[Entry, ...]
    left_out: tuple[str, ...]


def discovered(console_url: str, listed: Sequence[ListedAppliance]) -> Discovered:
    """The inventory entries of the console at `console_url` and its appliances."""
    scheme = urlsplit(console_url).scheme
    entries: list[Entry] = []
    left_out: list[str] = []
    names: set[str] = set()
    for item in sorted(listed, key=lambda item: item.id):
        label = _label(item)
        role = role_for_platform(item.platform)
        if role is None:
            left_out.append(f"{label}: left out: platform {item.platform!r} is not upgraded here")
            continue
        url = console_url if item.id == 0 else _url(scheme, item.hostname)
        if url is None:
            left_out.append(f"{label}: left out: the console gives no usable address for it")
            continue
        name = _unique(label, names)
        entries.append(
            Entry(name, url, role, item.id, item.firmware_version, item.status_message, item.online)
        )
    return Discovered(tuple(entries), tuple(left_out))


def key_variable(name: str) -> str:
    """The variable an appliance's API key is expected in: eda1 -> EDA1_API_KEY."""
    stem = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")
    return f"{stem}_API_KEY" if stem[:1].isalpha() else f"KEY_{stem}_API_KEY"


def _label(item: ListedAppliance) -> str:
    """A short name: its nickname, display name or hostname, its first DNS label only."""
    text = item.nickname.strip() or item.display_name.strip() or item.hostname.strip()
    host = text.split(":", 1)[0]
    if "." in host and _LETTER.search(host):  # eda1.example.net -> eda1; 10.0.0.5 stays
        text = host.split(".", 1)[0]
    text = _NOT_NAME.sub("-", text).strip("-._")
    return text or f"appliance-{item.id}"


def _unique(label: str, taken: set[str]) -> str:
    name, number = label, 2
    while name.casefold() in taken:
        name, number = f"{label}-{number}", number + 1
    taken.add(name.casefold())
    return name


def _url(scheme: str, hostname: str) -> str | None:
    try:
        return normalise_url(f"{scheme}://{hostname.strip()}") if hostname.strip() else None
    except ValueError:
        return None
