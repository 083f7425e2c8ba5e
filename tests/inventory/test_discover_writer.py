"""The console's list as inventory entries, and the text discover writes or merges (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from orchestrator.core.consolelist import ListedAppliance
from orchestrator.core.errors import InventoryError
from orchestrator.core.models import Role
from orchestrator.inventory import load_inventory
from orchestrator.inventory.discovered import discovered, key_variable
from orchestrator.inventory.writer import Layout, merge_text

if TYPE_CHECKING:
    from pathlib import Path

CONSOLE = "https://eca1.example.net"
LAYOUT = Layout(source=CONSOLE, written="today", console_key=("api_key_env", "CONSOLE_KEY"))


def listed(ident: int, hostname: str, platform: str, **fields: str) -> ListedAppliance:
    """One entry of GET /appliances."""
    return ListedAppliance(id=ident, hostname=hostname, platform=platform, **fields)


def test_entries_take_short_unique_names_roles_from_platforms_and_https_urls() -> None:
    """FQDNs become their first label, clashes get a suffix, odd platforms are left out."""
    found = discovered(
        CONSOLE,
        [
            listed(2, "eda1.example.net", "discover"),
            listed(0, "eca1.example.net", "command"),
            listed(3, "eda1.other.example.net", "discover"),
            listed(4, "10.0.0.7", "packetstore", nickname="eta west"),
            listed(5, "ids1.example.net", "ids"),
            listed(6, "", "explore", display_name="exa-m1"),
        ],
    )
    assert [(e.name, e.url, e.role, e.console_id) for e in found.entries] == [
        ("eca1", CONSOLE, Role.COMMAND, 0),
        ("eda1", "https://eda1.example.net", Role.DISCOVER, 2),
        ("eda1-2", "https://eda1.other.example.net", Role.DISCOVER, 3),
        ("eta-west", "https://10.0.0.7", Role.TRACE, 4),
    ]
    assert found.left_out == (
        "ids1: left out: platform 'ids' is not upgraded here",
        "exa-m1: left out: the console gives no usable address for it",
    )


@pytest.mark.parametrize(
    ("name", "variable"),
    [("eda1", "EDA1_API_KEY"), ("exa-m1", "EXA_M1_API_KEY"), ("10.0.0.7", "KEY_10_0_0_7_API_KEY")],
)
def test_key_variables_are_valid_names(name: str, variable: str) -> None:
    """Each appliance's placeholder variable is a valid environment variable name."""
    assert key_variable(name) == variable


def test_merge_keeps_the_last_item_s_own_comments_above_the_new_ones() -> None:
    """Comments indented under the last appliance stay with it; the file's tail stays last."""
    existing = (
        "appliances:\n"
        "- name: eca1\n"
        f"  url: {CONSOLE}\n"
        "  role: command\n"
        "  # the console: upgraded first\n"
        "# the end\n"
    )
    found = discovered(CONSOLE, [listed(0, "eca1", "command"), listed(1, "eta1.x.net", "trace")])
    merged = merge_text(existing, "fleet.yaml", found.entries, LAYOUT)
    assert merged.added == ("eta1",)
    assert merged.text == existing.replace(
        "# the end\n",
        "- name: eta1\n  url: https://eta1.x.net\n  role: trace\n  console_id: 1\n"
        "  api_key_env: ETA1_API_KEY\n# the end\n",
    )


def test_merge_refuses_a_flow_style_list_with_one_line() -> None:
    """An `appliances: [...]` list cannot take new items without rewriting it: said so."""
    found = discovered(CONSOLE, [listed(1, "eta1.x.net", "trace")])
    existing = "appliances: [{name: eca1, url: 'https://eca1.x.net', role: command}]\n"
    with pytest.raises(InventoryError, match="write appliances: as a block list"):
        merge_text(existing, "fleet.yaml", found.entries, LAYOUT)


@pytest.mark.parametrize("value", ["'3'", "-1", "true", "2.5"])
def test_console_id_must_be_a_whole_number(tmp_path: Path, value: str) -> None:
    """A console_id that is not a whole number names the appliance's YAML path."""
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "firmware: {discover: {cloud_version: 9.9.1.100}}\n"
        "appliances:\n"
        f"  - {{name: eda1, url: 'https://eda1.x.net', role: discover, console_id: {value},"
        " api_key_env: K}\n"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, env={"K": "key"})
    assert "appliances[0].console_id: console_id must be a whole number" in str(caught.value)
