"""Firmware upload: streaming, validation, pacing."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from orchestrator.simulator import IMAGE_MAGIC, make_image
from orchestrator.simulator.images import parse_image_header

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.simulator.testing import Api, ImageFactory, Start


async def test_valid_image_is_staged_and_counted(api: Api, image: ImageFactory) -> None:
    """A valid image answers 201, and upload.completed gives its size and version."""
    assert (await api.upload("eda1", image(size=300_000))).status == 201
    completed = api.fleet.events_of("upload.completed")
    assert [e.data for e in completed] == [{"bytes": 300_000, "version": "9.9.1.100"}]
    assert [e.kind for e in api.fleet.events_for("eda1")] == ["upload.started", "upload.completed"]


async def test_image_for_another_platform_is_400(api: Api, image: ImageFactory) -> None:
    """An image built for another platform answers 400 and is not staged."""
    answer = await api.upload("eda1", image(role="trace"))
    assert answer.status == 400
    assert "trace" in answer.json()["error_message"]
    assert (
        api.fleet.events_of("upload.rejected")[0].data["reason"] == answer.json()["error_message"]
    )
    upgrade = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert upgrade.status == 400


async def test_file_that_is_not_an_image_is_400(api: Api) -> None:
    """A body without the firmware header answers 400."""
    answer = await api.upload("eda1", b"PK\x03\x04 this is a zip file" * 100)
    assert answer.status == 400
    assert "not an ExtraHop firmware image" in answer.json()["error_message"]


async def test_wrong_content_type_is_415(api: Api, image: ImageFactory) -> None:
    """An upload sent as octet-stream answers 415 and emits upload.rejected."""
    headers = {"Content-Type": "application/octet-stream"}
    answer = await api.call(
        "eda1", "POST", "/api/v1/extrahop/firmware", data=image(), headers=headers
    )
    assert answer.status == 415
    assert "application/vnd.extrahop.firmware" in answer.json()["error_message"]
    assert [e.kind for e in api.fleet.events_for("eda1")] == ["upload.rejected"]


async def test_upload_is_paced_to_the_scenario_throughput(
    start: Start, image: ImageFactory
) -> None:
    """At 1 MB per simulated second and time_scale 0.5, 1 MB takes at least 0.45 wall seconds."""
    api = await start(
        {
            "name": "eda1",
            "role": "discover",
            "version": "9.8.0.100",
            "upload_throughput": 1_000_000,
        },
        time_scale=0.5,
    )
    began = time.monotonic()
    assert (await api.upload("eda1", image(size=1_000_000))).status == 201
    assert time.monotonic() - began >= 0.45


async def test_unpaced_upload_of_a_large_sparse_image_is_streamed(api: Api, tmp_path: Path) -> None:
    """A 256 MiB image file streams through in one request and is counted to the byte."""
    path = make_image(tmp_path / "big.tar", "discover", "9.9.1.100", size=256 * 1024 * 1024)
    headers = {"Content-Type": "application/vnd.extrahop.firmware"}
    with path.open("rb") as handle:
        answer = await api.call(
            "eda1", "POST", "/api/v1/extrahop/firmware", data=handle, headers=headers
        )
    assert answer.status == 201
    assert api.fleet.events_of("upload.completed")[0].data["bytes"] == 256 * 1024 * 1024


def test_make_image_writes_a_sparse_file_with_a_header(tmp_path: Path) -> None:
    """make_image writes the header line and pads to the size without using the disk."""
    path = make_image(tmp_path / "eda.tar", "discover", "9.9.1.100", size=1024**3)
    assert path.stat().st_size == 1024**3
    assert path.stat().st_blocks * 512 < 1024 * 1024
    with path.open("rb") as handle:
        head = handle.read(100)
    assert head.startswith(IMAGE_MAGIC)
    assert parse_image_header(head) == ("discover", "9.9.1.100")
