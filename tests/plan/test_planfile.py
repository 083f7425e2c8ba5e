"""Saved plans: atomic save, strict load, and the drift check before apply."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from orchestrator.core.config import Settings
from orchestrator.core.errors import DriftError, PlanError
from orchestrator.core.models import (
    Appliance,
    CloudFirmware,
    Facts,
    FileFirmware,
    Inventory,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.plan import ImageInfo, Plan, build_plan
from orchestrator.plan.file import check_drift, find_drift, load_plan, save_plan

if TYPE_CHECKING:
    from collections.abc import Callable

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
OLD, NEW = "9.8.0.100", "9.9.1.100"
SHA = "a" * 64
IMAGE = ImageInfo(path="images/eda.tar", size=1000, sha256="1" * 64)


def box(name: str, role: Role | None, **fields: object) -> Appliance:
    data: dict[str, object] = {
        "name": name,
        "url": f"https://{name}.example.net",
        "role": role,
        "firmware": CloudFirmware(cloud_version=NEW),
        "api_key": SecretStr("key"),
    }
    return Appliance.model_validate(data | fields)


def fleet() -> list[Appliance]:
    return [
        box("eca1", Role.COMMAND),
        box("eda1", Role.DISCOVER, firmware=FileFirmware(file=Path(IMAGE.path), version=NEW)),
        box("exa-m1", Role.EXPLORE, cluster="exa", node=NodeKind.MANAGER),
        box("vendor1", None),
    ]


def inventory(appliances: list[Appliance], sha256: str = SHA) -> Inventory:
    return Inventory(source="fleet.csv", sha256=sha256, appliances=tuple(appliances))


def observed(version: str = OLD, *, ingest: bool = True) -> dict[str, Facts]:
    roles = {"vendor1": Role.TRACE, "exa-m1": Role.EXPLORE}
    return {
        name: Facts(
            name=name,
            version=version,
            role=roles.get(name),
            ingest_enabled=ingest if name == "exa-m1" else None,
        )
        for name in ("eca1", "eda1", "exa-m1", "vendor1")
    }


def make_plan() -> Plan:
    return build_plan(inventory(fleet()), observed(), {IMAGE.path: IMAGE}, Settings(), now=NOW)


# --- save and load ---------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """A saved plan loads back equal, and saving leaves no temporary file behind."""
    path = tmp_path / "plan.json"
    plan = make_plan()
    save_plan(plan, path)
    assert load_plan(path) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_save_replaces_an_existing_plan(tmp_path: Path) -> None:
    """Saving over an older plan replaces it whole."""
    path = tmp_path / "plan.json"
    path.write_text("old junk that is longer than nothing" * 1000, encoding="utf-8")
    save_plan(make_plan(), path)
    assert load_plan(path) == make_plan()


def test_save_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    """A plan that cannot be written is a PlanError naming the path, not a traceback."""
    path = tmp_path / "nowhere" / "plan.json"
    with pytest.raises(
        PlanError, match=r"nowhere/plan\.json: cannot write the plan \(no such file\)"
    ):
        save_plan(make_plan(), path)


def _valid() -> dict[str, object]:
    data: dict[str, object] = json.loads(make_plan().model_dump_json())
    return data


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param(lambda p: p.mkdir(), "a directory", id="directory"),
        pytest.param(
            lambda p: p.write_text("{not json", encoding="utf-8"), "not JSON", id="not-json"
        ),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe\x00"), "not UTF-8 text", id="binary"),
        pytest.param(
            lambda p: p.write_text("[1, 2]", encoding="utf-8"), "not a JSON object", id="list"
        ),
        pytest.param(
            lambda p: p.write_text(json.dumps(_valid() | {"schema_version": 2}), encoding="utf-8"),
            "schema_version 2; this orchestrator reads 1",
            id="future-schema",
        ),
        pytest.param(
            lambda p: p.write_text(json.dumps({"waves": []}), encoding="utf-8"),
            "schema_version None; this orchestrator reads 1",
            id="no-schema-version",
        ),
        pytest.param(
            lambda p: p.write_text(
                json.dumps(_valid() | {"concurrency": "many"}), encoding="utf-8"
            ),
            "concurrency: Input should be a valid integer",
            id="bad-field",
        ),
        pytest.param(
            lambda p: p.write_text(json.dumps(_valid() | {"concurrency": 0}), encoding="utf-8"),
            "concurrency: Input should be greater than or equal to 1",
            id="no-concurrency",  # apply would wait for ever for a free slot
        ),
        pytest.param(
            lambda p: p.write_text(json.dumps(_valid() | {"surprise": 1}), encoding="utf-8"),
            "surprise: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            lambda p: p.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8"),
            "nested too deeply",
            id="deep-array",
        ),
        pytest.param(
            lambda p: p.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000, encoding="utf-8"),
            "nested too deeply",
            id="deep-object",
        ),
        pytest.param(
            lambda p: p.write_text(
                json.dumps(_valid())[:-1] + ', "surprise": ' + "[" * 900 + "]" * 900 + "}",
                encoding="utf-8",
            ),
            "surprise: Extra inputs are not permitted",
            id="deep-extra-field",
        ),
    ],
)
def test_bad_plan_file_is_one_line(
    tmp_path: Path, write: Callable[[Path], object] | None, reason: str
) -> None:
    """Every unusable plan file is one PlanError line naming the file and the reason."""
    path = tmp_path / "plan.json"
    if write is not None:
        write(path)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a plan file (")
    assert reason in message
    assert "\n" not in message


# --- drift -----------------------------------------------------------------------------------


def changed(name: str, **fields: object) -> list[Appliance]:
    return [a.model_copy(update=fields) if a.name == name else a for a in fleet()]


@pytest.mark.parametrize(
    ("appliances", "sha256", "facts", "images", "drifts"),
    [
        pytest.param(
            fleet(),
            "b" * 64,
            observed(),
            {IMAGE.path: IMAGE},
            ["inventory fleet.csv changed since the plan (sha256 aaaaaaaaaaaa… -> bbbbbbbbbbbb…)"],
            id="inventory-hash",
        ),
        pytest.param(
            [*fleet(), box("eta9", Role.TRACE)],
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["appliance eta9 was added to the inventory since the plan"],
            id="added",
        ),
        pytest.param(
            fleet()[1:],
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["appliance eca1 was removed from the inventory since the plan"],
            id="removed",
        ),
        pytest.param(
            changed("eca1", url="https://eca9.example.net"),
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["eca1's URL changed: https://eca1.example.net -> https://eca9.example.net"],
            id="url",
        ),
        pytest.param(
            changed("vendor1", role=Role.DISCOVER),
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["vendor1's role changed: trace -> discover"],
            id="role",
        ),
        pytest.param(
            changed("exa-m1", node=NodeKind.DATA),
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["exa-m1's Explore cluster/node changed: exa/manager -> exa/data"],
            id="explore-node",
        ),
        pytest.param(
            changed("eca1", firmware=UrlFirmware(url="https://r/eca.tar", version="9.9.2.1")),
            SHA,
            observed(),
            {IMAGE.path: IMAGE},
            ["eca1's firmware changed: cloud 9.9.1.100 -> url https://r/eca.tar 9.9.2.1"],
            id="firmware",
        ),
        pytest.param(
            fleet(),
            SHA,
            observed(),
            {IMAGE.path: IMAGE.model_copy(update={"sha256": "2" * 64})},
            ["image images/eda.tar changed: sha256 111111111111… -> 222222222222…"],
            id="image-sha256",
        ),
        pytest.param(
            fleet(),
            SHA,
            observed(),
            {IMAGE.path: IMAGE.model_copy(update={"size": 999})},
            ["image images/eda.tar changed: size 1000 -> 999 bytes"],
            id="image-size",
        ),
        pytest.param(
            fleet(), SHA, observed(), {}, ["image images/eda.tar is gone"], id="image-gone"
        ),
        pytest.param(
            fleet(),
            SHA,
            observed() | {"eda1": Facts(name="eda1", version="9.8.1.0", role=Role.DISCOVER)},
            {IMAGE.path: IMAGE},
            ["eda1 now runs 9.8.1.0; the plan saw 9.8.0.100"],
            id="version",
        ),
        pytest.param(
            fleet(),
            SHA,
            observed() | {"eda1": Facts(name="eda1", error="connection refused")},
            {IMAGE.path: IMAGE},
            ["eda1 is now unreachable (connection refused)"],
            id="unreachable",
        ),
        pytest.param(
            fleet(),
            SHA,
            observed()
            | {"eda1": Facts(name="eda1", version=OLD, role=Role.DISCOVER, running_job="j-7")},
            {IMAGE.path: IMAGE},
            [
                (
                    "eda1 now has job j-7 running "
                    "(another run of this tool, using another state database?)"
                )
            ],
            id="job-running",
        ),
        pytest.param(
            fleet(),
            SHA,
            observed(ingest=False),
            {IMAGE.path: IMAGE},
            ["ingest on cluster exa is now disabled; the plan saw it enabled"],
            id="ingest",
        ),
    ],
)
def test_drift_is_named(
    appliances: list[Appliance],
    sha256: str,
    facts: dict[str, Facts],
    images: dict[str, ImageInfo],
    drifts: list[str],
) -> None:
    """Each change since the plan is one sentence naming what changed, and check_drift raises."""
    args = (make_plan(), inventory(appliances, sha256), facts, images)
    assert find_drift(*args) == drifts
    with pytest.raises(DriftError) as caught:
        check_drift(*args)
    assert caught.value.drifts == drifts


@pytest.mark.parametrize(
    ("facts", "version"),
    [
        pytest.param(observed(), OLD, id="nothing-changed"),
        pytest.param(observed("9.8.0.100.0"), OLD, id="same-version-other-spelling"),
        pytest.param(None, OLD, id="offline-skips-observed-checks"),
    ],
)
def test_no_drift(facts: dict[str, Facts] | None, version: str) -> None:
    """An unchanged fleet passes; without facts, observed versions are not compared."""
    plan = make_plan()
    assert plan.by_name("eca1").current_version == version
    assert find_drift(plan, inventory(fleet()), facts, {IMAGE.path: IMAGE}) == []
    check_drift(plan, inventory(fleet()), facts, {IMAGE.path: IMAGE})


def test_offline_plan_does_not_drift_on_versions() -> None:
    """A plan made offline saw no versions, so the versions seen at apply are not drift."""
    plan = build_plan(inventory(fleet()[:3]), None, {IMAGE.path: IMAGE}, Settings(), now=NOW)
    assert find_drift(plan, inventory(fleet()[:3]), observed(), {IMAGE.path: IMAGE}) == []
