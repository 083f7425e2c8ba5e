"""The Command appliance as a console: the appliances connected to it, and disconnected ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml

from orchestrator.core.errors import ConfigError
from orchestrator.simulator.scenario import parse_scenario

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Start

CONSOLE = {"name": "eca1", "role": "command", "version": "9.8.0.100"}
EDA1 = {"name": "eda1", "role": "discover", "version": "9.8.0.100"}
EDA2 = {"name": "eda2", "role": "discover", "version": "9.7.0.50"}
ETA1 = {"name": "eta1", "role": "trace", "version": "9.8.0.100"}


async def test_console_lists_each_appliance_with_its_address_and_version(start: Start) -> None:
    """Each listed appliance has an id, platform, version, and a hostname that reaches it."""
    api = await start(CONSOLE, EDA1, EDA2)
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    for item in listed:
        assert f"http://{item['hostname']}" == api.fleet.url(item["display_name"])
        assert item["status_message"] == "Online"
    assert [(a["id"], a["platform"], a["firmware_version"]) for a in listed] == [
        (0, "command", "9.8.0.100"),
        (1, "discover", "9.8.0.100"),
        (2, "discover", "9.7.0.50"),
    ]


async def test_console_lists_only_the_appliances_connected_to_it(start: Start) -> None:
    """`connected:` limits the list; ids stay those of the whole fleet, so they never shift."""
    api = await start({**CONSOLE, "connected": ["eta1"]}, EDA1, ETA1)
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    assert [(a["id"], a["display_name"]) for a in listed] == [(0, "eca1"), (2, "eta1")]
    assert (await api.call("eca1", "GET", "/api/v1/appliances/1")).status == 404


async def test_a_disconnected_appliance_is_listed_unreachable_at_its_old_version(
    start: Start,
) -> None:
    """A disconnected appliance is listed as unable to connect, at the version last seen."""
    eda2 = {**EDA2, "faults": {"disconnected": True}}
    api = await start(CONSOLE, EDA1, eda2)
    api.fleet.appliance("eda2").version = "9.9.1.100"  # upgraded behind the console's back
    listed = {
        a["display_name"]: a for a in (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    }
    assert listed["eda2"]["status_message"].startswith("Unable to connect")
    assert listed["eda2"]["firmware_version"] == "9.7.0.50"
    assert listed["eda1"]["status_message"] == "Online"
    own = (await api.call("eda2", "GET", "/api/v1/extrahop")).json()
    assert own["version"] == "9.9.1.100"  # the appliance itself still answers


@pytest.mark.parametrize(
    ("appliances", "words"),
    [
        pytest.param(
            [{**CONSOLE, "connected": ["eda9"]}, EDA1],
            "eca1.connected: no other appliance is named 'eda9'; use one of eda1",
            id="unknown-name",
        ),
        pytest.param(
            [CONSOLE, EDA1, {**ETA1, "connected": ["eda1"]}],
            "appliances[2]: only a command or discover appliance has `connected`",
            id="not-a-console",
        ),
        pytest.param(
            [CONSOLE, {**EDA1, "connected": ["eca1"]}, ETA1],
            "eda1.connected: eca1 is a command appliance; a discover appliance lists only "
            "explore and trace appliances (use one of eta1)",
            id="discover-lists-a-console",
        ),
    ],
)
def test_connected_names_are_checked(appliances: list[dict[str, object]], words: str) -> None:
    """An unknown name, a Trace with `connected`, or a Discover listing a console is refused."""
    text = yaml.safe_dump({"appliances": appliances})
    with pytest.raises(ConfigError, match=r"^fleet\.yaml: ") as caught:
        parse_scenario(text, source="fleet.yaml")
    assert words in str(caught.value)


async def test_firmware_next_says_which_appliances_can_go_to_each_version(start: Start) -> None:
    """Each newer available version lists the ids of the appliances below it, newest first."""
    api = await start(CONSOLE, EDA1, EDA2, available_versions=["9.8.0.100", "9.9.1.100"])
    path = "/api/v1/appliances/firmware/next"
    assert (await api.call("eca1", "GET", path)).json() == [
        {"release": "9.9", "versions": [{"version": "9.9.1.100", "system_ids": [1, 2]}]},
        {"release": "9.8", "versions": [{"version": "9.8.0.100", "system_ids": [2]}]},
    ]
    only = (await api.call("eca1", "GET", f"{path}?ids=1")).json()
    assert only == [{"release": "9.9", "versions": [{"version": "9.9.1.100", "system_ids": [1]}]}]
    assert (await api.call("eca1", "GET", f"{path}?ids=7")).status == 400
    assert (await api.call("eda1", "GET", path)).status == 400


async def test_console_upgrade_runs_a_remote_job_on_each_appliance(start: Start) -> None:
    """202 + Location; remote_jobs follow each appliance's own job; all DONE, new versions."""
    api = await start(CONSOLE, EDA1, ETA1)
    body = {"system_ids": [1, 2], "version": "9.9.1.100"}
    answer = await api.call("eca1", "POST", "/api/v1/appliances/firmware/upgrade", json=body)
    assert answer.status == 202
    location = answer.headers["Location"]
    running = (await api.call("eca1", "GET", location)).json()
    assert running["status"] == "RUNNING"
    assert [r["system_id"] for r in running["remote_jobs"]] == [1, 2]
    own = {event.appliance: event.data["job_id"] for event in api.fleet.events_of("job.created")}
    assert [r["job_id"] for r in running["remote_jobs"]] == [own["eda1"], own["eta1"]]

    await api.wait_for(lambda: api.fleet.version("eta1") == "9.9.1.100")
    await api.wait_for(lambda: api.fleet.version("eda1") == "9.9.1.100")
    done = (await api.call("eca1", "GET", location)).json()
    assert done["status"] == "DONE"
    assert {r["status"] for r in done["remote_jobs"]} == {"DONE"}
    listed = (await api.call("eca1", "GET", "/api/v1/appliances")).json()
    assert [a["firmware_version"] for a in listed] == ["9.8.0.100", "9.9.1.100", "9.9.1.100"]


async def test_a_failing_or_unreachable_appliance_fails_its_remote_job_only(start: Start) -> None:
    """One remote job FAILED (its job fails, or it is disconnected): the console job FAILED."""
    failing = {**EDA1, "faults": {"job_result": "FAILED"}}
    cut_off = {**ETA1, "faults": {"disconnected": True}}
    api = await start(CONSOLE, failing, cut_off, EDA2)
    body = {"system_ids": [1, 2, 3], "version": "9.9.1.100"}
    answer = await api.call("eca1", "POST", "/api/v1/appliances/firmware/upgrade", json=body)
    await api.wait_for(lambda: api.fleet.version("eda2") == "9.9.1.100")
    await api.wait_for(lambda: not api.fleet.appliance("eda1").active)
    job = (await api.call("eca1", "GET", answer.headers["Location"])).json()
    remote = {r["system_id"]: r for r in job["remote_jobs"]}
    assert (job["status"], job["details"]) == ("FAILED", "2 of 3 remote jobs failed")
    assert remote[1]["status"] == "FAILED"
    assert remote[2]["status"] == "FAILED"
    assert remote[2]["job_id"] is None
    assert remote[2]["details"].startswith("the console cannot reach eta1")
    assert remote[3]["status"] == "DONE"
    assert api.fleet.version("eda1") == "9.8.0.100"
    assert api.fleet.version("eta1") == "9.8.0.100"


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        pytest.param("eca1", {"system_ids": [9], "version": "9.9.1.100"}, 400, id="unknown-id"),
        pytest.param("eca1", {"system_ids": [], "version": "9.9.1.100"}, 400, id="no-ids"),
        pytest.param("eca1", {"system_ids": ["1"], "version": "9.9.1.100"}, 400, id="str-id"),
        pytest.param("eca1", {"system_ids": [1], "version": "9.9.9.999"}, 400, id="version"),
        pytest.param("eca1", {"system_ids": [1]}, 400, id="no-version"),
        pytest.param("eda1", {"system_ids": [1], "version": "9.9.1.100"}, 400, id="not-console"),
    ],
)
async def test_a_bad_console_upgrade_is_refused_and_starts_nothing(
    start: Start, name: str, body: dict[str, object], status: int
) -> None:
    """Unknown ids, a wrong body, an unavailable version or a sensor: refused, no job."""
    api = await start(CONSOLE, EDA1)
    answer = await api.call(name, "POST", "/api/v1/appliances/firmware/upgrade", json=body)
    assert answer.status == status
    assert answer.json()["error_message"]
    assert api.fleet.events_of("job.created") == []


async def test_a_busy_console_answers_409(start: Start) -> None:
    """The console's `busy` fault refuses its next upgrade POST with 409, as a job running."""
    api = await start({**CONSOLE, "faults": {"busy": 1}}, EDA1)
    body = {"system_ids": [1], "version": "9.9.1.100"}
    path = "/api/v1/appliances/firmware/upgrade"
    assert (await api.call("eca1", "POST", path, json=body)).status == 409
    assert (await api.call("eca1", "POST", path, json=body)).status == 202
