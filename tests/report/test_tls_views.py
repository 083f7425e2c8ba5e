"""How each appliance is verified (CA, pin, none, http), in the plan, its file and the report."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from pydantic import SecretStr
from rich.console import Console

from orchestrator.core.config import Settings
from orchestrator.core.models import (
    Appliance,
    ApplianceResult,
    CloudFirmware,
    Facts,
    Inventory,
    Outcome,
    Role,
    RunReport,
)
from orchestrator.core.tls import TlsCheck
from orchestrator.plan import Plan, build_plan
from orchestrator.plan.file import load_plan, plan_differences, save_plan
from orchestrator.report.document import to_json, to_markdown
from orchestrator.report.planview import render_table, tls_lines
from orchestrator.report.planview import to_markdown as plan_markdown

if TYPE_CHECKING:
    from pathlib import Path

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
PIN = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def box(name: str, url: str, **fields: object) -> Appliance:
    return Appliance.model_validate(
        {
            "name": name,
            "url": url,
            "role": Role.DISCOVER,
            "firmware": CloudFirmware(cloud_version="9.9.1.100"),
            "api_key": SecretStr("key"),
        }
        | fields
    )


def fleet(pin: str = PIN) -> list[Appliance]:
    return [
        box("eda1", "https://eda1.example.net"),
        box("eda2", "https://eda2.example.net", ca_bundle=None),
        box("eda3", "https://eda3.example.net", verify_tls=False, pin=pin),
        box("eda4", "https://eda4.example.net", verify_tls=False),
        box("sim1", "http://127.0.0.1:8001"),
    ]


def make_plan(appliances: list[Appliance]) -> Plan:
    facts = {a.name: Facts(name=a.name, version="9.8.0.100", role=a.role) for a in appliances}
    inventory = Inventory(source="fleet.yaml", sha256="f" * 64, appliances=tuple(appliances))
    return build_plan(inventory, facts, {}, Settings(), now=NOW)


def test_each_planned_appliance_records_how_it_is_verified() -> None:
    """The plan's lines carry tls (ca, pin, none, http) and the pin itself."""
    plan = make_plan(fleet())
    recorded = {line.name: (line.tls, line.pin) for line in plan.appliances()}
    assert recorded == {
        "eda1": (TlsCheck.CA, None),
        "eda2": (TlsCheck.CA, None),
        "eda3": (TlsCheck.PIN, PIN),
        "eda4": (TlsCheck.NONE, None),
        "sim1": (TlsCheck.HTTP, None),
    }


def test_the_plan_shows_each_appliance_under_its_check() -> None:
    """The plan's TLS section groups appliances by check, with each pin written out."""
    plan = make_plan(fleet())
    assert tls_lines(plan) == [
        "verified by CA: eda1, eda2",
        f"verified by pin: eda3 {PIN}",
        "NOT verified (verify_tls: false): eda4",
        "no TLS (http://): sim1",
    ]
    console = Console(record=True, width=100, color_system=None)
    console.print(render_table(plan))
    assert "\nTLS\n" in console.export_text()
    assert "## TLS\n\n- verified by CA: eda1, eda2\n" in plan_markdown(plan)


def test_the_plan_file_keeps_the_checks(tmp_path: Path) -> None:
    """A saved plan reads back with its tls and pin fields."""
    plan = make_plan(fleet())
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan


def test_a_plan_file_from_before_the_tls_fields_still_applies(tmp_path: Path) -> None:
    """A schema 1 plan without tls or pin loads and matches the plan rebuilt now."""
    plan = make_plan(fleet())
    data = json.loads(plan.model_dump_json())
    for wave in data["waves"]:
        for line in wave["appliances"]:
            del line["tls"], line["pin"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = load_plan(tmp_path / "old.json")
    assert {line.tls for line in old.appliances()} == {None}
    assert plan_differences(old, plan) == []
    assert tls_lines(old) == ["not recorded: eda1, eda2, eda3, eda4, sim1"]


def test_a_changed_pin_since_the_plan_is_a_difference() -> None:
    """Re-pinned between plan and apply: the saved plan no longer matches."""
    saved, now = make_plan(fleet()), make_plan(fleet(pin=OTHER))
    assert plan_differences(saved, now) == [
        f"eda3: TLS check pin {PIN} in the file, pin {OTHER} now"
    ]


def report(*checks: TlsCheck | None) -> RunReport:
    results = tuple(
        ApplianceResult(name=f"eda{i}", outcome=Outcome.DONE, tls=check)
        for i, check in enumerate(checks, start=1)
    )
    return RunReport(run_id="r1", started_at=NOW, finished_at=NOW, exit_code=0, results=results)


def test_the_run_report_says_how_each_appliance_was_verified() -> None:
    """The JSON report has `tls` per appliance; the Markdown a TLS section."""
    run = report(TlsCheck.CA, TlsCheck.PIN, TlsCheck.CA)
    assert [a["tls"] for a in json.loads(to_json(run))["appliances"]] == ["ca", "pin", "ca"]
    assert "## TLS\n\n- verified by CA: eda1, eda3\n- verified by pin: eda2\n" in to_markdown(run)


def test_a_report_without_checks_has_no_tls_section() -> None:
    """A report rebuilt from a run older than the field says nothing about TLS."""
    run = report(None, None)
    assert "## TLS" not in to_markdown(run)
    assert [a["tls"] for a in json.loads(to_json(run))["appliances"]] == [None, None]
