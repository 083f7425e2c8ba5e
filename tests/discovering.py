"""Test helpers for discover: the keys an operator exports, the fleet's CA, the FILL INs done."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from orchestrator.inventory.discovered import key_variable

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.simulator import SimulatedFleet


def console_env(fleet: SimulatedFleet) -> dict[str, str]:
    """The console's key where discover looks by default, and each appliance's variable."""
    env = {key_variable(name): fleet.api_key(name) for name in fleet.names}
    return env | {"EXTRAHOP_API_KEY": fleet.api_key("eca1")}


def ca(fleet: SimulatedFleet, folder: Path) -> Path:
    """The fleet's CA, as an operator would save it."""
    path = folder / "corp-ca.pem"
    path.write_bytes(fleet.ca_pem or b"")
    return path


def complete(path: Path) -> None:
    """Do what the FILL IN comments ask: each Explore node's cluster and kind."""
    lines, name = [], ""
    for written in path.read_text().splitlines():
        if match := re.match(r"\s*- name: (\S+)", written):
            name = match.group(1)
        line = written.replace("# cluster: NAME", "cluster: exa")
        line = line.replace("# node: manager", f"node: {'manager' if '-m' in name else 'data'}")
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
