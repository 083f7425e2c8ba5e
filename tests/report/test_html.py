"""The HTML report of a run and the plan's picture: self-contained pages with a timeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from htmlcheck import assert_self_contained, read_page
from pydantic import SecretStr

from orchestrator.core.config import Settings
from orchestrator.core.models import (
    Appliance,
    ApplianceResult,
    CloudFirmware,
    Facts,
    FileFirmware,
    IngestAction,
    IngestVerb,
    Inventory,
    NodeKind,
    Outcome,
    Role,
    RunOrigin,
    RunReport,
    StepSpan,
)
from orchestrator.core.text import format_duration
from orchestrator.plan import Action, ImageInfo, Plan, build_plan
from orchestrator.plan.file import plan_sha256
from orchestrator.report.html import plan_page, run_page
from orchestrator.report.plantimeline import projected

T0 = dt.datetime(2025, 3, 1, 22, 0, tzinfo=dt.UTC)
OLD, NEW = "9.8.2.1784", "9.9.1.100"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def steps(start: float, *lengths: tuple[str, float], last: str = "done") -> tuple[StepSpan, ...]:
    """Steps one after another from `start` minutes; the last one ends `last`."""
    spans, moment = [], start
    for i, (name, minutes) in enumerate(lengths):
        result = last if i == len(lengths) - 1 else "done"
        end = None if result == "open" else at(moment + minutes)
        spans.append(StepSpan(step=name, started_at=at(moment), finished_at=end, result=result))
        moment += minutes
    return tuple(spans)


FULL = (("upload", 1), ("job", 3), ("reboot", 2), ("verify", 0.02))


def result(name: str, outcome: Outcome, wave: str, **fields: object) -> ApplianceResult:
    base: dict[str, object] = {
        "name": name,
        "role": Role.DISCOVER,
        "wave": wave,
        "outcome": outcome,
        "version_before": OLD,
        "target_version": NEW,
    }
    return ApplianceResult.model_validate(base | fields)


def make_report(*, restored: bool = True, window_minutes: float | None = 40) -> RunReport:
    results = (
        result(
            "eca1",
            Outcome.DONE,
            "command",
            steps=steps(0, *FULL),
            started_at=at(0),
            finished_at=at(6.02),
            version_after=NEW,
            job_id="41",
        ),
        result("eda1", Outcome.SKIPPED, "discover", started_at=at(6.1), finished_at=at(6.1)),
        result(
            "eda2",
            Outcome.FAILED,
            "discover",
            steps=steps(6.1, ("upload", 1), ("job", 2), last="failed"),
            started_at=at(6.1),
            finished_at=at(9.1),
            job_id="17",
            error="eda2: job 17 ended FAILED: signature verification failed",
        ),
        result(
            "exa-m1",
            Outcome.DONE,
            "explore-managers",
            cluster="exa",
            role=Role.EXPLORE,
            steps=steps(9.5, *FULL),
            started_at=at(9.5),
            finished_at=at(15.52),
        ),
        result(
            "exa-d1",
            Outcome.BLOCKED,
            "explore-data",
            cluster="exa",
            role=Role.EXPLORE,
            error="wave discover did not finish: eda2",
            started_at=at(16),
            finished_at=at(16),
        ),
    )
    ingest = [
        IngestAction(cluster="exa", via="exa-m1", action=IngestVerb.HALT_REQUESTED, at=at(9.4)),
        IngestAction(cluster="exa", via="exa-m1", action=IngestVerb.HALTED, at=at(9.4)),
    ]
    if restored:
        ingest.append(
            IngestAction(cluster="exa", via="exa-m1", action=IngestVerb.RESTORED, at=at(16))
        )
    return RunReport(
        run_id="3e9190974e084b6cb26a173392d7d0d8",
        started_at=T0,
        finished_at=at(16.1),
        exit_code=1,
        results=results,
        ingest=tuple(ingest),
        window_end=at(window_minutes) if window_minutes is not None else None,
        origin=RunOrigin(
            tool_version="0.2.0", host="jump1", user="ops", inventory="fleet.yaml",
            inventory_sha256="a" * 64, plan_sha256="b" * 64,
        ),
    )  # fmt: skip


def test_the_run_page_parses_with_one_row_per_appliance_and_one_per_cluster() -> None:
    """One timeline row per appliance, in the report's order, then each Explore cluster's."""
    page = read_page(run_page(make_report()))
    assert page.rows == ["eca1", "eda1", "eda2", "exa-m1", "exa-d1", "ingest exa"]


def test_every_step_the_run_took_is_one_segment_of_its_kind() -> None:
    """Each journalled step is one coloured segment; the step it failed in is marked failed."""
    report = make_report()
    page = read_page(run_page(report))
    for r in report.results:
        assert [s.split()[0] for s in page.segments[r.name]] == [s.step for s in r.steps]
    assert page.segments["eda2"] == ["upload done", "job failed"]
    assert page.segments["ingest exa"] == ["ingest-off done"]


def test_the_page_shows_the_problems_before_the_timeline_and_the_stages_and_window() -> None:
    """Problems come first; stage boundaries for the waves that began; the window end marked."""
    text = run_page(make_report())
    page = read_page(text)
    assert text.index(">Problems<") < text.index(">Timeline<") < text.index(">Appliances<")
    assert "eda2 failed (job 17): job 17 ended FAILED: signature verification failed" in page.text
    assert page.marks == ["stage", "stage", "stage", "window"]  # exa-d1's wave never began
    assert "window ends" in page.text
    assert "ops@jump1 with orchestrator 0.2.0" in page.text
    assert len(page.with_class("rect", "shade")) == 2  # exa's nodes' rows, while ingest was off


def test_ingest_left_disabled_is_a_problem_and_a_red_segment_to_the_end() -> None:
    """A cluster never re-enabled: first among the problems, its span red and open."""
    page = read_page(run_page(make_report(restored=False)))
    assert "Ingest on exa is still disabled" in page.text
    assert "orchestrator restore-ingest fleet.yaml --cluster exa" in page.text
    assert page.segments["ingest exa"] == ["ingest-disabled open"]
    assert "still disabled" in page.text


def test_a_window_far_after_the_run_is_named_not_drawn() -> None:
    """A window hours after a run of minutes stays off the scale, said in words."""
    page = read_page(run_page(make_report(window_minutes=600)))
    assert "window" not in page.marks
    assert "(beyond this scale)" in page.text


def test_names_and_errors_are_escaped_and_the_page_loads_nothing() -> None:
    """An appliance name or error with markup is shown as text, never run; nothing is fetched."""
    report = make_report()
    evil = report.results[2].model_copy(
        update={"name": "<img src=x onerror=alert(1)>", "error": "</script><b>&</b>"}
    )
    text = run_page(report.model_copy(update={"results": (*report.results[:2], evil)}))
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert_self_contained(text)
    assert_self_contained(run_page(make_report()))


def test_a_step_a_killed_run_left_open_reaches_the_end_of_the_report() -> None:
    """A step with no recorded end (killed in it) is drawn open, to the report's end."""
    report = make_report()
    killed = report.results[3].model_copy(
        update={"steps": steps(9.5, ("upload", 1), ("job", 3), last="open")}
    )
    report = report.model_copy(update={"results": (*report.results[:3], killed)})
    page = read_page(run_page(report))
    assert page.segments["exa-m1"][-1] == "job open"
    drawn = [a for a in page.with_class("rect", "seg") if "data-step" in a]  # not the legend
    (job,) = [a for a in drawn if a["class"].split()[1:] == ["job", "open"]]
    picture_right = max(float(a["x"]) + float(a["width"]) for a in drawn)
    assert float(job["x"]) + float(job["width"]) == pytest.approx(picture_right)
    assert "no end recorded" in page.text


# --- the plan's picture ------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
IMAGE = ImageInfo(path="images/eda.tar", size=2_000_000_000, sha256="c0ffee" * 10 + "abcd")


def box(name: str, role: Role, node: NodeKind | None = None, *, upload: bool = False) -> Appliance:
    firmware = FileFirmware(file=Path(IMAGE.path), version=NEW) if upload else None
    return Appliance(
        name=name,
        url=f"https://{name}.example.net",
        role=role,
        cluster="exa" if node else None,
        node=node,
        firmware=firmware or CloudFirmware(cloud_version=NEW),
        api_key=SecretStr("key-that-must-never-show"),
    )


FLEET = (
    box("eca1", Role.COMMAND),
    box("eda1", Role.DISCOVER, upload=True),
    box("eda2", Role.DISCOVER, upload=True),
    box("eda3", Role.DISCOVER),
    box("exa-m1", Role.EXPLORE, NodeKind.MANAGER),
    box("exa-d1", Role.EXPLORE, NodeKind.DATA),
    box("eta1", Role.TRACE),
)


def make_plan(**settings: object) -> Plan:
    facts = {
        a.name: Facts(
            name=a.name,
            version=NEW if a.name == "eda3" else OLD,
            role=a.role,
            ingest_enabled=True if a.role is Role.EXPLORE else None,
        )
        for a in FLEET
    }
    inventory = Inventory(source="fleet.yaml", sha256="f" * 64, appliances=FLEET)
    options = Settings.model_validate({"concurrency": 2} | settings)
    return build_plan(inventory, facts, {IMAGE.path: IMAGE}, options, now=NOW)


def test_the_plan_page_has_a_row_per_appliance_and_a_segment_per_estimated_step() -> None:
    """Upload (or download), job and restart per appliance to upgrade; none for one to skip."""
    plan = make_plan()
    page = read_page(plan_page(plan))
    assert page.rows == [a.name for a in plan.appliances()] + ["ingest exa"]
    assert page.segments["eda1"] == ["upload planned", "job planned", "reboot planned"]
    assert page.segments["eca1"] == ["download planned", "job planned", "reboot planned"]
    assert page.segments["eda3"] == []  # already at the target
    assert page.segments["ingest exa"] == ["ingest-off planned"]
    assert page.marks == ["stage"] * 5
    assert plan_sha256(plan) in page.text
    assert_self_contained(plan_page(plan))
    assert "key-that-must-never-show" not in plan_page(plan)


def test_a_graph_projection_keeps_the_vendor_order_and_ends_at_the_estimate() -> None:
    """Nothing starts before what it waits for would end; the last end is the plan's estimate."""
    plan = make_plan()
    lines = {p.line.name: p for p in projected(plan)}
    ends = [p.end for p in lines.values() if p.steps]
    assert max(ends) == pytest.approx(plan.estimate)
    for stage in plan.stages:
        for name in stage.members:
            if lines[name].steps:
                start = lines[name].steps[0][1]
                assert all(lines[before].end <= start for before in plan.waits_for(stage))
    trace, data = lines["eta1"], lines["exa-d1"]
    assert not trace.steps or trace.steps[0][1] < data.end  # Trace does not wait for Explore


@pytest.mark.parametrize("schedule", ["graph", "waves"])
def test_each_stage_heading_says_when_its_first_appliance_would_start(schedule: str) -> None:
    """`~length, from +start`: in a graph plan Trace's start is not the sum of the stages before."""
    plan = make_plan(schedule=schedule)
    lines = {p.line.name: p for p in projected(plan)}
    text = plan_page(plan)
    for wave in plan.waves:
        starts = [lines[a.name].steps[0][1] for a in wave.appliances if lines[a.name].steps]
        if starts:
            heading = f'{wave.kind} <span class="aside">~{format_duration(wave.estimate)}'
            assert f"{heading}, from +{format_duration(min(starts))}</span>" in text


def test_the_projection_agrees_with_the_plan_s_estimate_and_waves() -> None:
    """Each wave starts when the one before is estimated to end; the last ends at the estimate."""
    plan = make_plan(schedule="waves")
    lines = {p.line.name: p for p in projected(plan)}
    offset = 0.0
    for wave in plan.waves:
        ends = [lines[a.name].end for a in wave.appliances if lines[a.name].steps]
        starts = [lines[a.name].steps[0][1] for a in wave.appliances if lines[a.name].steps]
        if ends:
            assert min(starts) == pytest.approx(offset)
            assert max(ends) == pytest.approx(offset + wave.estimate)
        offset += wave.estimate
    assert offset == pytest.approx(plan.estimate)


def test_a_window_too_short_marks_its_end_and_defers_what_the_plan_defers() -> None:
    """Appliances the plan defers get no segment and say why; the window end is drawn."""
    plan = make_plan(window_end=NOW + dt.timedelta(minutes=50))
    deferred = [a.name for a in plan.appliances() if a.actionable and not a.fits_window]
    assert deferred
    page = read_page(plan_page(plan))
    assert "window" in page.marks
    for name in deferred:
        assert page.segments[name] == []
    assert "would overrun the window" in page.text
    assert "short)" in page.text  # the estimate does not fit: by how much


def test_refusals_are_listed_first_in_red() -> None:
    """A refused plan says so at the top and lists every refusal before the picture."""
    plan = make_plan(allow_downgrade=False)
    eta = plan.by_name("eta1").model_copy(update={"action": Action.REFUSED, "reason": "HTTP 401"})
    waves = tuple(
        w.model_copy(
            update={"appliances": tuple(eta if a.name == "eta1" else a for a in w.appliances)}
        )
        for w in plan.waves
    )
    text = plan_page(plan.model_copy(update={"waves": waves}))
    page = read_page(text)
    assert text.index(">Refusals<") < text.index(">Projected timeline<")
    assert "eta1: HTTP 401" in page.text
    assert "refused" in page.text
