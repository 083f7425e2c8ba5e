"""Write an orchestrator inventory that points at a running simulated fleet."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.images import REPOSITORY_PATH, image_name, make_image

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

KeyMode = Literal["file", "env"]
FirmwareMode = Literal["file", "url", "cloud"]
KEY_MODES = ("file", "env")
FIRMWARE_MODES = ("file", "url", "cloud")


@dataclass(frozen=True)
class Entry:
    """One appliance as the inventory shows it."""

    name: str
    url: str
    role: str
    cluster: str | None
    node: str | None
    api_key: str


def key_env_name(name: str) -> str:
    """The environment variable holding `name`'s key, e.g. SIM_KEY_EXA_M1."""
    return "SIM_KEY_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def key_exports(entries: Sequence[Entry]) -> str:
    """Shell `export` lines setting every appliance's key variable."""
    return "".join(f"export {key_env_name(e.name)}={shlex.quote(e.api_key)}\n" for e in entries)


def _flow(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, default_flow_style=True, sort_keys=False, width=10_000).strip()


def _firmware(
    base: Path,
    *,
    stem: str,
    roles: Sequence[str],
    mode: FirmwareMode,
    version: str,
    size: int,
    repository: str,
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for role in roles:
        image = image_name(role, version)
        if mode == "file":
            make_image(base / f"{stem}-images" / image, role, version, size)
            result[role] = {"file": f"{stem}-images/{image}", "version": version}
        elif mode == "url":
            result[role] = {"url": f"{repository}{REPOSITORY_PATH}{image}", "version": version}
        else:
            result[role] = {"cloud_version": version}
    return result


def _key_ref(base: Path, stem: str, entry: Entry, keys: KeyMode) -> dict[str, str]:
    if keys == "env":
        return {"api_key_env": key_env_name(entry.name)}
    folder = base / f"{stem}-keys"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{entry.name}.key"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(entry.api_key + "\n")
    target.chmod(0o600)
    return {"api_key_file": f"{stem}-keys/{entry.name}.key"}


def _defaults(base: Path, stem: str, ca_pem: bytes | None) -> str:
    """The `defaults:` line; with TLS, the fleet's CA is written beside as `<stem>-ca.pem`."""
    if ca_pem is None:
        return "defaults: {verify_tls: true}"
    (base / f"{stem}-ca.pem").write_bytes(ca_pem)
    return f"defaults: {_flow({'verify_tls': True, 'ca_bundle': f'{stem}-ca.pem'})}"


def write_inventory(
    path: Path,
    entries: Sequence[Entry],
    *,
    version: str,
    image_size: int,
    keys: KeyMode,
    mode: FirmwareMode,
    repository: str,
    ca_pem: bytes | None = None,
) -> Path:
    """Write the inventory YAML (and its keys, images and CA beside it); return its path.

    `repository` is the base URL that serves images for `mode="url"`; `ca_pem` the CA that
    signed the appliances' certificates, for a fleet served over TLS.
    """
    if keys not in KEY_MODES:
        raise ConfigError(f"--keys {keys}: write one of {', '.join(KEY_MODES)}")
    if mode not in FIRMWARE_MODES:
        raise ConfigError(f"--mode {mode}: write one of {', '.join(FIRMWARE_MODES)}")
    base, stem = path.parent, path.stem
    base.mkdir(parents=True, exist_ok=True)
    roles = list(dict.fromkeys(e.role for e in entries))
    firmware = _firmware(
        base,
        stem=stem,
        roles=roles,
        mode=mode,
        version=version,
        size=image_size,
        repository=repository,
    )
    defaults = _defaults(base, stem, ca_pem)
    lines = ["# written by orchestrator simulate", defaults, "firmware:"]
    lines += [f"  {role}: {_flow(spec)}" for role, spec in firmware.items()]
    lines.append("appliances:")
    for entry in entries:
        item: dict[str, Any] = {"name": entry.name, "url": entry.url, "role": entry.role}
        if entry.cluster is not None:
            item |= {"cluster": entry.cluster, "node": entry.node}
        item |= _key_ref(base, stem, entry, keys)
        lines.append(f"  - {_flow(item)}")
    # Whole or not at all: a script waiting for the file to appear never reads half of it.
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
