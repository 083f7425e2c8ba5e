"""What `orchestrator discover` does, without printing: read a console's fleet, write it down.

Every input is checked before the console is asked anything (the URL, the key, the CA
bundle or pin, the file to merge into); the file is written only once the console answered,
atomically, readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.appliance.certs import read_certificate
from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core.errors import ConfigError, TransportError
from orchestrator.core.models import Appliance, CloudFirmware, Role, parse_version
from orchestrator.core.tls import normalise_fingerprint
from orchestrator.core.userfile import check_readable, read_regular, write_atomically
from orchestrator.inventory.discovered import Discovered, Entry, discovered
from orchestrator.inventory.document import Document
from orchestrator.inventory.keys import KeyReader
from orchestrator.inventory.pins import Pin, pins_path, read_pins, write_pins
from orchestrator.inventory.urls import normalise_url
from orchestrator.inventory.writer import Layout, Merged, inventory_text, merge_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import SecretStr

    from orchestrator.core.config import Settings
    from orchestrator.core.consolelist import ListedAppliance

__all__ = ["DEFAULT_KEY_VARIABLE", "Request", "Result", "discover"]

DEFAULT_KEY_VARIABLE = "EXTRAHOP_API_KEY"


@dataclass(frozen=True)
class Request:
    """What the command line asked for."""

    console_url: str
    out: Path | None
    merge: Path | None = None
    key_env: str | None = None  # the variable holding the console's key
    key_file: Path | None = None  # or the file
    ca_bundle: Path | None = None
    pin: str | None = None  # the console's certificate, sha256:HEX
    version: str | None = None  # every role's cloud_version


@dataclass(frozen=True)
class Result:
    """What was written."""

    path: Path
    entries: tuple[Entry, ...]  # everything the console listed that is written down
    added: tuple[str, ...]  # names new in the file (all of them without --merge)
    unlisted: tuple[str, ...]  # in the merged file, but not listed by the console
    left_out: tuple[str, ...]  # listed by the console, not written (one sentence each)
    version_given: bool
    merged: bool


@dataclass(frozen=True)
class _Checked:
    url: str
    out: Path
    existing: str | None  # the text to merge into
    key: SecretStr
    layout: Layout


async def discover(request: Request, settings: Settings, env: Mapping[str, str]) -> Result:
    """Check the request, read the console's appliances, write the inventory (and pin)."""
    checked = _check(request, env)
    listed = await _read(checked, request, settings)
    found = discovered(checked.url, listed)
    result = _write(checked, found, request)
    if request.pin is not None and found.entries:
        _pin_console(checked.out, found.entries[0].name, request.pin)
    return result


def _check(request: Request, env: Mapping[str, str]) -> _Checked:
    url = _console_url(request.console_url)
    out = request.out or request.merge
    if out is None:
        raise ConfigError("discover: give --out PATH (or --merge EXISTING.yaml to update it)")
    for flag, path in (("--out", out), ("--merge", request.merge)):
        if path is not None and path.suffix.lower() not in {".yaml", ".yml"}:
            raise ConfigError(f"{flag} {path}: discover writes YAML inventories (.yaml or .yml)")
    if out.exists() and (request.merge is None or out.resolve() != request.merge.resolve()):
        fix = f"give --merge {out} to update it, or another --out"
        raise ConfigError(f"--out {out} exists; {fix}")
    existing = _existing(request.merge) if request.merge is not None else None
    if request.version is not None and parse_version(request.version) is None:
        raise ConfigError(f"--version {request.version!r} is not a version like 9.9.1.100")
    if request.pin is not None and normalise_fingerprint(request.pin) is None:
        fix = "write sha256: and the certificate's 64 hex digits (orchestrator trust shows it)"
        raise ConfigError(f"--pin is not a SHA-256 fingerprint; {fix}")
    if request.ca_bundle is not None:
        _readable(request.ca_bundle, "--ca-bundle")
    source, key = _console_key(request, url, env)
    layout = Layout(
        source=url,
        written=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        console_key=(source, _relative(Path(key[1]), out) if source == "api_key_file" else key[1]),
        ca_bundle=_relative(request.ca_bundle, out) if request.ca_bundle else None,
        version=request.version,
    )
    return _Checked(url, out, existing, key[0], layout)


def _console_url(text: str) -> str:
    try:
        return normalise_url(text)
    except ValueError as exc:
        raise ConfigError(f"CONSOLE_URL {text!r} {exc}") from None


def _existing(path: Path) -> str:
    try:
        return read_regular(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"--merge {path}: cannot read it ({reason})") from None


def _readable(path: Path, flag: str) -> None:
    try:
        check_readable(path)
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot read it ({exc.strerror})") from None


def _console_key(
    request: Request, url: str, env: Mapping[str, str]
) -> tuple[str, tuple[SecretStr, str]]:
    """The key source written for the console, and its key (read as an inventory's are)."""
    if request.key_env is not None and request.key_file is not None:
        raise ConfigError("give --api-key-env or --api-key-file, not both")
    if request.key_file is not None:
        source, value, flag = "api_key_file", str(request.key_file), "--api-key-file"
    else:
        source, value, flag = (
            "api_key_env",
            request.key_env or DEFAULT_KEY_VARIABLE,
            "--api-key-env",
        )
    empty: dict[str, Any] = {"defaults": {}, "firmware": {}, "appliances": []}
    reader = KeyReader(Document(flag, Path.cwd(), empty), env, [])
    return source, (reader.read_key(source, value, (), f"the console {url}"), value)


def _relative(path: Path, out: Path) -> str:
    """`path` as the written inventory should name it: relative to the inventory's folder."""
    return os.path.relpath(path.absolute(), out.absolute().parent)


async def _read(checked: _Checked, request: Request, settings: Settings) -> list[ListedAppliance]:
    # The console is only read here, never upgraded: its firmware is never looked at.
    console = Appliance(
        name=checked.url,
        url=checked.url,
        role=Role.COMMAND,
        firmware=CloudFirmware(cloud_version="0"),
        api_key=checked.key,
        ca_bundle=request.ca_bundle.absolute() if request.ca_bundle else None,
        pin=normalise_fingerprint(request.pin) if request.pin else None,
    )
    async with open_session(settings) as session:
        try:
            return await ApplianceClient(session, console, settings).list_appliances()
        except TransportError as exc:
            if console.pin is not None or not exc.message.startswith("TLS verification failed"):
                raise
            raise await _refused(console, exc, settings) from None


async def _refused(console: Appliance, exc: TransportError, settings: Settings) -> TransportError:
    """The console's certificate was refused: what it is, and the two ways to trust it."""
    try:
        presented = await read_certificate(console, seconds=settings.connect_timeout)
    except TransportError:
        return exc
    what = presented.ca_problem or "its certificate was refused"
    fix = (
        "give --ca-bundle PATH (the CA that signed it) or, once the console's administrator "
        f"confirms this fingerprint, --pin {presented.certificate.fingerprint}"
    )
    return TransportError(console.name, f"TLS verification failed: {what}; {fix}")


def _write(checked: _Checked, found: Discovered, request: Request) -> Result:
    out = checked.out
    merged = Merged(
        inventory_text(found.entries, checked.layout, out=str(out)),
        tuple(entry.name for entry in found.entries),
        (),
    )
    if checked.existing is not None:
        merged = merge_text(checked.existing, str(request.merge), found.entries, checked.layout)
    write_atomically(out, merged.text, "the inventory")
    return Result(
        out,
        found.entries,
        merged.added,
        merged.unlisted,
        found.left_out,
        version_given=request.version is not None,
        merged=checked.existing is not None,
    )


def _pin_console(out: Path, name: str, pin: str) -> None:
    """Record the console's certificate in the pins file beside the inventory."""
    path = pins_path(out)
    pins = read_pins(path) if path.exists() else {}
    fingerprint = normalise_fingerprint(pin) or pin
    pins.setdefault(
        name.casefold(), Pin(name, fingerprint, ("pinned by orchestrator discover --pin",))
    )
    write_pins(path, pins.values(), inventory=out.name)
