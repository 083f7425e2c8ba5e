"""CSV inventories: the vendor's headerless `host,api_key,firmware` rows, or a headered table.

Both become the canonical document of `orchestrator.inventory.yamlfile` (the headered CSV is the
YAML appliance list, flattened), plus the line each appliance came from.
"""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from orchestrator.core.errors import InventoryError
from orchestrator.inventory.yamlfile import APPLIANCE_KEYS, looks_secret, show, suggest

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["COLUMNS", "CsvDocument", "parse_csv", "version_in_name"]

COLUMNS = (*(key for key in APPLIANCE_KEYS if key != "firmware"), "firmware", "version")
REQUIRED_COLUMNS = ("name", "url", "role")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LINE_END = re.compile(r"\r\n|\r|\n")
_VERSION_IN_NAME = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d)")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_VENDOR_FIELDS = 3


class CsvDocument(NamedTuple):
    """A CSV inventory in canonical form."""

    document: dict[str, Any]
    lines: tuple[int, ...]  # the 1-based line of each appliance
    vendor: bool  # headerless host,api_key,firmware rows


def parse_csv(text: str, file: str) -> CsvDocument:
    """The canonical document of a CSV inventory; raises InventoryError."""
    rows = list(_rows(text, file))
    if rows and rows[0][1][0].lower() == "name":
        (header_line, header), *rows = rows
        columns = _header(header, header_line, file)
        appliances = [_headered_row(columns, cells, line, file) for line, cells in rows]
        vendor = False
    else:
        if rows and rows[0][1][0].lower() == "host":  # a header someone added to vendor rows
            rows = rows[1:]
        appliances = [_vendor_row(cells, line, file) for line, cells in rows]
        vendor = True
    document = {"defaults": {}, "firmware": {}, "appliances": appliances}
    return CsvDocument(document, tuple(line for line, _ in rows), vendor)


def version_in_name(firmware: str) -> str | None:
    """The dotted version in an image's file name or URL path (`eda-9.9.1.100.tar`), if any."""
    path = urlsplit(firmware).path if _URL.match(firmware) else firmware
    found = _VERSION_IN_NAME.findall(path)
    return found[-1] if found else None


def _rows(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped cells) for each row that is not blank or a # comment."""
    # Only \n, \r\n and \r end a row: str.splitlines() would also split at U+2028 and
    # friends, which may sit inside a cell.
    for number, line in enumerate(_LINE_END.split(text), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\0" in line:
            fix = "delete it (most editors do not show it; it usually comes with pasted text)"
            message = f"the row holds a NUL character (U+0000); {fix}"
            raise InventoryError(message, file=file, row=number)
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error:
            hint = "check the quotes; a value with a comma must be in double quotes"
            raise InventoryError(f"unreadable CSV row; {hint}", file=file, row=number) from None
        yield number, [cell.strip() for cell in cells]


def _vendor_row(cells: Sequence[str], line: int, file: str) -> dict[str, Any]:
    """One `host,api_key,firmware` row (never echoes a cell: the key may be anywhere)."""
    if len(cells) != _VENDOR_FIELDS:
        fix = "write host,api_key,firmware"
        if len(cells) == _VENDOR_FIELDS - 1:
            fix = "add the firmware .tar path or URL as the third field (cloud upgrades: use YAML)"
        message = f"expected 3 fields host,api_key,firmware, found {len(cells)}; {fix}"
        raise InventoryError(message, file=file, row=line)
    for index, (field, example) in enumerate(
        (("host", "eda1.example.net"), ("api_key", "the key"), ("firmware", "eda-9.9.1.100.tar")),
        start=1,
    ):
        if not cells[index - 1]:
            message = f"{field} (field {index}) is empty; write {example}"
            raise InventoryError(message, file=file, row=line)
    host, api_key, firmware = cells
    if looks_secret(host):
        message = "host (field 1) looks like an API key; the order is host,api_key,firmware"
        raise InventoryError(message, file=file, row=line)
    url = host if "://" in host else f"https://{_bracketed(host)}"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        message = "host (field 1) has a port that is not a number 1-65535; write host:443"
        raise InventoryError(message, file=file, row=line) from None
    return {
        "name": _vendor_name(parts.hostname or host, port),
        "url": url,
        "api_key": api_key,
        "firmware": _firmware(firmware, version_in_name(firmware)),
    }


def _vendor_name(host: str, port: int | None) -> str:
    """The host, with the port if given: two appliances may share a host on different ports.

    `10.0.0.7:8443`; an IPv6 address takes `.port` as netstat writes it (`fd00::7.8443`),
    since `::1:8443` is itself an address.
    """
    if port is None:
        return host
    return f"{host}.{port}" if ":" in host else f"{host}:{port}"


def _bracketed(host: str) -> str:
    """A bare IPv6 address in brackets, so that a port cannot be mistaken for part of it."""
    return f"[{host}]" if host.count(":") > 1 and not host.startswith("[") else host


def _header(cells: Sequence[str], line: int, file: str) -> list[str]:
    """The column names, checked: known, each once, with name, url and role present."""
    columns = [cell.lower() for cell in cells]
    for column in columns:
        if column not in COLUMNS:
            message = f"unknown column {show(column)}; {suggest(column, COLUMNS)}"
            raise InventoryError(message, file=file, row=line)
        if columns.count(column) > 1:
            raise InventoryError(f"column {column} appears twice; keep one", file=file, row=line)
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        message = f"the header lacks {', '.join(missing)}; start it with name,url,role"
        raise InventoryError(message, file=file, row=line)
    return columns


def _headered_row(
    columns: Sequence[str], cells: Sequence[str], line: int, file: str
) -> dict[str, Any]:
    """One row of a headered CSV as an appliance mapping (empty cells are unset)."""
    if len(cells) > len(columns):
        fix = "remove the extra cells, or quote a value that contains a comma"
        message = f"{len(cells)} cells but the header has {len(columns)} columns; {fix}"
        raise InventoryError(message, file=file, row=line)
    values: dict[str, Any] = {
        column: cell for column, cell in zip(columns, cells, strict=False) if cell
    }
    firmware, version = values.pop("firmware", None), values.pop("version", None)
    if "verify_tls" in values:
        values["verify_tls"] = _boolean(values["verify_tls"], line, file)
    if firmware is not None and firmware.lower() == "cloud":
        values["firmware"] = _cloud(version, line, file)
    elif firmware is not None:
        values["firmware"] = _firmware(firmware, version)
    elif version is not None:
        fix = "fill firmware with a .tar path, an http(s)/ftp URL or the word cloud"
        raise InventoryError(f"version is set but firmware is empty; {fix}", file=file, row=line)
    return values


def _firmware(firmware: str, version: str | None) -> dict[str, str]:
    """A firmware spec for a .tar path or an http(s)/ftp URL."""
    spec = {"url" if _URL.match(firmware) else "file": firmware}
    if version is not None:
        spec["version"] = version
    return spec


def _cloud(version: str | None, line: int, file: str) -> dict[str, str]:
    if version is None:
        fix = "fill version with the release to download, e.g. 9.9.1.100"
        raise InventoryError(f"firmware is cloud but version is empty; {fix}", file=file, row=line)
    return {"cloud_version": version}


def _boolean(value: str, line: int, file: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InventoryError(f"verify_tls {show(value)}: write true or false", file=file, row=line)
