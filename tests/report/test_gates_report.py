"""The gates a run waited at, in the report: JSON for scripts, Markdown for the change."""

from __future__ import annotations

import datetime as dt

from orchestrator.core.models import GateRecord, RunReport
from orchestrator.report.document import summary_payload
from orchestrator.report.html import run_page
from orchestrator.report.markdown import to_markdown

T0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)


def run_with_gates() -> RunReport:
    opened, answered = T0 + dt.timedelta(minutes=20), T0 + dt.timedelta(minutes=26)
    return RunReport(
        run_id="3e919097" + "0" * 24,
        started_at=T0,
        finished_at=T0 + dt.timedelta(hours=1),
        exit_code=3,
        results=(),
        gates=(
            GateRecord(
                gate="discover", opened_at=opened, answer="continue", by="ops@jump1",
                answered_at=answered,
            ),
            GateRecord(gate="trace", opened_at=answered, answer="window", answered_at=answered),
        ),
    )  # fmt: skip


def test_json_lists_each_gate_with_who_answered_and_when() -> None:
    """`gates` in the JSON report: the gate, when it opened, the answer, who and when."""
    gates = summary_payload(run_with_gates())["gates"]
    assert gates[0] == {
        "gate": "discover",
        "opened_at": "2026-11-24T01:20:00+00:00",
        "answer": "continue",
        "by": "ops@jump1",
        "answered_at": "2026-11-24T01:26:00+00:00",
    }
    assert (gates[1]["answer"], gates[1]["by"]) == ("window", None)


def test_markdown_has_a_gates_section_for_the_change_record() -> None:
    """The Markdown report says who released each gate, and which one the window closed."""
    text = to_markdown(run_with_gates())
    assert "## Gates" in text
    assert (
        "- before discover: released by ops@jump1 at 2026-11-24T01:26:00+00:00 "
        "(waiting since 2026-11-24T01:20:00+00:00)"
    ) in text
    assert "- before trace: the window closed while it waited at" in text


def test_the_html_report_has_a_row_per_gate_with_who_answered() -> None:
    """The HTML report's Gates table: the gate, the answer in words, who, and how long it waited."""
    page = run_page(run_with_gates())
    assert "<h2>Gates</h2>" in page
    row = page[page.index("<td>discover</td>") :].split("</tr>")[0]
    assert "<td>released</td><td>ops@jump1</td>" in row
    assert '<td class="num">6m 00s</td>' in row
    assert "<td>the window closed while it waited</td><td></td>" in page


def test_a_run_without_gates_has_no_gates_section() -> None:
    """No --pause-after: the Markdown report reads as before."""
    report = run_with_gates().model_copy(update={"gates": ()})
    assert "## Gates" not in to_markdown(report)
    assert "<h2>Gates</h2>" not in run_page(report)
    assert summary_payload(report)["gates"] == []
