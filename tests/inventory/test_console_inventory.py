"""Console mode in the inventory: `console_version` per role or for the whole fleet."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator.core.errors import InventoryError
from orchestrator.core.models import CloudFirmware, ConsoleFirmware
from orchestrator.inventory import load_inventory

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.core.models import Inventory

CONSOLE = "{name: eca1, url: https://eca1.example.net, role: command, api_key_env: ECA_KEY}"
EDA = "{name: eda1, url: https://eda1.example.net, role: discover, console_id: 1}"
ENV = {"ECA_KEY": "console-key"}


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Inventory:
    """Write `text` as fleet.yaml and load it with `env` (the console's key by default)."""
    path = tmp_path / "fleet.yaml"
    path.write_text(textwrap.dedent(text))
    return load_inventory(path, env=ENV if env is None else env)


def fleet(firmware: str, *appliances: str) -> str:
    """An inventory with `firmware:` and the appliances as flow mappings."""
    return f"firmware: {firmware}\nappliances:\n" + "".join(f"  - {a}\n" for a in appliances)


def test_console_version_for_the_whole_fleet(tmp_path: Path) -> None:
    """The console takes the version from the cloud; the others from it, with no key."""
    inventory = load(tmp_path, fleet("{console_version: 9.9.1.100}", CONSOLE, EDA))
    eca, eda = inventory.appliances
    assert eca.firmware == CloudFirmware(cloud_version="9.9.1.100")
    assert eca.api_key == SecretStr("console-key")
    assert eda.firmware == ConsoleFirmware(console_version="9.9.1.100")
    assert (eda.api_key, eda.console_id) == (None, 1)


def test_a_role_written_beside_the_fleet_version_keeps_its_own(tmp_path: Path) -> None:
    """`discover: {cloud_version: ...}` beside `console_version:` wins for that role."""
    text = fleet(
        "{console_version: 9.9.1.100, discover: {cloud_version: 9.9.0.1200}}",
        CONSOLE,
        EDA.replace("}", ", api_key_env: EDA_KEY}"),
    )
    inventory = load(tmp_path, text, ENV | {"EDA_KEY": "eda-key"})
    assert inventory.appliances[1].firmware == CloudFirmware(cloud_version="9.9.0.1200")


def test_a_key_variable_left_unset_is_no_error_in_console_mode(tmp_path: Path) -> None:
    """Discover names a variable for every appliance; in console mode it may stay unexported."""
    text = fleet(
        "{discover: {console_version: 9.9.1.100}}",
        CONSOLE,
        EDA.replace("}", ", api_key_env: EDA1_API_KEY}"),
    )
    text = text.replace("firmware: {", "firmware: {command: {cloud_version: 9.9.1.100}, ")
    inventory = load(tmp_path, text)
    assert inventory.appliances[1].api_key is None


@pytest.mark.parametrize(
    ("text", "row", "fragment"),
    [
        pytest.param(
            fleet("{console_version: 9.9.1.100}", CONSOLE, EDA.replace(", console_id: 1", "")),
            "appliances[1].console_id",
            "eda1 is upgraded through the console but has no console_id; write its id on the "
            "console (GET /api/v1/appliances), or run `orchestrator discover CONSOLE_URL --merge`",
            id="no-console-id",
        ),
        pytest.param(
            fleet("{console_version: 9.9.1.100}", EDA),
            "appliances",
            "eda1 is upgraded through the console (console_version) but the inventory lists no "
            "Command appliance; list the console (role: command, with its key) once",
            id="no-console",
        ),
        pytest.param(
            fleet("{console_version: 9.9.1.100}", CONSOLE, CONSOLE.replace("eca1", "eca2"), EDA),
            "appliances",
            "lists 2 Command appliances; keep one Command appliance (eca1, eca2)",
            id="two-consoles",
        ),
        pytest.param(
            fleet("{console_version: '9.9'}", CONSOLE, EDA).replace("'9.9'", "nine"),
            "firmware.command.console_version",
            "'nine' is not a dotted version; write e.g. 9.9.1.100",
            id="not-a-version",
        ),
        pytest.param(
            fleet("{discover: {console_version: 9.9.1.100, version: 9.9.0.1}}", CONSOLE, EDA),
            "firmware.discover.version",
            "version and console_version differ; keep console_version",
            id="two-versions",
        ),
    ],
)
def test_console_mode_mistakes_name_the_place_and_the_fix(
    tmp_path: Path, text: str, row: str, fragment: str
) -> None:
    """Each mistake is one InventoryError at its row, saying what to write."""
    with pytest.raises(InventoryError) as caught:
        load(tmp_path, text)
    assert caught.value.row == row
    assert fragment in str(caught.value)
