"""What an inventory means: URLs, roles, clusters, firmware, API keys, duplicates, warnings.

`inventory` parses a file into a canonical document; this module checks it and builds the
appliances, reading their keys through `inventory_keys`. Every error names the file, the
row or YAML path, and what to write instead; no error or warning ever contains an API key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import (
    Appliance,
    CloudFirmware,
    ConsoleFirmware,
    FileFirmware,
    Firmware,
    NodeKind,
    Role,
    UrlFirmware,
    parse_version,
    role_for_platform,
)
from orchestrator.core.userfile import NotRegularFileError, check_readable
from orchestrator.inventory.consolemode import check_console, through_console
from orchestrator.inventory.csvfile import version_in_name
from orchestrator.inventory.document import Document
from orchestrator.inventory.keys import KeyReader
from orchestrator.inventory.problems import Problems
from orchestrator.inventory.urls import is_loopback, normalise_url
from orchestrator.inventory.yamlfile import Where, looks_secret, show

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from orchestrator.inventory.pins import Pin

__all__ = ["Checker", "Document"]

_ROLES = ", ".join(role.value for role in Role)
_NAME = re.compile(r"(?:[A-Za-z0-9]|::)[A-Za-z0-9._:-]{0,252}")  # `::` starts IPv6 hosts
_VERSION = re.compile(r"\d+(\.\d+)+")
_FIRMWARE_SCHEMES = ("http", "https", "ftp")
_SOURCES = ("file", "url", "cloud_version", "console_version")


@dataclass
class Checker:
    """Turns a canonical document into appliances and warnings, or raises listing every error."""

    doc: Document
    env: Mapping[str, str]
    pins: Mapping[str, Pin] = field(default_factory=dict)  # by casefolded name (pins file)
    warnings: list[str] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)  # casefolded name -> first index
    urls: dict[str, int] = field(default_factory=dict)  # normalised URL -> first index
    problems: Problems = field(default_factory=Problems)
    keys: KeyReader = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyReader(self.doc, self.env, self.warnings)

    @property
    def defaults(self) -> dict[str, Any]:
        """The `defaults:` mapping (empty for CSV)."""
        return dict(self.doc.data["defaults"])

    def run(self) -> tuple[tuple[Appliance, ...], tuple[str, ...]]:
        """All appliances, checked, and the warnings; one InventoryError naming every error."""
        appliances = self.problems.attempt(self._run)
        error = self.problems.combined()
        if error is not None or appliances is None:
            raise self._scrubbed(error or self.doc.error((), "not usable")) from None
        return appliances, tuple(dict.fromkeys(self.warnings))

    def _run(self) -> tuple[Appliance, ...]:
        raw = self.doc.data["appliances"]
        if not raw:
            fix = "add at least one under appliances:"
            if self.doc.lines is not None:
                fix = "add a row host,api_key,firmware (or name,url,role,... under a header)"
            raise self.doc.error(("appliances",), f"the inventory lists no appliances; {fix}")
        table: dict[Role, Firmware | None] = {  # None: the role's firmware is in error
            Role(role): self.problems.attempt(self.firmware, spec, ("firmware", role))
            for role, spec in self.doc.data["firmware"].items()
        }
        appliances: dict[int, Appliance] = {}
        for index, item in enumerate(raw):
            appliance = self.appliance(item, ("appliances", index), table)
            if appliance is not None and self.problems.attempt(
                self.check_unique, appliance, index, appliances
            ):
                appliances[index] = appliance
        if not self.problems.found:  # a console in error is not missing
            check_console(self.doc, tuple(appliances.values()))
        if self.doc.vendor:
            hint = "prefer a YAML inventory with api_key_env or api_key_file"
            self.warnings.insert(0, f"keys are inline in {self.doc.file}; {hint}")
        return tuple(appliances.values())

    def _scrubbed(self, exc: InventoryError) -> InventoryError:
        """`exc` with every inline key of the document masked, in case one slipped in."""
        inline = [self.defaults.get("api_key")]
        inline += [item.get("api_key") for item in self.doc.data["appliances"]]

        def masked(error: InventoryError) -> InventoryError:
            message = error.message
            for secret in filter(None, inline):
                message = message.replace(secret, "***")
            return InventoryError(message, file=error.file, row=error.row)

        also = [masked(error) for error in exc.also]
        first = masked(exc)
        return InventoryError(
            first.message, file=first.file, row=first.row, also=also, unlisted=exc.unlisted
        )

    def appliance(
        self, raw: dict[str, Any], where: Where, table: dict[Role, Firmware | None]
    ) -> Appliance | None:
        """One appliance, checked field by field; None when it has errors (each recorded)."""
        errors = len(self.problems.found)
        url = self.problems.attempt(self.url, raw, where)
        name = self.problems.attempt(self.name, raw, where)
        label = name or self.doc.place(int(where[1]))  # a bad name is not repeated
        known = len(self.problems.found)
        role = self.problems.attempt(self.role, raw, where, label)
        place, firmware = None, None
        if len(self.problems.found) == known:  # what depends on the role can be checked
            place = self.problems.attempt(self.explore, raw, where, label, role)
            firmware = self.appliance_firmware(raw, where, label, role, table)
        optional = isinstance(firmware, ConsoleFirmware) and role is not Role.COMMAND  # no key
        firmware = self.problems.attempt(
            through_console, self.doc, raw, where, label, role=role, firmware=firmware
        )
        api_key = self.problems.attempt(
            self.keys.api_key, raw, self.defaults, where, label, required=not optional
        )
        verify_tls = bool(self.pick(raw, where, "verify_tls", default=True)[0])
        ca_bundle = self.problems.attempt(self.ca_bundle, raw, where)
        if len(self.problems.found) > errors or url is None or name is None or place is None:
            return None
        if firmware is None or (api_key is None and not optional):  # an error met before
            return None
        pin = self.pins.get(name.casefold())
        self.check_transport(name, url, verify_tls=verify_tls, pinned=pin is not None)
        return Appliance(
            name=name,
            url=url,
            role=role,
            cluster=place[0],
            node=place[1],
            firmware=firmware,
            api_key=api_key,
            console_id=raw.get("console_id"),
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            pin=pin.fingerprint if pin is not None else None,
        )

    def pick(
        self, raw: dict[str, Any], where: Where, key: str, default: object = None
    ) -> tuple[Any, Where]:
        """The appliance's `key`, else the default's, and where it was written."""
        if key in raw:
            return raw[key], (*where, key)
        if key in self.defaults:
            return self.defaults[key], ("defaults", key)
        return default, (*where, key)

    def url(self, raw: dict[str, Any], where: Where) -> str:
        """The appliance's base URL, normalised."""
        label = "host" if self.doc.vendor else "url"
        if "url" not in raw:
            raise self.doc.error((*where, "url"), "missing url; add url: https://eda1.example.net")
        try:
            url = normalise_url(raw["url"])
        except ValueError as exc:
            reason = str(exc)
            if looks_secret(reason):  # the part to remove may be a pasted key
                reason = "must be the appliance's base URL; write https://HOST or https://HOST:PORT"
            raise self.doc.error((*where, "url"), f"{label} {show(raw['url'])} {reason}") from None
        if looks_secret(url):  # it would be shown in every plan, log and report
            fix = "write only the appliance's base URL, e.g. https://eda1.example.net"
            message = f"{label} looks like it holds an API key (value hidden); {fix}"
            raise self.doc.error((*where, "url"), message)
        return url

    def name(self, raw: dict[str, Any], where: Where) -> str:
        """The appliance's name, a short label unique in the inventory."""
        if "name" not in raw:
            raise self.doc.error(
                (*where, "name"), "missing name; add name: eda1 (a short unique label)"
            )
        name = str(raw["name"])
        if looks_secret(name):  # it would be shown in every plan, log and report
            fix = "write a short label such as eda1 (the key goes in api_key_env or api_key_file)"
            raise self.doc.error(
                (*where, "name"), f"name looks like an API key (value hidden); {fix}"
            )
        if _NAME.fullmatch(name) is None:
            fix = "use letters, digits, '.', '-' and '_', e.g. eda1"
            message = f"name {show(name)} is not usable; {fix}"
            if self.doc.vendor:  # the name comes from the host
                message = f"host (field 1) gives no usable appliance name ({show(name)}); "
                message += "use a YAML inventory to name it"
            raise self.doc.error((*where, "name"), message)
        return name

    def role(self, raw: dict[str, Any], where: Where, name: str) -> Role | None:
        """The appliance's role; None only in the vendor CSV (discovered at plan time)."""
        if "role" not in raw:
            if self.doc.vendor:
                return None
            raise self.doc.error(
                (*where, "role"), f"missing role for {name}; add role: one of {_ROLES}"
            )
        value = str(raw["role"])
        try:
            return Role(value.lower())
        except ValueError:
            guess = role_for_platform(value)
            fix = f"write role: {guess.value}" if guess else f"use one of {_ROLES}"
            message = f"unknown role {show(value)} for {name}; {fix}"
            raise self.doc.error((*where, "role"), message) from None

    def explore(
        self, raw: dict[str, Any], where: Where, name: str, role: Role | None
    ) -> tuple[str | None, NodeKind | None]:
        """Cluster and node: required for explore appliances, refused for the others."""
        if role is not Role.EXPLORE:
            for key in ("cluster", "node"):
                if key in raw:
                    fix = f"remove {key} from {name} (role {role}) or make it role: explore"
                    raise self.doc.error(
                        (*where, key), f"cluster and node apply only to explore; {fix}"
                    )
            return None, None
        if "console_id" in raw and ("cluster" not in raw or "node" not in raw):
            fix = "complete the `# cluster:` and `# node:` lines discover wrote under it"
            message = f"explore appliance {name} has no cluster or node (the console cannot tell)"
            raise self.doc.error(where, f"{message}; {fix}")
        if "cluster" not in raw:
            fix = "add cluster: NAME, the same for every node of one recordstore cluster"
            raise self.doc.error(
                (*where, "cluster"), f"explore appliance {name} has no cluster; {fix}"
            )
        if "node" not in raw:
            fix = "add node: manager or node: data"
            raise self.doc.error((*where, "node"), f"explore appliance {name} has no node; {fix}")
        if looks_secret(raw["cluster"]):
            fix = "write the name of the recordstore cluster, e.g. exa"
            message = f"cluster looks like an API key (value hidden); {fix}"
            raise self.doc.error((*where, "cluster"), message)
        try:
            return str(raw["cluster"]), NodeKind(str(raw["node"]).lower())
        except ValueError:
            message = f"unknown node {show(raw['node'])} for {name}; write manager or data"
            raise self.doc.error((*where, "node"), message) from None

    def appliance_firmware(
        self,
        raw: dict[str, Any],
        where: Where,
        name: str,
        role: Role | None,
        table: dict[Role, Firmware | None],
    ) -> Firmware | None:
        """The appliance's own firmware, else the one for its role; None when in error."""
        if "firmware" in raw:
            return self.problems.attempt(self.firmware, raw["firmware"], (*where, "firmware"))
        if role is not None and role in table:
            return table[role]  # None when the role's firmware is in error: already recorded
        fix = f"add firmware.{role}: {{file: ..., version: ...}} or a firmware: on the appliance"
        if self.doc.lines is not None:
            fix = "fill the firmware column with a .tar path, a URL or cloud"
        message = f"no firmware for {name} (role {role}); {fix}"
        self.problems.add(self.doc.error((*where, "firmware"), message))
        return None

    def firmware(self, spec: dict[str, str], where: Where) -> Firmware:
        """A firmware spec: exactly one of file, url and cloud_version."""
        sources = [key for key in _SOURCES if key in spec]
        if not sources:
            example = "{file: images/eda-9.9.1.100.tar, version: 9.9.1.100}"
            needs = f"firmware needs one of {', '.join(_SOURCES)}, e.g. {example}"
            raise self.doc.error(where, needs)
        if len(sources) > 1:
            raise self.doc.error(
                where, f"firmware has both {sources[0]} and {sources[1]}; keep one"
            )
        if "cloud_version" in spec:
            return CloudFirmware(cloud_version=self.named_version(spec, where, "cloud_version"))
        if "console_version" in spec:  # console mode: the console upgrades it
            return ConsoleFirmware(console_version=self.named_version(spec, where, sources[0]))
        version = self.target_version(spec, where, spec[sources[0]])
        if "url" in spec:
            return UrlFirmware(url=self.firmware_url(spec["url"], (*where, "url")), version=version)
        image = self.existing(spec["file"], (*where, "file"), "firmware file")
        return FileFirmware(file=image, version=version)

    def named_version(self, spec: dict[str, str], where: Where, key: str) -> str:
        """The version `key` names; a `version:` written beside it must be the same."""
        version = self.dotted_version(spec[key], (*where, key))
        if spec.get("version", version) != version:
            raise self.doc.error((*where, "version"), f"version and {key} differ; keep {key}")
        return version

    def target_version(self, spec: dict[str, str], where: Where, image: str) -> str | None:
        """The target version of a file or URL image (optional only in the vendor CSV)."""
        if "version" in spec:
            return self.dotted_version(spec["version"], (*where, "version"))
        if self.doc.vendor:
            return None
        guess = version_in_name(image) or "X.Y.Z.BUILD"
        fix = f"add version: {guess} (the image's version)"
        if self.doc.lines is not None:
            fix = f"fill the version column with the image's version, e.g. {guess}"
        raise self.doc.error((*where, "version"), f"the target version is missing; {fix}")

    def dotted_version(self, value: str, where: Where) -> str:
        """`value` if it is a dotted version such as 9.9.1.100."""
        if _VERSION.fullmatch(value) is None or parse_version(value) is None:
            raise self.doc.error(
                where, f"{show(value)} is not a dotted version; write e.g. 9.9.1.100"
            )
        return value

    def firmware_url(self, url: str, where: Where) -> str:
        """An http(s)/ftp URL the appliance downloads its image from."""
        parts = urlsplit(url)
        if parts.password is not None:
            fix = "it would appear in plans and reports; use a URL that needs no password"
            raise self.doc.error(where, f"the firmware URL contains a password; {fix}")
        if parts.scheme.lower() not in _FIRMWARE_SCHEMES or not parts.hostname:
            fix = "write http://, https:// or ftp:// and a host, or a local .tar path"
            raise self.doc.error(where, f"firmware URL {show(url)} is not usable; {fix}")
        return url

    def existing(self, value: str, where: Where, what: str) -> Path:
        """`value` resolved against the inventory's directory; a regular file we can read."""
        path = self.doc.resolve(value)
        try:
            check_readable(path)
        except OSError as exc:
            raise self.doc.error(where, self.unreadable(what, path, exc)) from None
        return path

    def unreadable(self, what: str, path: Path, exc: OSError) -> str:
        """Why `path` cannot be used, and what to do."""
        shown = show(path, limit=None)
        fix = f"fix the path (relative paths start at {self.doc.resolve('.')})"
        if isinstance(exc, FileNotFoundError):
            return f"{what} {shown} does not exist; {fix}"
        if isinstance(exc, NotRegularFileError):
            return f"{what} {shown} is not a regular file ({exc.kind}); {fix}"
        reason = exc.strerror or type(exc).__name__
        return f"cannot read {what} {shown} ({reason}); make it readable by this user, or {fix}"

    def ca_bundle(self, raw: dict[str, Any], where: Where) -> Path | None:
        """The CA bundle that verifies the appliance's certificate, if any."""
        value, at = self.pick(raw, where, "ca_bundle")
        return None if value is None else self.existing(value, at, "CA bundle")

    def check_transport(self, name: str, url: str, *, verify_tls: bool, pinned: bool) -> None:
        """Warn about plain http beyond this machine, disabled TLS checks, and useless pins."""
        parts = urlsplit(url)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            self.warnings.append(f"API key sent in clear to {name} ({url}); use https://")
        if parts.scheme == "http" and pinned:
            self.warnings.append(f"{name} is pinned but speaks http://: the pin is not used")
        if parts.scheme == "https" and not verify_tls:
            self.warnings.append(
                f"{name} is verified by its pin; remove its verify_tls: false"
                if pinned
                else f"TLS verification disabled for {name}; prefer ca_bundle, or pin its "
                "certificate with `orchestrator trust`"
            )

    def check_unique(self, appliance: Appliance, index: int, earlier: dict[int, Appliance]) -> bool:
        """True; InventoryError for a name or URL that an earlier appliance already has."""
        first = self.names.setdefault(appliance.name.casefold(), index)
        if first != index:
            fix = "give each appliance its own name"
            if self.doc.vendor:
                fix = "the vendor CSV names appliances by host; use YAML to name them"
            message = f"duplicate name {appliance.name} (also {self.doc.place(first)}); {fix}"
            raise self.doc.error(("appliances", index, "name"), message)
        first = self.urls.setdefault(appliance.url, index)
        if first != index:
            other = f"{earlier[first].name} ({self.doc.place(first)})"
            message = f"{appliance.name} has the same URL as {other}: {appliance.url}"
            raise self.doc.error(("appliances", index, "url"), f"{message}; list each one once")
        return True
