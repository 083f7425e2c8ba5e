"""YAML inventories: parse, refuse duplicate and unknown keys, check each value's type.

The result is a plain document in the canonical shape every format is turned into:
`{"defaults": {...}, "firmware": {role: spec}, "appliances": [{...}, ...]}` holding only
non-empty `str` values (and `bool` for verify_tls). `orchestrator.inventory` checks meaning.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any, TypeAlias

import yaml

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import Role

try:  # libyaml parses large inventories several times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

__all__ = [
    "APPLIANCE_KEYS",
    "DEFAULT_KEYS",
    "FIRMWARE_KEYS",
    "KEY_SOURCES",
    "dotted",
    "hide_secrets",
    "looks_secret",
    "parse_yaml",
    "show",
    "suggest",
]

Where: TypeAlias = tuple[str | int, ...]

KEY_SOURCES = ("api_key_env", "api_key_file", "api_key")
DEFAULT_KEYS = (*KEY_SOURCES, "verify_tls", "ca_bundle")
APPLIANCE_KEYS = ("name", "url", "role", "cluster", "node", "console_id", "firmware", *DEFAULT_KEYS)
FIRMWARE_KEYS = ("file", "url", "version", "cloud_version", "console_version")
FLEET_FIRMWARE = "console_version"  # `firmware: {console_version: X}`: every role, console mode
TOP_KEYS = ("defaults", "firmware", "appliances")
ROLES = tuple(role.value for role in Role)
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Long runs of letters and digits look like API keys: never echo them back.
_SECRET_LIKE = re.compile(r"(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{20,}")
_SHOW_LIMIT = 60


def dotted(where: Where) -> str:
    """`("appliances", 3, "role")` -> `appliances[3].role`."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def suggest(word: str, known: Sequence[str]) -> str:
    """A hint naming the closest known word, or all of them."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    listing = ", ".join(known)
    return f"did you mean {close[0]}? (known: {listing})" if close else f"use one of {listing}"


def looks_secret(value: object) -> bool:
    """Whether `value` contains something that looks like an API key."""
    return _SECRET_LIKE.search(str(value)) is not None


def hide_secrets(text: str) -> str:
    """`text` with everything that looks like an API key replaced by `(value hidden)`."""
    return _SECRET_LIKE.sub("(value hidden)", text)


def show(value: object, limit: int | None = _SHOW_LIMIT) -> str:
    """A value quoted for an error message; anything that looks like an API key is hidden."""
    text = str(value)
    if looks_secret(text):
        return "(value hidden: it looks like an API key)"
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


class _DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping repeats a key."""


class _Loader(_SafeLoader):
    """A safe loader that refuses duplicate keys, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:  # noqa: FBT001, FBT002 - PyYAML's signature
        """Construct a mapping after checking that no key appears twice."""
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                first = seen[key_node.value]
                problem = f"duplicate key {show(key_node.value)} (first on line {first})"
                raise _DuplicateKeyError(problem=problem, problem_mark=key_node.start_mark)
            seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, file: str) -> dict[str, Any]:
    """The canonical document of a YAML inventory; raises InventoryError."""
    return _document(_load(text, file), file)


def _load(text: str, file: str) -> object:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a safe loader
    except _DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InventoryError(f"{exc.problem}; keep only one", file=file, row=line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f" (column {mark.column + 1})" if mark else ""
        problem = hide_secrets(exc.problem or exc.context or "unreadable YAML")  # may quote a tag
        fix = "check the indentation (spaces, not tabs) and quoting"
        message = f"YAML syntax error: {problem}{column}; {fix}"
        raise InventoryError(message, file=file, row=line) from None
    except yaml.reader.ReaderError as exc:
        raise _bad_character(text, exc.character, file) from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"YAML error: {type(exc).__name__}", file=file) from None


def _bad_character(text: str, character: int | str, file: str) -> InventoryError:
    """The error for a character YAML refuses (a NUL, an escape...), naming its line and column."""
    char = character if isinstance(character, str) else chr(character)
    # The first one is where the reader stopped (libyaml counts bytes, PyYAML characters).
    index = max(text.find(char), 0)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    problem = f"the character U+{ord(char):04X} (column {column}) is not allowed in YAML"
    fix = "delete it (most editors do not show it; it usually comes with pasted text)"
    return InventoryError(f"{problem}; {fix}", file=file, row=line)


def _document(data: object, file: str) -> dict[str, Any]:
    hint = "start it with `appliances:` (see docs/inventory.md)"
    top = _mapping(data, (), TOP_KEYS, file, hint)
    document: dict[str, Any] = {"defaults": {}, "firmware": {}, "appliances": []}
    if "defaults" in top:
        document["defaults"] = _fields(top["defaults"], ("defaults",), DEFAULT_KEYS, file)
    if "firmware" in top:
        document["firmware"] = _firmware_table(top["firmware"], file)
    appliances = top.get("appliances")
    if appliances is None:
        return document
    if not isinstance(appliances, list):
        hint = "write a list, one `- {name: ..., url: ..., role: ...}` per appliance"
        raise InventoryError(f"appliances must be a list; {hint}", file=file, row="appliances")
    document["appliances"] = [
        _fields(item, ("appliances", index), APPLIANCE_KEYS, file)
        for index, item in enumerate(appliances)
    ]
    return document


def _firmware_table(value: object, file: str) -> dict[str, Any]:
    """One spec per role; `console_version:` beside them gives it to every role not written."""
    known = (*ROLES, FLEET_FIRMWARE)
    table = _mapping(value, ("firmware",), known, file, "one entry per role")
    specs = {
        role: _fields(spec, ("firmware", role), FIRMWARE_KEYS, file)
        for role, spec in table.items()
        if role != FLEET_FIRMWARE
    }
    if FLEET_FIRMWARE in table:
        version = _value(table[FLEET_FIRMWARE], ("firmware", FLEET_FIRMWARE), file)
        specs = {role: {FLEET_FIRMWARE: version} for role in ROLES} | specs
    return specs


def _mapping(
    value: object, where: Where, known: Sequence[str], file: str, hint: str
) -> dict[str, Any]:
    """`value` as a mapping whose keys are all in `known`."""
    row = dotted(where) or None
    if not isinstance(value, dict):
        what = "the inventory" if not where else dotted(where)
        raise InventoryError(f"{what} must be a mapping of key: value; {hint}", file=file, row=row)
    for key in value:
        if not isinstance(key, str) or key not in known:
            message = f"unknown key {show(key)}; {suggest(str(key), known)}"
            at = where if looks_secret(key) else (*where, str(key))
            raise InventoryError(message, file=file, row=dotted(at) or None)
    return value


def _fields(value: object, where: Where, known: Sequence[str], file: str) -> dict[str, Any]:
    """A mapping of typed, non-empty values (a nested mapping for `firmware`)."""
    hint = f"for example {{{', '.join(f'{key}: ...' for key in known[:3])}}}"
    mapping = _mapping(value, where, known, file, hint)
    return {key: _value(item, (*where, key), file) for key, item in mapping.items()}


def _value(value: object, where: Where, file: str) -> object:
    key = str(where[-1])
    row = dotted(where)
    if key == "firmware":
        return _fields(value, where, FIRMWARE_KEYS, file)
    if key == "console_id":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fix = "write the appliance's id on its console (GET /api/v1/appliances), e.g. 3"
            raise InventoryError(f"console_id must be a whole number; {fix}", file=file, row=row)
        return value
    if key == "verify_tls":
        if not isinstance(value, bool):
            message = f"{key} must be true or false; write {key}: false"
            raise InventoryError(message, file=file, row=row)
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InventoryError(f"{key} is empty; give a value or remove the key", file=file, row=row)
    if not isinstance(value, str):
        fix = f"write it as text in quotes, e.g. {key}: '{_example(key)}'"
        raise InventoryError(f"{key} must be text; {fix}", file=file, row=row)
    return value.strip()


def _example(key: str) -> str:
    table = {
        "name": "eda1",
        "url": "https://eda1.example.net",
        "role": "discover",
        "cluster": "exa",
        "node": "manager",
        "version": "9.9.1.100",
        "cloud_version": "9.9.1.100",
        "file": "images/eda-9.9.1.100.tar",
        "api_key_env": "EXTRAHOP_API_KEY",
        "api_key_file": "keys/default.key",
        "ca_bundle": "certs/corp-ca.pem",
    }
    return table.get(key, "...")
