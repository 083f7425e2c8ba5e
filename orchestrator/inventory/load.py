"""Load an inventory (vendor CSV, headered CSV or YAML) into a validated `Inventory`.

`inventory_csv` and `inventory_yaml` turn each format into one canonical document;
`inventory_check` checks what it means (URLs, roles, clusters, firmware, API keys,
duplicates), reads the keys and collects the warnings. Every error names the file, the row
or YAML path, and what to write instead; no error or warning ever contains an API key.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import Inventory
from orchestrator.core.userfile import read_regular
from orchestrator.inventory.check import Checker
from orchestrator.inventory.csvfile import parse_csv
from orchestrator.inventory.document import Document
from orchestrator.inventory.pins import pins_path, read_pins, unused_pin_warnings
from orchestrator.inventory.urls import normalise_url
from orchestrator.inventory.yamlfile import parse_yaml

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["load_inventory", "normalise_url"]


def load_inventory(path: Path, *, env: Mapping[str, str] | None = None) -> Inventory:
    """Parse and check the inventory at `path`, reading API keys from `env` (os.environ).

    The pins beside it (`<stem>.pins.yaml`, written by `orchestrator trust`) are applied.
    """
    file = str(path)
    try:
        data = read_regular(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InventoryError(
            f"cannot read the inventory ({reason}); check the path", file=file
        ) from None
    document = _parse(path, _decode(data, file))
    pins = read_pins(pins_path(path))
    appliances, warnings = Checker(document, os.environ if env is None else env, pins).run()
    names = (appliance.name for appliance in appliances)
    warnings += tuple(unused_pin_warnings(pins, names, pins_path(path)))
    sha256 = hashlib.sha256(data).hexdigest()
    return Inventory(source=file, sha256=sha256, appliances=appliances, warnings=warnings)


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise InventoryError(message, file=file) from None


def _parse(path: Path, text: str) -> Document:
    file, base, suffix = str(path), path.parent, path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return Document(file, base, parse_yaml(text, file))
    if suffix == ".csv":
        parsed = parse_csv(text, file)
        return Document(file, base, parsed.document, parsed.lines, parsed.vendor)
    message = (
        f"unknown inventory format {suffix or '(no extension)'!r}; name it .yaml, .yml or .csv"
    )
    raise InventoryError(message, file=file)
