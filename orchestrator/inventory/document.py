"""An inventory parsed into its canonical form, and how to point at a place in it.

Every format (`csvfile`, `yamlfile`) becomes one `Document`; `check` and `keys` read it and
name the file and the row (CSV line) or YAML path of whatever they refuse.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.core.errors import InventoryError
from orchestrator.inventory.yamlfile import dotted

if TYPE_CHECKING:
    from orchestrator.inventory.yamlfile import Where

__all__ = ["Document"]


@dataclass(frozen=True)
class Document:
    """A parsed inventory in canonical form, and how to point at a place in it."""

    file: str
    base: Path  # relative paths start here
    data: dict[str, Any]
    lines: tuple[int, ...] | None = None  # CSV: the line of each appliance
    vendor: bool = False

    def where(self, path: Where) -> str | int | None:
        """The row (CSV line) or YAML path of `path`."""
        if self.lines is None:
            return dotted(path) or None
        if len(path) > 1 and path[0] == "appliances" and isinstance(path[1], int):
            return self.lines[path[1]]
        return None

    def place(self, index: int) -> str:
        """Where appliance `index` is, for a message naming another appliance."""
        return f"appliances[{index}]" if self.lines is None else f"row {self.lines[index]}"

    def error(self, path: Where, message: str) -> InventoryError:
        """The InventoryError for `path`."""
        return InventoryError(message, file=self.file, row=self.where(path))

    def resolve(self, value: str) -> Path:
        """`value` as an absolute path; relative paths start at the inventory's directory."""
        path = Path(value)
        with contextlib.suppress(RuntimeError):  # ~user of no such user: left as written
            path = path.expanduser()
        return Path(os.path.normpath(self.base / path)).absolute()
