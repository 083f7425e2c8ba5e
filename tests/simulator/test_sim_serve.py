"""serve_forever (behind `orchestrator simulate`) and the event log file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import stat
from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.serve import serve_forever

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.simulator.testing import ImageFactory, Start

SMALL = """\
time_scale: 0.001
target_version: 9.9.1.100
image_size: 1024
appliances:
  - {name: eda1, role: discover, version: 9.8.0.100}
  - {name: eta1, role: trace, version: 9.8.0.100}
"""


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


async def serve_until_announced(
    count: int,
    scenario_path: Path | None,
    write_inventory: Path | None = None,
    keys: str = "file",
    mode: str = "file",
) -> tuple[asyncio.Task[None], list[str]]:
    lines: list[str] = []
    serving = serve_forever(
        scenario_path,
        write_inventory=write_inventory,
        event_log=None,
        keys=keys,
        mode=mode,
        announce=lines.append,
    )
    task = asyncio.create_task(serving)
    async with asyncio.timeout(10):
        while len(lines) < count and not task.done():  # noqa: ASYNC110  (announce is a plain callback)
            await asyncio.sleep(0.01)
    return task, lines


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_serve_announces_writes_the_inventory_and_stops_on_cancel(tmp_path: Path) -> None:
    """Simulate announces each appliance, writes the inventory, frees its ports when cancelled."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    inventory = tmp_path / "fleet.yaml"
    task, lines = await serve_until_announced(4, scenario, inventory, keys="env", mode="url")
    assert lines[0].split()[:2] == ["eda1", "discover"]
    assert lines[1].split()[:2] == ["eta1", "trace"]
    url = lines[0].split()[2]
    assert port_open(url)
    data = yaml.safe_load(inventory.read_text())
    assert data["appliances"][0]["url"] == url
    exports = tmp_path / "fleet.env"
    assert "export SIM_KEY_EDA1=" in exports.read_text()
    assert stat.S_IMODE(exports.stat().st_mode) == 0o600
    assert not any("SIM_KEY_EDA1=" in line for line in lines)
    await stop(task)
    assert not port_open(url)


async def test_serve_defaults_to_the_built_in_lab_fleet() -> None:
    """Without a scenario, simulate serves the packaged 12-appliance lab fleet and its images."""
    task, lines = await serve_until_announced(13, None)
    await stop(task)
    assert [line.split()[0] for line in lines][:2] == ["eca1", "eda1"]
    assert len(lines) == 13
    assert lines[12].startswith("firmware ")
    assert lines[12].endswith("/firmware/")


@pytest.mark.parametrize(
    ("keys", "mode", "words"),
    [("disk", "file", "--keys"), ("file", "tftp", "--mode")],
)
async def test_serve_refuses_unknown_choices(keys: str, mode: str, words: str) -> None:
    """Unknown --keys or --mode values are a ConfigError before anything listens."""
    with pytest.raises(ConfigError, match=words):
        await serve_forever(
            None, write_inventory=None, event_log=None, keys=keys, mode=mode, announce=print
        )


async def test_serve_reports_a_bad_scenario_as_config_error(tmp_path: Path) -> None:
    """A broken scenario file is one ConfigError naming the file."""
    scenario = tmp_path / "broken.yaml"
    scenario.write_text("appliances: []\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: appliances"):
        await serve_forever(
            scenario, write_inventory=None, event_log=None, keys="file", mode="file", announce=print
        )


async def test_event_log_file_has_one_json_line_per_event(
    start: Start, tmp_path: Path, image: ImageFactory
) -> None:
    """The event log holds every event as a JSON line with monotonic and ISO wall time."""
    log = tmp_path / "events.jsonl"
    api = await start(event_log=log)
    await api.upload("eda1", image())
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["appliance"], x["kind"]) for x in lines] == [
        ("eda1", "upload.started"),
        ("eda1", "upload.completed"),
    ]
    assert lines[1]["data"] == {"bytes": 4096, "version": "9.9.1.100"}
    assert lines[0]["t"] == api.fleet.events[0].t
    assert lines[0]["time"].endswith("+00:00")


async def test_fleet_refuses_a_port_already_taken(start: Start) -> None:
    """A fixed port that is already in use is a ConfigError naming the appliance and port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        appliance = {"name": "eda1", "role": "discover", "version": "9.8.0.100", "port": port}
        with pytest.raises(ConfigError, match=rf"eda1: cannot listen on 127\.0\.0\.1:{port}"):
            await start(appliance)
