"""Console mode in the plan: the action, its console, the ingest key, the keys it names."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr

from orchestrator.core.config import Settings
from orchestrator.core.models import (
    Appliance,
    CloudFirmware,
    ConsoleFirmware,
    Facts,
    Inventory,
    NodeKind,
    Role,
)
from orchestrator.plan import Action, Plan, build_plan
from orchestrator.plan.console import key_lines
from orchestrator.plan.file import plan_differences
from orchestrator.report.html import plan_page
from orchestrator.report.planview import action_text, to_json, to_markdown

OLD, NEW = "9.8.0.100", "9.9.1.100"
KEYED = frozenset({"eca1", "exa-m1"})


def plan(appliances: list[Appliance], facts: dict[str, Facts] | None = None) -> Plan:
    """The plan of `appliances`, each seen at OLD (ingest on) unless `facts` say otherwise."""
    seen = facts or {
        a.name: Facts(name=a.name, version=OLD, role=a.role, ingest_enabled=True)
        for a in appliances
    }
    inventory = Inventory(source="fleet.yaml", sha256="0" * 64, appliances=tuple(appliances))
    now = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    return build_plan(inventory, seen, {}, Settings(), now=now)


def member(name: str, role: Role, ident: int, node: NodeKind | None = None) -> Appliance:
    """An appliance the console upgrades; only the console and exa-m1 keep a key."""
    return Appliance(
        name=name,
        url=f"https://{name}.example.net",
        role=role,
        cluster="exa" if node else None,
        node=node,
        firmware=CloudFirmware(cloud_version=NEW)
        if role is Role.COMMAND
        else ConsoleFirmware(console_version=NEW),
        api_key=SecretStr("key") if name in KEYED else None,
        console_id=ident,
    )


def console_fleet(*, keyed_exa: bool = True) -> list[Appliance]:
    appliances = [
        member("eca1", Role.COMMAND, 0),
        member("eda1", Role.DISCOVER, 1),
        member("exa-m1", Role.EXPLORE, 2, NodeKind.MANAGER),
        member("exa-d1", Role.EXPLORE, 3, NodeKind.DATA),
        member("eta1", Role.TRACE, 4),
    ]
    if not keyed_exa:
        appliances[2] = appliances[2].model_copy(update={"api_key": None})
    return appliances


def test_console_mode_lines_name_their_console_and_id() -> None:
    """Each appliance but the console is upgraded by eca1, by its id there; eca1 by the cloud."""
    result = plan(console_fleet())
    lines = {line.name: line for line in result.appliances()}
    assert lines["eca1"].action is Action.CLOUD
    assert [(n, lines[n].action, lines[n].console, lines[n].console_id) for n in lines][1:] == [
        ("eda1", Action.CONSOLE, "eca1", 1),
        ("exa-m1", Action.CONSOLE, "eca1", 2),
        ("exa-d1", Action.CONSOLE, "eca1", 3),
        ("eta1", Action.CONSOLE, "eca1", 4),
    ]
    assert action_text(lines["eda1"]) == f"console {NEW} via eca1 (id 1)"
    assert not result.refused


def test_ingest_is_halted_through_the_node_with_a_key() -> None:
    """exa-d1 alone has a key: the bracket goes through it, though managers come first."""
    appliances = console_fleet(keyed_exa=False)
    appliances[3] = appliances[3].model_copy(update={"api_key": SecretStr("key")})
    result = plan(appliances)
    assert [b.via for b in result.ingest] == ["exa-d1"]
    assert key_lines(result) == [
        "eca1: the console, upgrades 4 appliances",
        "exa-d1: halts and restores ingest on cluster exa",
        "no key needed: eda1, exa-m1, eta1 (the console answers for them)",
    ]


def test_a_cluster_without_any_key_refuses_the_plan() -> None:
    """No node of exa has a key: nothing could halt ingest, so the plan says which to give."""
    result = plan(console_fleet(keyed_exa=False))
    assert result.refused
    refusal = (
        "no node of Explore cluster exa has an API key to halt and restore ingest: "
        "give one (e.g. exa-m1) api_key_env or api_key_file"
    )
    assert result.refusals == (refusal,)


def test_every_plan_form_says_which_keys_are_needed() -> None:
    """The Markdown and HTML plans name the console's key and the ingest node's."""
    result = plan(console_fleet())
    for text in (to_markdown(result), plan_page(result)):
        assert "eca1: the console, upgrades 4 appliances" in text
        assert "exa-m1: halts and restores ingest on cluster exa" in text
    assert '"console_id": 4' in to_json(result)


def test_outside_console_mode_no_key_lines_are_shown() -> None:
    """A fleet whose appliances take their own firmware names no console keys."""
    result = plan([member("eca1", Role.COMMAND, 0)])
    assert key_lines(result) == []


@pytest.mark.parametrize(
    ("change", "difference"),
    [
        pytest.param({"console_id": 9}, "eda1: console eca1/9 in the file, eca1/1 now", id="id"),
        pytest.param(
            {"console": "eca2"}, "eda1: console eca2/1 in the file, eca1/1 now", id="name"
        ),
    ],
)
def test_a_saved_plan_with_another_console_or_id_is_refused(
    change: dict[str, object], difference: str
) -> None:
    """Editing the console or the id in a saved plan is caught when it is rebuilt."""
    fresh = plan(console_fleet())
    edited = _edit(fresh, "eda1", change)
    assert difference in plan_differences(edited, fresh)


def test_an_unreachable_appliance_is_refused_with_the_consoles_words() -> None:
    """Facts from the console saying it cannot reach eda1 refuse eda1 alone."""
    appliances = console_fleet()
    error = "console eca1 cannot reach it (Unable to connect to the appliance): reconnect it"
    facts = {
        a.name: Facts(name=a.name, version=OLD, role=a.role, ingest_enabled=True)
        for a in appliances
    }
    facts["eda1"] = Facts(name="eda1", version=OLD, role=Role.DISCOVER, error=error)
    result = plan(appliances, facts)
    assert result.by_name("eda1").action is Action.REFUSED
    assert result.by_name("eda1").reason == error


def _edit(saved: Plan, name: str, change: dict[str, object]) -> Plan:
    waves = tuple(
        wave.model_copy(
            update={
                "appliances": tuple(
                    line.model_copy(update=change) if line.name == name else line
                    for line in wave.appliances
                )
            }
        )
        for wave in saved.waves
    )
    return saved.model_copy(update={"waves": waves})
