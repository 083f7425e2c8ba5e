"""Explore cluster ingest: one switch per cluster, reachable from any node."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.simulator.testing import Api, Start


def node(name: str, kind: str, cluster: str = "exa") -> dict[str, str]:
    return {
        "name": name,
        "role": "explore",
        "cluster": cluster,
        "node": kind,
        "version": "9.8.0.100",
    }


async def test_patch_on_one_node_applies_to_the_whole_cluster(start: Start) -> None:
    """Halting ingest through a data node turns it off on every node of that cluster only."""
    api = await start(
        node("exa-m1", "manager"),
        node("exa-d1", "data"),
        node("exb-m1", "manager", cluster="exb"),
        clusters={"exa": {"ingest_enabled": True}},
    )
    body = {"ingest_enabled": False}
    answer = await api.call("exa-d1", "PATCH", "/api/v1/extrahop/cluster", json=body)
    assert answer.status == 204
    assert (await api.call("exa-m1", "GET", "/api/v1/extrahop/cluster")).json() == body
    assert api.fleet.ingest_enabled("exa") is False
    assert api.fleet.ingest_enabled("exb") is True
    changed = api.fleet.events_of("ingest.changed")
    assert [(e.appliance, e.data) for e in changed] == [
        ("exa-d1", {"cluster": "exa", "enabled": False, "via": "exa-d1"})
    ]


async def test_cluster_starting_with_ingest_off(start: Start) -> None:
    """A cluster declared with ingest_enabled false reports it."""
    api = await start(node("exa-m1", "manager"), clusters={"exa": {"ingest_enabled": False}})
    answer = await api.call("exa-m1", "GET", "/api/v1/extrahop/cluster")
    assert answer.json() == {"ingest_enabled": False}


async def test_cluster_endpoint_is_404_on_other_appliances(api: Api) -> None:
    """Only Explore nodes have /extrahop/cluster."""
    answer = await api.call("eda1", "GET", "/api/v1/extrahop/cluster")
    assert answer.status == 404
    assert answer.json()["error_message"]


async def test_patch_cluster_with_a_wrong_type_is_400(start: Start) -> None:
    """ingest_enabled must be a JSON boolean, not the string "false"."""
    api = await start(node("exa-m1", "manager"))
    headers = {"Content-Type": "application/json"}
    data = json.dumps({"ingest_enabled": "false"})
    answer = await api.call(
        "exa-m1", "PATCH", "/api/v1/extrahop/cluster", data=data, headers=headers
    )
    assert answer.status == 400
    assert api.fleet.ingest_enabled("exa") is True
