"""Customizations backups, running config, processes and license, and their faults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.simulator.snapshots import PROCESSES

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Api, ImageFactory, Start

EXBK = {"Accept": "application/exbk"}


def eda(**faults: object) -> dict[str, object]:
    return {"name": "eda1", "role": "discover", "version": "9.8.0.100", "faults": faults}


async def backed_up(api: Api, name: str = "nightly") -> str:
    """Create a backup as the vendor's create_backup.py does; its Location."""
    answer = await api.call("eda1", "POST", "/api/v1/customizations", json={"name": name})
    assert answer.status == 201
    location: str = answer.headers["Location"]
    return location


async def upgrade(api: Api, image: ImageFactory) -> None:
    """Upload and install the target, and wait for the appliance to come back on it."""
    assert (await api.upload("eda1", image())).status == 201
    answer = await api.call("eda1", "POST", "/api/v1/extrahop/firmware/latest/upgrade")
    assert answer.status == 202
    await api.wait_for(lambda: api.fleet.events_of("restart.finished") != [])


async def test_a_backup_is_created_and_downloaded_as_an_exbk_file(api: Api) -> None:
    """POST /customizations answers 201 + Location; its download is an application/exbk file."""
    location = await backed_up(api, "orchestrator run r1")
    assert location == "/api/v1/customizations/1"
    answer = await api.call("eda1", "POST", f"{location}/download", headers=EXBK)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/exbk"
    assert answer.text.startswith("EXBK-SIM")
    assert "orchestrator run r1" in answer.text
    kinds = [e.kind for e in api.fleet.events_for("eda1")]
    assert kinds == ["backup.created", "backup.downloaded"]


async def test_a_download_without_the_exbk_accept_header_is_refused(api: Api) -> None:
    """The download needs `Accept: application/exbk` (406), and an id that exists (404)."""
    location = await backed_up(api)
    plain = await api.call("eda1", "POST", f"{location}/download")
    assert plain.status == 406
    assert "application/exbk" in plain.json()["error_message"]
    missing = await api.call("eda1", "POST", "/api/v1/customizations/99/download", headers=EXBK)
    assert missing.status == 404


async def test_a_backup_needs_a_name(api: Api) -> None:
    """A body without a name, or with an empty one, is a 400 naming the field."""
    for body in ({}, {"name": " "}):
        answer = await api.call("eda1", "POST", "/api/v1/customizations", json=body)
        assert answer.status == 400
        assert "name" in answer.json()["error_message"]


async def test_fault_backup_fails_answers_500_and_makes_no_backup(start: Start) -> None:
    """With `backup_fails`, POST /customizations answers 500 and no backup exists."""
    api = await start(eda(backup_fails=True))
    answer = await api.call("eda1", "POST", "/api/v1/customizations", json={"name": "x"})
    assert answer.status == 500
    assert answer.json()["error_message"]
    assert api.fleet.events_of("backup.created") == []


async def test_running_config_and_license_are_json(api: Api) -> None:
    """GET /runningconfig and GET /license answer JSON objects about this appliance."""
    config = (await api.call("eda1", "GET", "/api/v1/runningconfig")).json()
    assert config["hostname"] == "eda1"
    license_ = (await api.call("eda1", "GET", "/api/v1/license")).json()
    assert license_["platform"] == "discover"


async def test_fault_process_down_stops_a_process_only_after_an_upgrade(
    start: Start, image: ImageFactory
) -> None:
    """Every process runs before the upgrade; with `process_down`, that one is stopped after."""
    api = await start(eda(process_down="excap"))
    before = (await api.call("eda1", "GET", "/api/v1/extrahop/processes")).json()
    assert {p["name"] for p in before} == set(PROCESSES)
    assert {p["status"] for p in before} == {"running"}
    await upgrade(api, image)
    after = (await api.call("eda1", "GET", "/api/v1/extrahop/processes")).json()
    assert {p["name"]: p["status"] for p in after}["excap"] == "stopped"


async def test_fault_license_changes_after_an_upgrade(start: Start, image: ImageFactory) -> None:
    """With `license_changes`, GET /license answers another license once upgraded."""
    api = await start(eda(license_changes=True))
    before = (await api.call("eda1", "GET", "/api/v1/license")).json()
    assert before == (await api.call("eda1", "GET", "/api/v1/license")).json()
    await upgrade(api, image)
    assert (await api.call("eda1", "GET", "/api/v1/license")).json() != before
