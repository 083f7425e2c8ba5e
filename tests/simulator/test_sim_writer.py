"""write_inventory: an inventory that points at the running fleet, keys never inline."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.images import parse_image_header

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.simulator.testing import Start

FLEET = (
    {"name": "eca1", "role": "command", "version": "9.8.0.100"},
    {
        "name": "exa-m1",
        "role": "explore",
        "cluster": "exa",
        "node": "manager",
        "version": "9.8.0.100",
    },
    {"name": "eta1", "role": "trace", "version": "9.8.0.100"},
)


async def test_file_mode_writes_images_and_key_files(start: Start, tmp_path: Path) -> None:
    """keys=file, mode=file: images and 0600 key files beside the inventory, paths relative."""
    api = await start(*FLEET, image_size=4096)
    path = api.fleet.write_inventory(tmp_path / "fleet.yaml")
    text = path.read_text()
    assert text.startswith("# written by orchestrator simulate\n")
    data = yaml.safe_load(text)
    assert data["defaults"] == {"verify_tls": True}
    assert data["firmware"]["command"] == {
        "file": "fleet-images/command-9.9.1.100.tar",
        "version": "9.9.1.100",
    }
    image = tmp_path / data["firmware"]["explore"]["file"]
    with image.open("rb") as handle:
        assert parse_image_header(handle.read(256)) == ("explore", "9.9.1.100")
    assert image.stat().st_size == 4096
    first, second, _ = data["appliances"]
    assert first == {
        "name": "eca1",
        "url": api.fleet.url("eca1"),
        "role": "command",
        "api_key_file": "fleet-keys/eca1.key",
    }
    assert (second["cluster"], second["node"]) == ("exa", "manager")
    key_file = tmp_path / first["api_key_file"]
    assert key_file.read_text().strip() == api.fleet.api_key("eca1")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for name in api.fleet.names:
        assert api.fleet.api_key(name) not in text


async def test_env_keys_mode_names_variables_and_exports_them(start: Start, tmp_path: Path) -> None:
    """keys=env writes api_key_env names, and key_exports() sets exactly those variables."""
    api = await start(*FLEET)
    path = api.fleet.write_inventory(tmp_path / "fleet.yaml", keys="env", mode="cloud")
    data = yaml.safe_load(path.read_text())
    assert [a["api_key_env"] for a in data["appliances"]] == [
        "SIM_KEY_ECA1",
        "SIM_KEY_EXA_M1",
        "SIM_KEY_ETA1",
    ]
    assert data["firmware"]["trace"] == {"cloud_version": "9.9.1.100"}
    exports = api.fleet.key_exports()
    assert f"export SIM_KEY_EXA_M1={api.fleet.api_key('exa-m1')}\n" in exports
    assert not (tmp_path / "fleet-keys").exists()


async def test_url_mode_points_at_urls_with_the_version(start: Start, tmp_path: Path) -> None:
    """mode=url writes one firmware URL per role containing the target version."""
    api = await start(*FLEET)
    path = api.fleet.write_inventory(tmp_path / "fleet.yaml", mode="url")
    firmware = yaml.safe_load(path.read_text())["firmware"]
    assert set(firmware) == {"command", "explore", "trace"}
    assert firmware["trace"]["url"].endswith("/firmware/trace-9.9.1.100.tar")
    assert firmware["trace"]["version"] == "9.9.1.100"


async def test_unknown_mode_is_refused(start: Start, tmp_path: Path) -> None:
    """An unknown firmware mode is a ConfigError, and nothing is written."""
    api = await start(*FLEET)
    with pytest.raises(ConfigError, match="--mode"):
        api.fleet.write_inventory(tmp_path / "fleet.yaml", mode="ftp")  # type: ignore[arg-type]
    assert not (tmp_path / "fleet.yaml").exists()
