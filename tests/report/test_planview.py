"""Rendering a plan: durations, the terminal table, JSON and Markdown."""

from __future__ import annotations

import datetime as dt
import io
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
from orchestrator.plan import Action, ImageInfo, Plan, build_plan, with_found_off_choice
from orchestrator.report.planview import (
    action_text,
    ingest_lines,
    render_table,
    to_json,
    to_markdown,
)
from orchestrator.report.schedulewords import schedule_lines

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


def table_text(plan: Plan, width: int = 160) -> str:
    console = Console(  # as the command line's: lines are not wrapped unless they ask to be
        record=True, width=width, color_system=None, file=io.StringIO(), soft_wrap=True
    )
    console.print(render_table(plan, width=width))
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
    """Each cluster's ingest bracket reads as one sentence (strict waves: which waves)."""
    assert ingest_lines(make_plan(offline=offline, ingest=ingest, schedule="waves")) == [line]


def test_a_graph_plan_says_how_long_each_cluster_s_ingest_is_off() -> None:
    """A graph plan halts right before the cluster's first node and says for how long."""
    plan = make_plan()
    (bracket,) = plan.ingest
    assert bracket.off_estimate == 3000.0  # its manager stage then its data stage, 1500 s each
    expected = (
        "halt ingest on cluster exa via exa-m1 right before its first node; restore right "
        "after its last (off ~50m 00s by the estimates)"
    )
    assert ingest_lines(plan) == [expected]


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
    plan = with_found_off_choice(make_plan(ingest=False, schedule="waves"), choice)
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
    (
        "halt ingest on cluster exa via exa-m1 right before its first node; restore right after "
        "its last (off ~50m 00s by the estimates)"
    ),
    (
        "explore exa data: 1 appliance (exa-d1); waits for command (eca1), explore exa "
        "managers (exa-m1)"
    ),
    (
        "trace: 1 appliance (eta1); waits for command (eca1), discover (eda1, eda2, eda3) "
        "(connections not known: every Discover appliance)"
    ),
    "REFUSED",
]


@pytest.mark.parametrize(
    "expected", [pytest.param(text, id=text[:30]) for text in EXPECTED_IN_BOTH]
)
def test_markdown_shows_the_plan(expected: str) -> None:
    """The Markdown names every appliance, version, action, the ingest steps and the status."""
    assert expected in to_markdown(make_plan())


def test_markdown_has_a_table_per_wave() -> None:
    """Markdown: a heading per wave, a table of what changes (marked) or a 'no appliances' line."""
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
    assert text.count("|  | Appliance | Role | Version | Action | Estimate |") == 6  # + unplaced
    assert "| + | eda1 | discover | 9.8.0.100 → 9.9.1.100 | upload eda-9.9.1.100.tar" in text
    assert "| ! | eta1 | trace | ? → 9.9.1.100 | refused: connection refused | - |" in text


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
    """The table stays within 100 columns; the total counts upgrades, skips and refusals."""
    text = table_text(make_plan(window_end=NOW + dt.timedelta(minutes=30)), width=100)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
    assert "1. command (25m 00s)" in text
    assert "deferred" in text
    total = "Total: 8 appliances: 5 to upgrade (+), 1 already current (=), 2 refused (!)"
    assert total in " ".join(text.split())


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
        if planned.action is Action.SKIP:  # folded into its wave's `= N already current` line
            assert planned.name in text
        elif planned.current_version:
            assert f"{planned.current_version} →" in text
        assert planned.target_version is not None
        assert planned.target_version in text


# --- at a glance: a 40-appliance fleet at 80 and 160 columns ---------------------------------

DIGEST = "8655c2710085" + "0" * 52
CURRENT = {"eda3", "eda7", "eda11", "eta2"}  # already at the target


def fleet40(**changes: object) -> Plan:
    """1 ECA, 16 EDA, two Explore clusters of 3 managers and 5 data nodes, 7 ETA; 4 current."""
    image = ImageInfo(path="images/discover-9.9.1.100.tar", size=67_108_864, sha256=DIGEST)
    upload = FileFirmware(file=Path(image.path), version=NEW)
    boxes = [box("eca1", Role.COMMAND, upload)]
    boxes += [box(f"eda{n}", Role.DISCOVER, upload) for n in range(1, 17)]
    for cluster in ("exa", "exb"):
        for node, count in ((NodeKind.MANAGER, 3), (NodeKind.DATA, 5)):
            boxes += [
                box(f"{cluster}-{node.value[0]}{n}", Role.EXPLORE, upload, node).model_copy(
                    update={"cluster": cluster}
                )
                for n in range(1, count + 1)
            ]
    boxes += [box(f"eta{n}", Role.TRACE, upload) for n in range(1, 8)]
    facts = {
        a.name: Facts(
            name=a.name,
            version=NEW if a.name in CURRENT else OLD,
            role=a.role,
            ingest_enabled=True if a.role is Role.EXPLORE else None,
        )
        for a in boxes
    }
    inventory = Inventory(source="fleet40.yaml", sha256="f" * 64, appliances=tuple(boxes))
    settings = Settings.model_validate(changes)
    return build_plan(inventory, facts, {image.path: image}, settings, now=NOW)


def test_the_summary_comes_first() -> None:
    """The status, then the counts with their marks and the estimate, before any wave."""
    lines = table_text(fleet40()).splitlines()
    assert lines[0] == "Upgrade plan: ready to apply"
    assert lines[1].startswith("40 appliances: 36 to upgrade (+), 4 already current (=); estimate")
    assert lines[2].startswith("inventory fleet40.yaml (sha256 ffffffffffff), online")


def test_each_row_is_marked_by_what_apply_does_to_it() -> None:
    """`+` upgrade and `!` refused start their rows; skips are one `=` line per wave."""
    plan = fleet40()
    trace = plan.waves[4]
    refused = trace.appliances[0].model_copy(
        update={"action": Action.REFUSED, "reason": "connection refused"}
    )
    waves = (
        *plan.waves[:4],
        trace.model_copy(update={"appliances": (refused, *trace.appliances[1:])}),
    )
    text = table_text(plan.model_copy(update={"waves": waves}))
    upgrade = r"^ \+ eda1 +discover +9\.8\.0\.100 → 9\.9\.1\.100 +upload "
    assert re.search(upgrade, text, re.MULTILINE)
    assert re.search(
        r"^ ! eta1 +trace +9\.8\.0\.100 → 9\.9\.1\.100 +refused: connection", text, re.MULTILINE
    )
    assert not re.search(r"^ \+ eda3 ", text, re.MULTILINE)


def test_skipped_appliances_fold_into_one_line_per_wave() -> None:
    """Appliances already current are not rows: one `= N already current: names` line a wave."""
    text = table_text(fleet40())
    assert " = 3 already current: eda3, eda7, eda11\n" in text
    assert " = 1 already current: eta2\n" in text
    assert text.count("already current:") == 2


def test_a_long_list_of_skips_names_what_fits_and_counts_the_rest() -> None:
    """Hundreds of skipped appliances stay one line: the names that fit, then `and N more`."""
    plan = fleet40()
    discover = plan.waves[1]
    many = tuple(
        discover.appliances[0].model_copy(
            update={
                "name": f"eda-{n:03d}.dc1.example.net",
                "action": Action.SKIP,
                "reason": "current",
            }
        )
        for n in range(300)
    )
    waves = (plan.waves[0], discover.model_copy(update={"appliances": many}), *plan.waves[2:])
    text = table_text(plan.model_copy(update={"waves": waves}), width=80)
    (line,) = [line for line in text.splitlines() if line.startswith(" = 300 ")]
    assert line.startswith(" = 300 already current: eda-000.dc1.example.net")
    assert re.search(r" and 29\d more$", line.rstrip())
    assert len(line.rstrip()) <= 80


def test_at_160_columns_every_appliance_is_one_line_with_its_whole_hash() -> None:
    """At 160 columns the width is used: a row per appliance, the 12-digit hash unbroken."""
    text = table_text(fleet40(), width=160)
    rows = [line for line in text.splitlines() if re.match(r"^ [+!] ", line)]
    assert len(rows) == 36
    assert all("sha256 8655c2710085" in line for line in rows)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 160
    # 96 before (every hash wrapped at the 100-column cap), besides the schedule's lines
    schedule = sum(-(-len(line) // 150) for line in schedule_lines(fleet40()))  # as wrapped
    assert len(text.splitlines()) < 70 + schedule


def test_a_hash_is_shortened_rather_than_wrapped() -> None:
    """Where the 12-digit hash would not fit on the row, 8 digits do, and the row stays one line."""
    plan = fleet40()
    rows = {}
    for width in range(100, 140):
        text = table_text(plan, width=width)
        eda1 = [line for line in text.splitlines() if line.startswith(" + eda1 ")]
        rows[width] = eda1[0]
        assert re.search(r"sha256 8655c271(0085)?\b", eda1[0]), (width, eda1)
    assert "sha256 8655c271 " in " ".join(rows.values())  # some widths needed the short one


@pytest.mark.parametrize("width", [80, 160])
def test_no_hash_is_ever_split_across_lines(width: int) -> None:
    """At 80 and at 160 columns, a hash is whole on one line, never broken between two."""
    text = table_text(fleet40(), width=width)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    for line in text.splitlines():
        digits = re.findall(r"sha256 ([0-9a-f]+)", line)
        assert all(len(found) in {8, 12} for found in digits), line
    assert text.count("sha256 8655c271") == 36  # one per appliance to upgrade, each whole


def test_a_plan_refused_by_vendor_rules_counts_them_to_its_last_line() -> None:
    """A plan refused for a broken vendor rule says so at the end, never `0 refused`."""
    plan = fleet40().model_copy(
        update={
            "refusals": ("Discover eda1 would run 9.9.1.100 but trace eta1 would run 9.9.1.101",)
        }
    )
    lines = [line.rstrip() for line in table_text(plan).splitlines() if line.strip()]
    assert lines[0].startswith("Upgrade plan: REFUSED: 1 refusal;")
    assert "1 vendor rule broken" in lines[1]
    assert lines[-1] == (
        "Upgrade plan: REFUSED: 1 refusal; apply will not run this plan until they are resolved"
    )
    assert "0 refused" not in "\n".join(lines)


def test_markdown_folds_skips_and_counts_refusals() -> None:
    """The Markdown folds each wave's skips into one line and counts refusals in its status."""
    text = to_markdown(fleet40())
    assert "\n= 3 already current: eda3, eda7, eda11\n" in text
    assert "| = |" not in text
    refused = to_markdown(make_plan())
    assert "**Status:** REFUSED: 2 refusals;" in refused
