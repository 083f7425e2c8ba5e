"""The YAML inventory `orchestrator discover` writes, or merges into an existing one.

Pure text: a new file lists every entry in block style with a `# FILL IN` comment where the
console does not tell (an Explore node's cluster and kind, the firmware); a merge keeps the
existing text byte for byte (settings, comments, order) and appends the new appliances at
the end of its `appliances:` list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import Role
from orchestrator.inventory.discovered import key_variable
from orchestrator.inventory.urls import normalise_url
from orchestrator.inventory.yamlfile import parse_yaml

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.inventory.discovered import Entry

__all__ = ["EXPLORE_NOTE", "Layout", "Merged", "inventory_text", "merge_text"]

EXPLORE_NOTE = "FILL IN its cluster and node (the console does not tell them)"
_ROLE_ORDER = tuple(Role)


@dataclass(frozen=True)
class Layout:
    """What the file says besides the appliances."""

    source: str  # the console's URL
    written: str  # when, as text
    console_key: tuple[str, str]  # ("api_key_env", VARIABLE) or ("api_key_file", PATH)
    ca_bundle: str | None = None
    version: str | None = None  # every role's cloud_version, when given


@dataclass(frozen=True)
class Merged:
    """A merged inventory's text, the names added, and those the console no longer lists."""

    text: str
    added: tuple[str, ...]
    unlisted: tuple[str, ...]


def inventory_text(entries: Sequence[Entry], layout: Layout, *, out: str) -> str:
    """A whole inventory of `entries`, with its header, defaults and firmware."""
    lines = [
        f"# Written by `orchestrator discover` from {layout.source} on {layout.written}.",
        "# The console does not tell everything: complete each FILL IN below, export each",
        "# api_key_env variable (or write api_key_file: PATH instead), then run",
        f"#   orchestrator validate {out} && orchestrator trust {out} && orchestrator plan {out}",
    ]
    if layout.ca_bundle is not None:
        lines += ["defaults:", f"  {_pair('ca_bundle', layout.ca_bundle)}"]
    lines += _firmware(entries, layout.version)
    lines.append("appliances:")
    for entry in entries:
        lines += entry_lines(entry, layout, indent="  ")
    return "\n".join(lines) + "\n"


def entry_lines(entry: Entry, layout: Layout, *, indent: str) -> list[str]:
    """One appliance as a block mapping item, its dash at `indent`."""
    key = layout.console_key if entry.console_id == 0 else ("api_key_env", key_variable(entry.name))
    pairs = [
        ("name", entry.name),
        ("url", entry.url),
        ("role", entry.role.value),
        ("console_id", entry.console_id),
        key,
    ]
    inner = indent + "  "
    lines = [f"{indent}- {_pair(*pairs[0])}", *(f"{inner}{_pair(*p)}" for p in pairs[1:])]
    if not entry.online:
        lines.append(f"{inner}# the console could not reach it ({entry.status}): check it")
    if entry.role is Role.EXPLORE:
        lines += [
            f"{inner}# {EXPLORE_NOTE}: uncomment and complete",
            f"{inner}# cluster: NAME   # the same for every node of one recordstore cluster",
            f"{inner}# node: manager   # or data",
        ]
    return lines


def merge_text(existing: str, file: str, entries: Sequence[Entry], layout: Layout) -> Merged:
    """`existing` with the entries it lacks appended to its `appliances:` list.

    An entry is already there when an appliance has its console_id, its name or its URL.
    """
    document = parse_yaml(existing, file)  # InventoryError naming the file when it is not one
    have = document["appliances"]
    new = [entry for entry in entries if not any(_same(entry, raw) for raw in have)]
    unlisted = tuple(
        str(raw.get("name", "?")) for raw in have if not any(_same(entry, raw) for entry in entries)
    )
    if not new:
        return Merged(existing, (), unlisted)
    at, indent = _insertion_point(existing, file)
    block = "".join(
        line + "\n" for entry in new for line in entry_lines(entry, layout, indent=indent)
    )
    head = existing[:at] if existing[:at].endswith("\n") or not at else existing[:at] + "\n"
    return Merged(head + block + existing[at:], tuple(e.name for e in new), unlisted)


def _same(entry: Entry, raw: dict[str, Any]) -> bool:
    if raw.get("console_id") == entry.console_id:
        return True
    if str(raw.get("name", "")).casefold() == entry.name.casefold():
        return True
    try:
        return normalise_url(str(raw.get("url", ""))) == entry.url
    except ValueError:
        return False


def _insertion_point(text: str, file: str) -> tuple[int, str]:
    """Where new items go (after the last item's last line) and the indent of their dash."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    node = _appliances_node(root)
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        fix = "write appliances: as a block list (one `- name: ...` per appliance) to merge"
        raise InventoryError(
            f"cannot merge into this appliances list; {fix}", file=file, row="appliances"
        )
    first = node.value[0].start_mark
    line_start = text.rfind("\n", 0, first.index) + 1
    dash = text[line_start : first.index].rstrip()
    indent = dash[: len(dash) - 1] if dash.endswith("-") else " " * max(first.column - 2, 0)
    return _after_content(text, node.value[-1].end_mark.index, len(indent)), indent


def _appliances_node(root: yaml.Node | None) -> yaml.Node | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "appliances":
            found: yaml.Node = value
            return found
    return None


def _after_content(text: str, index: int, dash: int) -> int:
    """The end of the last item before `index`: its comments too, not those of what follows."""
    lines = text[:index].split("\n")
    while lines and _outside(lines[-1], dash):
        lines.pop()
    end = len("\n".join(lines))
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline + 1


def _outside(line: str, dash: int) -> bool:
    """A blank line, or a comment indented no deeper than the items' dash."""
    bare = line.lstrip()
    return not bare or (bare.startswith("#") and len(line) - len(bare) <= dash)


def _firmware(entries: Sequence[Entry], version: str | None) -> list[str]:
    roles = [role for role in _ROLE_ORDER if any(entry.role is role for entry in entries)]
    if version is not None:
        lines = ["firmware:"]
        lines += [f"  {role.value}: {{cloud_version: {_scalar(version)}}}" for role in roles]
        return lines
    lines = ["# FILL IN the firmware: one image per role (docs/inventory.md), for example"]
    lines.append("# firmware:")
    lines += [f"#   {role.value}: {{cloud_version: 9.9.1.100}}" for role in roles]
    return lines


def _pair(key: str, value: object) -> str:
    return f"{key}: {_scalar(value)}"


def _scalar(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...").strip()
