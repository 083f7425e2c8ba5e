"""Request validation and the read-only endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Api, Start

COMMAND = {"name": "eca1", "role": "command", "version": "9.8.0.100"}
DISCOVER = {"name": "eda1", "role": "discover", "version": "9.8.0.100"}
EXPLORE = {
    "name": "exa-m1",
    "role": "explore",
    "cluster": "exa",
    "node": "manager",
    "version": "9.8.0.100",
}


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("ExtraHop apikey=wrong", id="wrong-key"),
        pytest.param("Bearer abc", id="wrong-scheme"),
    ],
)
async def test_requests_without_the_right_key_are_401(api: Api, authorization: str | None) -> None:
    """A missing, wrong or foreign Authorization header answers 401 with an error_message."""
    headers = {"Authorization": authorization} if authorization else {}
    answer = await api.call("eda1", "GET", "/api/v1/extrahop", key=None, headers=headers)
    assert answer.status == 401
    assert answer.json()["error_message"]


@pytest.mark.parametrize("path", ["/api/v1/extrahop", "/api/v1/extrahop/"])
async def test_get_extrahop_describes_the_appliance(api: Api, path: str) -> None:
    """GET /extrahop (with or without the trailing slash) gives version, platform and names."""
    info = (await api.call("eda1", "GET", path)).json()
    assert info == {
        "version": "9.8.0.100",
        "platform": "discover",
        "hostname": "eda1",
        "display_host": "eda1",
        "external_hostname": "eda1.sim.invalid",
        "mgmt_ipaddr": "127.0.0.1",
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/extrahop/version", {"version": "9.8.0.100"}),
        ("/api/v1/extrahop/platform", {"platform": "discover"}),
        ("/api/v1/extrahop/edition", {"edition": "Reveal(x) Enterprise"}),
    ],
)
async def test_identity_endpoints(api: Api, path: str, expected: dict[str, str]) -> None:
    """The version, platform and edition endpoints each answer their one field."""
    assert (await api.call("eda1", "GET", path)).json() == expected


async def test_unknown_path_is_404_with_error_message(api: Api) -> None:
    """An unknown path answers 404 with a JSON error_message."""
    answer = await api.call("eda1", "GET", "/api/v1/nothing/here")
    assert answer.status == 404
    assert "/api/v1/nothing/here" in answer.json()["error_message"]


async def test_wrong_method_is_405_with_error_message(api: Api) -> None:
    """A known path with the wrong method answers 405 with a JSON error_message."""
    answer = await api.call("eda1", "DELETE", "/api/v1/extrahop")
    assert answer.status == 405
    assert answer.json()["error_message"]


async def test_requests_are_counted_per_appliance(start: Start) -> None:
    """request_count counts every request an appliance receives, including refused ones."""
    api = await start(DISCOVER, {**DISCOVER, "name": "eda2"})
    await api.call("eda1", "GET", "/api/v1/extrahop")
    await api.call("eda1", "GET", "/api/v1/extrahop", key="bad")
    assert api.fleet.request_count("eda1") == 2
    assert api.fleet.request_count("eda2") == 0


async def test_fixed_api_key_from_the_scenario_is_used(start: Start) -> None:
    """An api_key in the scenario is the one the appliance accepts."""
    api = await start({**DISCOVER, "api_key": "fixed-key-1"})
    assert api.fleet.api_key("eda1") == "fixed-key-1"
    answer = await api.call("eda1", "GET", "/api/v1/extrahop/version", key="fixed-key-1")
    assert answer.status == 200


async def test_random_keys_differ_per_appliance(start: Start) -> None:
    """Without api_key in the scenario every appliance gets its own random key."""
    api = await start(DISCOVER, {**DISCOVER, "name": "eda2"})
    assert api.fleet.api_key("eda1") != api.fleet.api_key("eda2")
    assert (
        await api.call("eda2", "GET", "/api/v1/extrahop", key=api.fleet.api_key("eda1"))
    ).status == 401


async def test_command_appliance_lists_the_fleet(start: Start) -> None:
    """GET /appliances on a Command appliance lists itself as id 0 and every other appliance."""
    api = await start(COMMAND, DISCOVER, EXPLORE)
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    assert [(a["id"], a["display_name"], a["platform"]) for a in listed] == [
        (0, "eca1", "command"),
        (1, "eda1", "discover"),
        (2, "exa-m1", "explore"),
    ]
    assert listed[1]["firmware_version"] == "9.8.0.100"
    one = (await api.call("eca1", "GET", "/api/v1/appliances/2")).json()
    assert one["display_name"] == "exa-m1"
    assert (await api.call("eca1", "GET", "/api/v1/appliances/9")).status == 404


async def test_sensor_lists_only_itself(start: Start) -> None:
    """GET /appliances on a Discover appliance lists only itself."""
    api = await start(COMMAND, DISCOVER)
    listed = (await api.call("eda1", "GET", "/api/v1/appliances")).json()
    assert [a["display_name"] for a in listed] == ["eda1"]


async def test_firmware_next_offers_newer_versions_newest_first(start: Start) -> None:
    """firmware/next groups newer available versions by release, newest first."""
    api = await start(
        {**DISCOVER, "version": "9.8.0.100"},
        available_versions=["9.7.0.1", "9.8.1.500", "9.9.1.100", "9.9.0.1200"],
    )
    releases = (await api.call("eda1", "GET", "/api/v1/extrahop/firmware/next")).json()
    assert releases == [
        {"release": "9.9", "current_release": False, "versions": ["9.9.1.100", "9.9.0.1200"]},
        {"release": "9.8", "current_release": True, "versions": ["9.8.1.500"]},
    ]


async def test_firmware_previous_is_404_before_any_upgrade(api: Api) -> None:
    """A fresh appliance has no previous firmware: previous answers 404, rollback 400."""
    assert (await api.call("eda1", "GET", "/api/v1/extrahop/firmware/previous")).status == 404
    path = "/api/v1/extrahop/firmware/previous/rollback"
    assert (await api.call("eda1", "POST", path)).status == 400


async def test_previous_version_from_the_scenario(start: Start) -> None:
    """previous_version in the scenario is what firmware/previous reports."""
    api = await start({**DISCOVER, "previous_version": "9.7.0.100"})
    answer = await api.call("eda1", "GET", "/api/v1/extrahop/firmware/previous")
    assert answer.json()["version"] == "9.7.0.100"


UPGRADE = "/api/v1/extrahop/firmware/latest/upgrade"
DOWNLOAD_URL = "/api/v1/extrahop/firmware/download/url"


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        pytest.param(UPGRADE, b"{not json", 400, "not valid JSON", id="not-json"),
        pytest.param(UPGRADE, b"[true]", 400, "JSON object", id="array"),
        pytest.param(UPGRADE, b'{"reboot": true}', 400, "reboot", id="unknown-field"),
        pytest.param(UPGRADE, b'{"restart_after": "yes"}', 400, "restart_after", id="wrong-type"),
        pytest.param(DOWNLOAD_URL, b'{"upgrade": true}', 400, "firmware_url", id="missing-field"),
        pytest.param(DOWNLOAD_URL, b"", 400, "body is required", id="empty-required"),
        pytest.param(
            DOWNLOAD_URL,
            b'{"firmware_url": "file:///tmp/9.9.1.100.tar"}',
            400,
            "http",
            id="bad-scheme",
        ),
    ],
)
async def test_malformed_json_bodies_are_rejected(
    api: Api, path: str, body: bytes, status: int, words: str
) -> None:
    """Bodies that are not a JSON object of known, typed fields answer 400 and start nothing."""
    headers = {"Content-Type": "application/json"}
    answer = await api.call("eda1", "POST", path, data=body, headers=headers)
    assert answer.status == status
    assert words in answer.json()["error_message"]
    assert api.fleet.events_of("job.created") == []


async def test_json_body_with_a_form_content_type_is_415(api: Api) -> None:
    """A JSON endpoint given a non-JSON Content-Type answers 415."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = await api.call(
        "eda1", "POST", UPGRADE, data=b'{"restart_after": true}', headers=headers
    )
    assert answer.status == 415
