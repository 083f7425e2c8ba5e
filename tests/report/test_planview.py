"""Rendering a plan: durations, the terminal table, JSON and Markdown."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr
from rich.console import Console

from orchestrator.core.config import Settings
from orchestrator.core.models import (
    Appliance,
    CloudFirmware,
    Facts,
    FileFirmware,
    Firmware,
    Inventory,
    NodeKind,
    Role,
    UrlFirmware,
)
from orchestrator.core.text import format_duration
from orchestrator.plan import ImageInfo, Plan, build_plan, with_found_off_choice
from orchestrator.report.planview import (
    action_text,
    ingest_lines,
    render_table,
    to_json,
    to_markdown,
)

if TYPE_CHECKING:
    from orchestrator.plan.model import FoundOffChoice

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
OLD, NEW = "9.8.0.100", "9.9.1.100"
IMAGE = ImageInfo(
    path="images/eda-9.9.1.100.tar", size=2_000_000_000, sha256="c0ffee" * 10 + "abcd"
)


def box(
    name: str,
    role: Role | None,
    firmware: Firmware | None = None,
    node: NodeKind | None = None,
) -> Appliance:
    return Appliance(
        name=name,
        url=f"https://{name}.example.net",
        role=role,
        cluster="exa" if node else None,
        node=node,
        firmware=firmware or CloudFirmware(cloud_version=NEW),
        api_key=SecretStr("key"),
    )


FLEET = [
    box("eca1", Role.COMMAND),
    box("eda1", Role.DISCOVER, FileFirmware(file=Path(IMAGE.path), version=NEW)),
    box("eda2", Role.DISCOVER, UrlFirmware(url="https://repo.example.net/eda.tar", version=NEW)),
    box("eda3", Role.DISCOVER),
    box("exa-m1", Role.EXPLORE, node=NodeKind.MANAGER),
    box("exa-d1", Role.EXPLORE, node=NodeKind.DATA),
    box("eta1", Role.TRACE),
    box("mystery", None),
]


def make_plan(*, offline: bool = False, ingest: bool = True, **settings: object) -> Plan:
    facts = {
        a.name: Facts(
            name=a.name,
            version=NEW if a.name == "eda3" else OLD,
            role=a.role,
            ingest_enabled=ingest if a.role is Role.EXPLORE else None,
        )
        for a in FLEET
    }
    facts["eta1"] = Facts(name="eta1", error="connection refused")
    inventory = Inventory(source="fleet.yaml", sha256="f" * 64, appliances=tuple(FLEET))
    return build_plan(
        inventory,
        None if offline else facts,
        {IMAGE.path: IMAGE},
        Settings.model_validate(settings),
        now=NOW,
    )


def table_text(plan: Plan) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(render_table(plan))
    return console.export_text()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(45, "45s", id="seconds"),
        pytest.param(59.6, "1m 00s", id="rounds-up-to-a-minute"),
        pytest.param(1050, "17m 30s", id="minutes"),
        pytest.param(3900, "1h 05m", id="hours"),
        pytest.param(36000, "10h 00m", id="long"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations read as seconds, minutes and seconds, or hours and minutes."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("eda1", "upload eda-9.9.1.100.tar sha256 c0ffeec0ffee", id="upload"),
        pytest.param("eda2", "url https://repo.example.net/eda.tar", id="url"),
        pytest.param("eca1", "cloud 9.9.1.100", id="cloud"),
        pytest.param("eda3", "skip", id="skip"),
        pytest.param("eta1", "refused: connection refused", id="refused"),
    ],
)
def test_action_text(name: str, text: str) -> None:
    """Each action names what will be sent: the image and its hash, the URL, or the version."""
    assert action_text(make_plan().by_name(name)) == text


@pytest.mark.parametrize(
    ("offline", "ingest", "line"),
    [
        pytest.param(
            False,
            True,
            "halt ingest on cluster exa via exa-m1 before explore-managers; "
            "restore after explore-data",
            id="halt",
        ),
        pytest.param(
            False,
            False,
            "cluster exa: ingest found disabled: apply asks: keep off or enable",
            id="found-off",
        ),
        pytest.param(
            True,
            True,
            "halt ingest on cluster exa via exa-m1 before explore-managers; "
            "restore after explore-data (ingest state not observed)",
            id="offline",
        ),
    ],
)
def test_ingest_lines(offline: bool, ingest: bool, line: str) -> None:
    """Each cluster's ingest bracket reads as one sentence."""
    assert ingest_lines(make_plan(offline=offline, ingest=ingest)) == [line]


@pytest.mark.parametrize(
    ("choice", "line"),
    [
        pytest.param("keep", "cluster exa: ingest found disabled: kept off (as chosen)", id="keep"),
        pytest.param(
            "enable",
            "halt ingest on cluster exa via exa-m1 before explore-managers; restore after "
            "explore-data (found disabled: enabled after, as chosen)",
            id="enable",
        ),
    ],
)
def test_ingest_found_off_reads_as_the_choice_made(choice: FoundOffChoice, line: str) -> None:
    """A cluster found disabled reads as kept off, or enabled after, as the operator chose."""
    plan = with_found_off_choice(make_plan(ingest=False), choice)
    assert ingest_lines(plan) == [line]


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param(make_plan(), id="online"),
        pytest.param(make_plan(offline=True), id="offline"),
        pytest.param(make_plan(window_end=NOW + dt.timedelta(minutes=30)), id="window"),
        pytest.param(make_plan(allow_downgrade=True, concurrency=9), id="settings"),
    ],
)
def test_json_round_trips(plan: Plan) -> None:
    """The JSON form parses back to an equal plan, and renders identically again."""
    again = Plan.model_validate_json(to_json(plan))
    assert again == plan
    assert to_json(again) == to_json(plan)


def test_json_hides_no_secret_and_keeps_field_names() -> None:
    """The JSON holds the documented top-level fields and no API key."""
    text = to_json(make_plan())
    assert "api_key" not in text
    for field in ("schema_version", "inventory_sha256", "waves", "ingest", "refusals", "estimate"):
        assert f'"{field}"' in text


EXPECTED_IN_BOTH = [
    "eca1",
    "eda1",
    "exa-m1",
    "exa-d1",
    "eta1",
    "mystery",
    "9.8.0.100 → 9.9.1.100",
    "cloud 9.9.1.100",
    "url https://repo.example.net/eda.tar",
    "refused: connection refused",
    "halt ingest on cluster exa via exa-m1 before explore-managers; restore after explore-data",
    "REFUSED",
]


@pytest.mark.parametrize(
    "expected", [pytest.param(text, id=text[:30]) for text in EXPECTED_IN_BOTH]
)
def test_markdown_shows_the_plan(expected: str) -> None:
    """The Markdown names every appliance, version, action, the ingest steps and the status."""
    assert expected in to_markdown(make_plan())


def test_markdown_has_a_table_per_wave() -> None:
    """The Markdown has one heading and one table (or a 'no appliances' line) per wave."""
    text = to_markdown(make_plan())
    assert text.startswith("# Firmware upgrade plan: fleet.yaml\n")
    for heading in (
        "## 1. command",
        "## 2. discover",
        "## 3. explore-managers",
        "## 4. explore-data",
        "## 5. trace",
    ):
        assert heading in text
    assert text.count("| Appliance | Role | Version | Action | Estimate |") == 6  # + unplaced
    assert "| eda1 | discover | 9.8.0.100 → 9.9.1.100 | upload eda-9.9.1.100.tar" in text


def test_markdown_escapes_table_breaking_text() -> None:
    """A pipe inside a cell is escaped so the table stays intact."""
    plan = make_plan()
    odd = plan.by_name("eta1").model_copy(update={"reason": "weird | answer"})
    trace = plan.waves[4].model_copy(update={"appliances": (odd,)})
    waves = (*plan.waves[:4], trace)
    assert "refused: weird \\| answer" in to_markdown(plan.model_copy(update={"waves": waves}))


@pytest.mark.parametrize(
    "expected", [pytest.param(text, id=text[:30]) for text in EXPECTED_IN_BOTH]
)
def test_table_shows_the_plan(expected: str) -> None:
    """The terminal table names every appliance, version, action, the ingest steps, the status."""
    flat = " ".join(table_text(make_plan()).split())
    assert " ".join(expected.split()) in flat


def test_table_fits_100_columns_and_totals() -> None:
    """The table stays within 100 columns and ends with the total estimate."""
    text = table_text(make_plan(window_end=NOW + dt.timedelta(minutes=30)))
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
    assert "1. command (25m 00s)" in text
    assert "deferred" in text
    assert "Total: 8 appliances: 5 to upgrade, 1 skipped, 2 refused" in text


@pytest.mark.parametrize("suffix", ["", ".dc1.corp.example.net"], ids=["short", "long-names"])
def test_table_fits_an_80_column_terminal_without_cutting_versions(suffix: str) -> None:
    """At 80 columns versions take two lines and roles and long names fold; none is cut."""
    plan = make_plan()
    waves = tuple(
        wave.model_copy(
            update={
                "appliances": tuple(
                    a.model_copy(update={"name": a.name + suffix}) for a in wave.appliances
                )
            }
        )
        for wave in plan.waves
    )
    plan = plan.model_copy(update={"waves": waves})
    console = Console(record=True, width=80, color_system=None, soft_wrap=True)
    console.print(render_table(plan, width=80))
    lines = console.export_text().splitlines()
    tables, in_wave = [], False
    for text in lines:  # a wave's table: from its `N. wave` heading to the blank line
        in_wave = bool(re.match(r"\d+\. ", text)) or (in_wave and bool(text.strip()))
        tables += [text] if in_wave else []
    assert tables
    assert max(len(text) for text in tables) <= 80
    headers = len([w for w in plan.waves if w.appliances]) + bool(plan.unplaced)
    assert sum("Estimate" in text for text in lines) == headers  # no column squeezed out
    assert all("Appliance" in text and "Estimate" in text for text in lines if "Role" in text)
    text = "\n".join(lines)
    for planned in plan.appliances():
        if planned.current_version:
            assert f"{planned.current_version} →" in text
        assert planned.target_version is not None
        assert planned.target_version in text
