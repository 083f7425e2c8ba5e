"""The run report (orchestrator.report): terminal table, JSON, Markdown, webhook body, files."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import (
    FINAL_OUTCOMES,
    ApplianceResult,
    IngestAction,
    Outcome,
    Role,
    RunOrigin,
    RunReport,
    StepSpan,
)
from orchestrator.plan import Plan
from orchestrator.report.document import (
    SCHEMA_VERSION,
    copy_reports,
    format_duration,
    report_paths,
    run_status,
    started_payload,
    summary_payload,
    to_json,
    to_markdown,
    webhook_payload,
    write_reports,
)
from orchestrator.report.table import render_table

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import RenderableType

T0 = dt.datetime(2025, 3, 1, 22, 0, tzinfo=dt.UTC)
TARGET = "9.9.1.100"
OLD = "9.8.2.1784"
SIGNATURE_ERROR = (
    "eda2: job 17 ended FAILED: Firmware image signature verification failed; "
    "the image may be corrupt or built for another platform"
)


def at(minutes: int, seconds: int = 0) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes, seconds=seconds)


def result(name: str, outcome: Outcome, **fields: object) -> ApplianceResult:
    base: dict[str, object] = {
        "name": name,
        "role": Role.DISCOVER,
        "wave": "discover",
        "outcome": outcome,
        "version_before": OLD,
        "target_version": TARGET,
    }
    return ApplianceResult.model_validate(base | fields)


def make_report(
    results: tuple[ApplianceResult, ...] | None = None,
    ingest: tuple[IngestAction, ...] | None = None,
    exit_code: int = 1,
) -> RunReport:
    if results is None:
        results = (
            result(
                "eca1",
                Outcome.DONE,
                role=Role.COMMAND,
                wave="command",
                version_after=TARGET,
                job_id="41",
                started_at=at(0),
                finished_at=at(4, 12),
            ),
            result(
                "eda1",
                Outcome.SKIPPED,
                version_before=TARGET,
                version_after=TARGET,
                started_at=at(4, 12),
                finished_at=at(4, 13),
            ),
            result(
                "eda2",
                Outcome.FAILED,
                job_id="17",
                error=SIGNATURE_ERROR,
                started_at=at(4, 13),
                finished_at=at(11, 40),
            ),
            result(
                "exa-m1",
                Outcome.BLOCKED,
                role=Role.EXPLORE,
                wave="explore-managers",
                error="wave discover failed",
            ),
            result(
                "exa-d1",
                Outcome.DEFERRED,
                role=Role.EXPLORE,
                wave="explore-data",
                error="window closes at 23:00",
            ),
            result("eta1", Outcome.CANCELLED, role=Role.TRACE, wave="trace", error="interrupted"),
        )
    if ingest is None:
        ingest = (
            IngestAction(cluster="exa", via="exa-m1", action="halted", at=at(12)),
            IngestAction(cluster="exa", via="exa-m1", action="restored", at=at(46)),
        )
    return RunReport(
        run_id="run-42",
        started_at=T0,
        finished_at=at(47, 5),
        exit_code=exit_code,
        results=results,
        ingest=ingest,
    )


def render(renderable: RenderableType) -> str:
    console = Console(record=True, width=100, color_system="truecolor", force_terminal=True)
    console.print(renderable)
    return console.export_text()


def style_of(renderable: RenderableType, text: str) -> str:
    console = Console(width=100, color_system="truecolor", force_terminal=True)
    for segment in console.render(renderable):
        if segment.text.strip() == text and segment.style is not None:
            return str(segment.style)
    raise AssertionError(text)


# --- terminal table ---------------------------------------------------------------------------


def test_table_shows_every_appliance_and_the_summary() -> None:
    """The table names every appliance, its versions, and ends with the counts and exit code."""
    text = render(render_table(make_report()))
    for name in ("eca1", "eda1", "eda2", "exa-m1", "exa-d1", "eta1"):
        assert name in text
    assert f"{OLD} → {TARGET}" in text
    assert "4m 12s" in text
    assert "1 done, 1 skipped, 1 failed, 1 blocked, 1 deferred, 1 cancelled — exit 1" in text


def test_table_fits_in_100_columns() -> None:
    """No rendered line is wider than the 100-column console, long errors included."""
    text = render(render_table(make_report()))
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100


def test_table_spells_out_failures_under_the_table() -> None:
    """A failed appliance's error appears in full below the table, without the name prefix."""
    text = " ".join(render(render_table(make_report())).split())
    assert "eda2 failed: job 17 ended FAILED: Firmware image signature verification failed" in text
    assert "eda2: job 17" not in text


def test_table_lists_ingest_actions() -> None:
    """The ingest actions read as one sentence per cluster."""
    text = render(render_table(make_report()))
    assert "ingest on exa: halted via exa-m1, restored" in text


def test_table_warns_when_ingest_is_left_disabled() -> None:
    """A cluster whose restore failed is flagged with what to run next."""
    ingest = (
        IngestAction(cluster="exb", via="exb-m1", action="halted", at=at(1)),
        IngestAction(cluster="exb", via="exb-m2", action="restore_failed", at=at(2), error="503"),
    )
    text = " ".join(render(render_table(make_report(ingest=ingest))).split())
    assert "restore FAILED via exb-m2: 503" in text
    assert "INGEST IS STILL DISABLED" in text
    assert "orchestrator restore-ingest" in text


@pytest.mark.parametrize(
    ("outcome", "colour"),
    [
        pytest.param("done", "green", id="done"),
        pytest.param("skipped", "dim", id="skipped"),
        pytest.param("failed", "red", id="failed"),
        pytest.param("blocked", "red", id="blocked"),
        pytest.param("deferred", "yellow", id="deferred"),
        pytest.param("cancelled", "yellow", id="cancelled"),
    ],
)
def test_table_colours_outcomes(outcome: str, colour: str) -> None:
    """Each outcome is coloured: done green, skipped dim, failed/blocked red, others yellow."""
    assert colour in style_of(render_table(make_report()), outcome)


def test_table_does_not_interpret_markup_in_errors() -> None:
    """Names and errors are shown literally, never parsed as rich markup."""
    report = make_report(results=(result("eda[9]", Outcome.FAILED, error="bad [bold]tag[/]"),))
    text = render(render_table(report))
    assert "eda[9]" in text
    assert "bad [bold]tag[/]" in text


def test_brief_table_of_a_large_run_lists_only_what_needs_attention() -> None:
    """Above `brief_above` appliances, done and skipped rows give way to one line saying so."""
    fleet = [result(f"eda{i}", Outcome.DONE, version_after=TARGET) for i in range(60)]
    fleet += [result("eda-skip", Outcome.SKIPPED, version_after=TARGET)]
    fleet += [result("eda-bad", Outcome.FAILED, error="eda-bad: job 3 ended FAILED: disk full")]
    text = " ".join(render(render_table(make_report(results=tuple(fleet)), brief_above=50)).split())
    assert "eda-bad" in text
    assert "eda7 " not in text
    assert "eda-skip" not in text
    assert "61 of 62 appliances (done or skipped) not listed" in text
    assert "60 done, 1 skipped, 1 failed — exit 1" in text


def test_brief_table_of_a_small_run_lists_every_appliance() -> None:
    """At or below `brief_above` appliances the table is whole."""
    text = render(render_table(make_report(), brief_above=6))
    for name in ("eca1", "eda1", "eda2", "exa-m1", "exa-d1", "eta1"):
        assert name in text
    assert "not listed" not in text


def test_table_of_an_empty_run() -> None:
    """A run with no appliances still renders a summary."""
    text = render(render_table(make_report(results=(), ingest=(), exit_code=0)))
    assert "no appliances — exit 0" in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(None, "-", id="unknown"),
        pytest.param(0.4, "0s", id="sub-second"),
        pytest.param(12, "12s", id="seconds"),
        pytest.param(252, "4m 12s", id="minutes"),
        pytest.param(3840, "1h 04m", id="hours"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    """Durations read like `4m 12s`."""
    assert format_duration(seconds) == text


# --- JSON / webhook ---------------------------------------------------------------------------


def test_json_has_the_documented_schema() -> None:
    """The JSON document parses and carries every documented top-level field."""
    document = json.loads(to_json(make_report()))
    assert document["schema_version"] == SCHEMA_VERSION == 2
    assert document["run_id"] == "run-42"
    assert document["started_at"] == "2025-03-01T22:00:00+00:00"
    assert document["finished_at"] == "2025-03-01T22:47:05+00:00"
    assert document["duration_seconds"] == 2825.0
    assert document["exit_code"] == 1
    assert document["status"] == "failed"
    assert document["dry_run"] is False


@pytest.mark.parametrize("appliances", [None, ()], ids=["several", "none"])
def test_the_json_written_in_pieces_is_the_document_indented(
    appliances: tuple[ApplianceResult, ...] | None,
) -> None:
    """Appliances encoded one at a time: the same text as the whole document dumped at once."""
    report = make_report(results=appliances)
    whole = json.dumps(summary_payload(report), indent=2, ensure_ascii=False) + "\n"
    assert to_json(report) == whole


def test_json_counts_every_final_outcome() -> None:
    """Counts hold one entry per final outcome, here one of each."""
    counts = json.loads(to_json(make_report()))["counts"]
    assert counts == {outcome.value: 1 for outcome in FINAL_OUTCOMES}


def test_json_counts_include_zeros_and_unfinished_states() -> None:
    """Final outcomes that did not occur count 0; a non-final state that occurs is counted."""
    report = make_report(results=(result("eda1", Outcome.UPGRADING),), exit_code=3)
    counts = summary_payload(report)["counts"]
    assert counts["upgrading"] == 1
    assert counts["done"] == 0
    assert set(counts) == {o.value for o in FINAL_OUTCOMES} | {"upgrading"}


def test_json_appliance_fields() -> None:
    """Each appliance carries the documented fields, in run order."""
    appliances = json.loads(to_json(make_report()))["appliances"]
    assert [a["name"] for a in appliances] == ["eca1", "eda1", "eda2", "exa-m1", "exa-d1", "eta1"]
    assert appliances[2] == {
        "name": "eda2",
        "role": "discover",
        "wave": "discover",
        "cluster": None,
        "outcome": "failed",
        "version_before": OLD,
        "version_after": None,
        "target_version": TARGET,
        "duration_seconds": 447.0,
        "error": SIGNATURE_ERROR,
        "job_id": "17",
        "started_at": "2025-03-01T22:04:13+00:00",
        "finished_at": "2025-03-01T22:11:40+00:00",
        "steps": [],
        "tls": None,
    }


def test_json_ingest_fields() -> None:
    """Each ingest action carries cluster, via, action, time and error."""
    ingest = json.loads(to_json(make_report()))["ingest"]
    assert ingest[0] == {
        "cluster": "exa",
        "via": "exa-m1",
        "action": "halted",
        "at": "2025-03-01T22:12:00+00:00",
        "error": None,
    }


@pytest.mark.parametrize(
    ("exit_code", "status"),
    [
        pytest.param(0, "succeeded", id="0"),
        pytest.param(1, "failed", id="1"),
        pytest.param(3, "incomplete", id="3"),
    ],
)
def test_status_follows_the_exit_code(exit_code: int, status: str) -> None:
    """Exit code 0 is succeeded, 1 failed and 3 incomplete."""
    assert run_status(exit_code) == status
    assert summary_payload(make_report(exit_code=exit_code))["status"] == status


def test_webhook_payload_is_the_json_document() -> None:
    """The webhook's body is the dict the JSON file holds, plus `event: run.finished`."""
    report = make_report()
    assert summary_payload(report) == json.loads(to_json(report))
    assert webhook_payload(report) == {"event": "run.finished", **summary_payload(report)}


def test_json_has_each_step_with_its_times() -> None:
    """Schema 2: an appliance's steps, each with start, end, duration and how it ended."""
    upload = StepSpan(step="upload", started_at=at(0), finished_at=at(0, 40))
    job = StepSpan(step="job", started_at=at(0, 41), result="open")
    report = make_report(results=(result("eda1", Outcome.UPGRADING, steps=(upload, job)),))
    (appliance,) = summary_payload(report)["appliances"]
    assert appliance["steps"] == [
        {
            "step": "upload",
            "started_at": "2025-03-01T22:00:00+00:00",
            "finished_at": "2025-03-01T22:00:40+00:00",
            "duration_seconds": 40.0,
            "result": "done",
        },
        {
            "step": "job",
            "started_at": "2025-03-01T22:00:41+00:00",
            "finished_at": None,
            "duration_seconds": None,
            "result": "open",
        },
    ]


def test_json_says_where_the_run_came_from_and_sums_it_up_in_one_line() -> None:
    """Schema 2: `summary`, `origin` (every field, null when unknown), window, ingest state."""
    origin = RunOrigin(tool_version="0.2.0", host="jump1", user="ops", inventory="fleet.yaml")
    document = summary_payload(make_report().model_copy(update={"origin": origin}))
    assert document["summary"] == (
        "run run-42 failed in 47m 05s: "
        "1 done, 1 skipped, 1 failed, 1 blocked, 1 deferred, 1 cancelled"
    )
    assert document["origin"] == {
        "tool_version": "0.2.0",
        "host": "jump1",
        "user": "ops",
        "inventory": "fleet.yaml",
        "inventory_sha256": None,
        "plan_sha256": None,
        "plan_file": None,
        "plan_file_sha256": None,
        "rolls_back": None,
    }
    assert document["window_end"] is None
    assert document["ingest_state"] == [
        {
            "cluster": "exa",
            "state": "enabled",
            "off_seconds": 2040.0,
            "off": [{"from": "2025-03-01T22:12:00+00:00", "until": "2025-03-01T22:46:00+00:00"}],
        }
    ]


def test_the_summary_names_a_cluster_left_with_ingest_disabled() -> None:
    """A cluster never re-enabled is in the one-line summary and its state is `disabled`."""
    halted = (IngestAction(cluster="exa", via="exa-m1", action="halted", at=at(12)),)
    document = summary_payload(make_report(ingest=halted))
    assert document["summary"].endswith("; ingest on exa still disabled")
    assert document["ingest_state"][0]["state"] == "disabled"
    assert document["ingest_state"][0]["off"] == [
        {"from": "2025-03-01T22:12:00+00:00", "until": None}
    ]
    assert document["ingest_state"][0]["off_seconds"] == 35 * 60 + 5  # until the report's end


def test_the_start_notification_says_who_starts_what() -> None:
    """`--notify-start`: event run.started, a one-line summary, the origin and the estimate."""
    plan = Plan(
        created_at=T0,
        inventory_source="fleet.yaml",
        inventory_sha256="f" * 64,
        concurrency=4,
        waves=(),
        estimate=3900.0,
    )
    origin = RunOrigin(host="jump1", user="ops", tool_version="0.2.0")
    body = started_payload("3e9190974e084b6c", plan, origin, resumed=False)
    assert body["event"] == "run.started"
    assert body["summary"] == (
        "run 3e919097 started by ops@jump1: 0 of 0 appliances to upgrade, estimate 1h 05m"
    )
    assert body["origin"]["host"] == "jump1"
    assert body["estimate_seconds"] == 3900.0
    assert started_payload("3e9190974e084b6c", plan, origin, resumed=True)["event"] == (
        "run.resumed"
    )


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_heading_and_summary() -> None:
    """The Markdown opens with the status and the counts."""
    markdown = to_markdown(make_report())
    assert markdown.startswith("# Firmware upgrade run run-42: failed\n")
    assert "1 done, 1 skipped, 1 failed, 1 blocked, 1 deferred, 1 cancelled" in markdown


def test_a_rollback_names_the_run_it_undoes_in_every_form() -> None:
    """JSON, Markdown and the HTML page each say which run a rollback undoes."""
    from orchestrator.report.html import run_page  # noqa: PLC0415 - Jinja2, for this test

    undone = "3e919097" + "0" * 24
    report = make_report().model_copy(update={"origin": RunOrigin(rolls_back=undone)})
    assert json.loads(to_json(report))["origin"]["rolls_back"] == undone
    assert f"- **Rollback of run:** `{undone}`" in to_markdown(report)
    page = run_page(report)
    assert "Rollback of run" in page
    assert undone in page


def test_markdown_has_one_table_row_per_appliance() -> None:
    """Every appliance has a table row with its versions and outcome."""
    rows = [line for line in to_markdown(make_report()).splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 6  # header plus one row per appliance
    assert f"| eca1 | command | command | {OLD} | {TARGET} | {TARGET} | done | 4m 12s |" in rows
    assert any(row.startswith("| eda2 |") and "**failed**" in row for row in rows)


def test_markdown_lists_ingest_and_problems() -> None:
    """The ingest section and the problems with their full errors follow the table."""
    markdown = to_markdown(make_report())
    assert "## Explore ingest" in markdown
    assert "- exa: restored via exa-m1 at 2025-03-01T22:46:00+00:00" in markdown
    assert "## Problems" in markdown
    assert "- **eda2** failed (job 17): job 17 ended FAILED: Firmware image signature" in markdown
    assert "- **exa-m1** blocked: wave discover failed" in markdown


def test_markdown_escapes_table_breakers() -> None:
    """Pipes and newlines in values cannot break the table."""
    report = make_report(results=(result("eda|9", Outcome.FAILED, error="a|b\nc"),))
    markdown = to_markdown(report)
    assert "| eda\\|9 |" in markdown
    assert "a\\|b c" in markdown


def test_markdown_of_a_clean_run_has_no_problems_section() -> None:
    """A run where everything succeeded has neither a problems nor an ingest section."""
    report = make_report(results=(result("eda1", Outcome.DONE),), ingest=(), exit_code=0)
    markdown = to_markdown(report)
    assert "succeeded" in markdown
    assert "## Problems" not in markdown
    assert "## Explore ingest" not in markdown


# --- files ------------------------------------------------------------------------------------


def test_write_reports_writes_json_markdown_and_html(tmp_path: Path) -> None:
    """`--report out/run.json` writes run.json, run.md and run.html and returns the paths."""
    report = make_report()
    written = write_reports(report, tmp_path / "out" / "run.json")
    out = tmp_path / "out"
    assert written == [out / "run.json", out / "run.md", out / "run.html"]
    assert json.loads(written[0].read_text(encoding="utf-8")) == summary_payload(report)
    assert written[1].read_text(encoding="utf-8") == to_markdown(report)
    assert written[2].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == ["run.html", "run.json", "run.md"]
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in written)


def test_write_reports_overwrites_existing_files(tmp_path: Path) -> None:
    """A second write replaces the first report."""
    path = tmp_path / "run.json"
    path.write_text("old", encoding="utf-8")
    write_reports(make_report(), path)
    assert json.loads(path.read_text(encoding="utf-8"))["run_id"] == "run-42"


def test_a_second_place_gets_a_copy_of_the_reports_rendered_once(tmp_path: Path) -> None:
    """The run's folder and `--report` hold the same three files, each private to its owner."""
    written = write_reports(make_report(), tmp_path / "run" / "report.json")
    copies = copy_reports(written, tmp_path / "out" / "run.json")
    assert copies == list(report_paths(tmp_path / "out" / "run.json"))
    for source, copy in zip(written, copies, strict=True):
        assert copy.read_bytes() == source.read_bytes()
        assert copy.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("given", "json_name", "markdown_name", "html_name"),
    [
        pytest.param("run.json", "run.json", "run.md", "run.html", id="json"),
        pytest.param("run", "run", "run.md", "run.html", id="no-suffix"),
        pytest.param("run.md", "run.json", "run.md", "run.html", id="markdown"),
        pytest.param("run.html", "run.json", "run.md", "run.html", id="html"),
    ],
)
def test_report_paths(
    tmp_path: Path, given: str, json_name: str, markdown_name: str, html_name: str
) -> None:
    """The Markdown and the HTML go beside the JSON; a .md or .html path puts the JSON beside."""
    assert report_paths(tmp_path / given) == (
        tmp_path / json_name,
        tmp_path / markdown_name,
        tmp_path / html_name,
    )


def test_write_reports_unwritable_path_is_a_config_error(tmp_path: Path) -> None:
    """A report path under a regular file raises ConfigError naming the path, leaving no debris."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the report"):
        write_reports(make_report(), blocker / "run.json")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize("suffix", ["", ".dc1.corp.example.net"], ids=["short", "long-names"])
def test_table_fits_80_columns_with_whole_versions(suffix: str) -> None:
    """At 80 columns the role column goes, versions take two lines and long names fold."""
    results = tuple(r.model_copy(update={"name": r.name + suffix}) for r in make_report().results)
    console = Console(record=True, width=80, color_system=None, soft_wrap=True)
    console.print(render_table(make_report(results)))
    text = console.export_text()
    table = text.split(" failed: ")[0].splitlines()[1:]  # the title and the spelled-out failure
    assert max(len(line) for line in table) <= 80
    assert table[0].split() == ["appliance", "wave", "version", "outcome", "duration", "error"]
    assert text.count("9.8.2.1784 →") == len(results) - 1  # eda1 was skipped: one version
    assert text.count("9.9.1.100") == len(results)
    assert "".join(line.split()[0] for line in table[2:4] if line.strip()).startswith(
        results[0].name
    )


def test_table_keeps_one_line_per_appliance_when_wide_enough() -> None:
    """At 100 columns every appliance is one line, with its role and `before → after`."""
    text = render(render_table(make_report()))
    assert "appliance  role" in text
    assert "eca1       command   command           9.8.2.1784 → 9.9.1.100  done" in text
