"""The pins file beside an inventory: the certificate each appliance was trusted with.

`fleet.yaml`'s pins are in `fleet.pins.yaml`, written by `orchestrator trust` and meant to be
reviewed like the inventory: one `name: sha256:HEX` line per appliance, under comment lines
saying what that certificate is (subject, issuer, validity, when it was pinned). An appliance
named there is verified by its pin, whoever signed its certificate (docs/inventory.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from orchestrator.core.errors import InventoryError
from orchestrator.core.tls import normalise_fingerprint
from orchestrator.core.userfile import read_regular, replace_atomically
from orchestrator.inventory.yamlfile import show

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

__all__ = ["Pin", "pins_path", "read_pins", "unused_pin_warnings", "write_pins"]

_LIMIT = 4 * 1024 * 1024  # bytes: a pins file of a very large fleet is far smaller
_ENTRY = re.compile(r"^[^\s#]")  # an entry starts at the left margin; comments with '#'
_HEADER = """\
# TLS certificate pins for {inventory}, written by `orchestrator trust`.
# Each appliance named below is verified by the SHA-256 fingerprint of its certificate,
# whoever signed it (self-signed too); any other certificate is refused. Review a change to
# this file as you would a change to the inventory. To re-pin an appliance whose certificate
# was replaced, run `orchestrator trust {inventory}` again; to stop pinning one, delete its
# line. See docs/inventory.md, "Pins".
"""


@dataclass(frozen=True)
class Pin:
    """One appliance's pinned certificate, and the comment lines written above it."""

    name: str
    fingerprint: str  # `sha256:` and 64 lowercase hex digits
    comment: tuple[str, ...] = ()  # without the leading '#'


def pins_path(inventory: Path) -> Path:
    """Where the pins of `inventory` live: beside it, `<stem>.pins.yaml`."""
    return inventory.with_name(f"{inventory.stem}.pins.yaml")


def read_pins(path: Path) -> dict[str, Pin]:
    """The pins in `path` by casefolded name ({} if there is no such file); InventoryError."""
    try:
        data = read_regular(path, _LIMIT)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InventoryError(f"cannot read the pins file ({reason})", file=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InventoryError("not UTF-8 text", file=str(path)) from None
    return _parse(text, path)


def _parse(text: str, path: Path) -> dict[str, Pin]:
    """Entries with the comment block right above each; a blank line ends a block."""
    pins: dict[str, Pin] = {}
    lines: dict[str, int] = {}
    comment: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.removeprefix("#").removeprefix(" ").rstrip())
            continue
        if stripped:
            pin = _entry(line, path, number, tuple(comment))
            first = lines.setdefault(pin.name.casefold(), number)
            if first != number:
                message = f"{pin.name} is pinned twice (also line {first}); keep one line"
                raise InventoryError(message, file=str(path), row=number)
            pins[pin.name.casefold()] = pin
        comment = []
    return pins


def _entry(line: str, path: Path, number: int, comment: tuple[str, ...]) -> Pin:
    """One `name: sha256:HEX` line."""
    usage = "write one `name: sha256:HEX` per line (as `orchestrator trust` does)"
    try:
        data = yaml.safe_load(line) if _ENTRY.match(line) else None
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or len(data) != 1:
        raise InventoryError(
            f"not a pin: {show(line.strip())}; {usage}", file=str(path), row=number
        )
    ((name, value),) = data.items()
    if not isinstance(name, str):
        message = f"the name {show(name)} must be text; quote it: '{name}': sha256:HEX"
        raise InventoryError(message, file=str(path), row=number)
    pin = normalise_fingerprint(value) if isinstance(value, str) else None
    if pin is None:
        message = f"the pin of {name} is not sha256: and 64 hex digits; {usage}"
        raise InventoryError(message, file=str(path), row=number)
    return Pin(name, pin, comment)


def unused_pin_warnings(pins: Mapping[str, Pin], names: Iterable[str], path: Path) -> list[str]:
    """One warning per pin naming no appliance of the inventory."""
    listed = {name.casefold() for name in names}
    return [
        f"{path.name} pins {pin.name}, which the inventory does not list; delete that line"
        for key, pin in pins.items()
        if key not in listed
    ]


def write_pins(path: Path, pins: Iterable[Pin], *, inventory: str) -> None:
    """Write the pins file atomically (a reader sees the old file or the new, never half)."""
    blocks = [_HEADER.format(inventory=inventory)]
    for pin in pins:
        lines = [f"# {line}".rstrip() for line in pin.comment]
        entry = yaml.safe_dump({pin.name: pin.fingerprint}, default_flow_style=False).strip()
        blocks.append("\n".join([*lines, entry]) + "\n")
    try:
        # fingerprints are public: whoever reviews the inventory may read them
        replace_atomically(path, "\n".join(blocks).encode("utf-8"), mode=0o644)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InventoryError(f"cannot write the pins file ({reason})", file=str(path)) from None
