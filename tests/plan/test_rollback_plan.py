"""The pure rollback planner: what a run changed, in reverse stage order, refused when unsafe."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import SecretStr, ValidationError

from orchestrator.core.config import Settings
from orchestrator.core.models import Appliance, Facts, Inventory, NodeKind, Role, UrlFirmware
from orchestrator.plan import Action, Plan, WaveKind, build_plan
from orchestrator.plan.rollback import DATASTORE_WARNING, Observed, build_rollback_plan

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
OLD, NEW = "9.8.0.100", "9.9.1.100"
RUN = "ab" * 16
SETTINGS = Settings(reboot_duration=300)
FLEET = (
    ("eca1", Role.COMMAND, None),
    ("eda1", Role.DISCOVER, None),
    ("exa-m1", Role.EXPLORE, NodeKind.MANAGER),
    ("exa-d1", Role.EXPLORE, NodeKind.DATA),
    ("eta1", Role.TRACE, None),
)


def upgrade_plan() -> Plan:
    """The plan of the run being undone: every appliance from OLD to NEW."""
    appliances = tuple(
        Appliance(
            name=name,
            url=f"https://{name}.example.net",
            role=role,
            cluster="exa" if node else None,
            node=node,
            firmware=UrlFirmware(url=f"https://repo.example.net/{name}.tar", version=NEW),
            api_key=SecretStr("key"),
        )
        for name, role, node in FLEET
    )
    inventory = Inventory(source="fleet.yaml", sha256="0" * 64, appliances=appliances)
    facts = {
        name: Facts(name=name, version=OLD, role=role, ingest_enabled=True if node else None)
        for name, role, node in FLEET
    }
    return build_plan(inventory, facts, {}, Settings(), now=NOW)


def seen(name: str, **fields: object) -> Observed:
    """What `name` reports after the upgrade, with `fields` changed."""
    values: dict[str, object] = {"version": NEW, "previous": OLD}
    if name.startswith("exa"):
        values["ingest_enabled"] = True
    return Observed.model_validate({"name": name, **values, **fields})


def rollback(**changes: Observed) -> Plan:
    """The rollback of every appliance, each seen as `seen` unless `changes` says otherwise."""
    names = [name for name, _, _ in FLEET]
    observed = {name: changes.get(name.replace("-", "_")) or seen(name) for name in names}
    return build_rollback_plan(
        upgrade_plan(), RUN, dict.fromkeys(names, OLD), observed, SETTINGS, now=NOW
    )


def test_waves_run_in_the_reverse_of_the_vendors_order() -> None:
    """Trace, Explore data, Explore managers, Discover, Command."""
    plan = rollback()
    assert [wave.kind for wave in plan.waves] == [
        WaveKind.TRACE,
        WaveKind.EXPLORE_DATA,
        WaveKind.EXPLORE_MANAGERS,
        WaveKind.DISCOVER,
        WaveKind.COMMAND,
    ]
    assert plan.kind == "rollback"
    assert plan.rolls_back == RUN
    assert DATASTORE_WARNING in plan.warnings


def test_each_appliance_goes_from_what_it_runs_back_to_its_version_before_the_run() -> None:
    """Action rollback, from the version it reports to the one the run recorded before."""
    line = rollback().by_name("eda1")
    assert (line.action, line.current_version, line.target_version) == (Action.ROLLBACK, NEW, OLD)
    assert line.estimate.total == SETTINGS.reboot_duration


def test_only_the_appliances_the_run_changed_are_planned() -> None:
    """An appliance not in `changed` has no line at all."""
    names = {"eda1": OLD}
    plan = build_rollback_plan(
        upgrade_plan(), RUN, names, {"eda1": seen("eda1")}, SETTINGS, now=NOW
    )
    assert [line.name for line in plan.appliances()] == ["eda1"]
    assert [wave.kind for wave in plan.waves] == [WaveKind.DISCOVER]
    assert plan.ingest == ()


def test_the_explore_cluster_is_bracketed_via_its_manager() -> None:
    """Ingest is halted around the cluster, sent through the manager, and restored after."""
    (bracket,) = rollback().ingest
    assert (bracket.cluster, bracket.via, bracket.halt) == ("exa", "exa-m1", True)
    assert set(bracket.members) == {"exa-m1", "exa-d1"}


def test_a_cluster_found_off_is_left_off() -> None:
    """Ingest already off before the rollback: no halt, kept off, nothing to decide."""
    plan = rollback(
        exa_m1=seen("exa-m1", ingest_enabled=False), exa_d1=seen("exa-d1", ingest_enabled=False)
    )
    (bracket,) = plan.ingest
    assert (bracket.halt, bracket.choice) == (False, "keep")
    assert plan.undecided_found_off() == []


@pytest.mark.parametrize(
    ("observed", "words"),
    [
        pytest.param(seen("eda1", previous="9.7.0.100"), ["9.7.0.100", OLD], id="other-previous"),
        pytest.param(seen("eda1", previous=None), ["no previous firmware"], id="no-previous"),
        pytest.param(Observed(name="eda1", error="401 bad key"), ["401 bad key"], id="unreadable"),
    ],
)
def test_an_appliance_a_rollback_would_not_restore_is_refused(
    observed: Observed, words: list[str]
) -> None:
    """Refused with the reason; the plan as a whole still goes on for the others."""
    plan = rollback(eda1=observed)
    line = plan.by_name("eda1")
    assert line.action is Action.REFUSED
    assert all(word in (line.reason or "") for word in words)
    assert not plan.refused
    assert plan.by_name("eca1").action is Action.ROLLBACK


def test_an_appliance_already_back_is_skipped() -> None:
    """Running the version before the run already: skipped, saying so."""
    line = rollback(eda1=seen("eda1", version=OLD, previous=NEW)).by_name("eda1")
    assert line.action is Action.SKIP
    assert OLD in (line.reason or "")


def test_a_rollback_plan_in_the_upgrade_order_is_rejected() -> None:
    """An edited rollback plan cannot run Command first."""
    plan = rollback()
    data = plan.model_dump(mode="json")
    data["waves"] = list(reversed(data["waves"]))
    with pytest.raises(ValidationError, match="out of the vendor's order"):
        Plan.model_validate(data)
