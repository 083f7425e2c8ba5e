"""The plan's batches and gates in every form of the plan: terminal, Markdown, HTML, JSON."""

from __future__ import annotations

import json

from report.test_planview import make_plan, table_text

from orchestrator.cli.confirm import summary_lines
from orchestrator.report.html import plan_page
from orchestrator.report.planview import to_json, to_markdown

SIZES = "batches: 1,50%; pause after each batch: the run waits for `orchestrator continue RUN`"


def test_the_table_shows_each_stages_batches_within_80_columns() -> None:
    """The terminal plan lists the sizes, the gates and each stage's batches, 80 columns wide."""
    text = table_text(make_plan(batches="1,50%", pause_after="batch"), width=80)
    section = text[text.index("Batches and gates") :].splitlines()
    joined = " ".join(" ".join(line.split()) for line in section)
    assert SIZES in joined
    assert "discover: 2 batches: eda1; eda2" in joined
    assert all(len(line) <= 80 for line in section)


def test_markdown_and_html_show_the_batches_and_the_gates() -> None:
    """The change ticket (Markdown) and the plan's page say the same as the terminal."""
    plan = make_plan(batches="1,50%", pause_after="stage")
    markdown = to_markdown(plan)
    assert "## Batches and gates" in markdown
    assert "pause after each stage" in markdown
    assert "discover: 2 batches: eda1; eda2" in markdown
    page = plan_page(plan)
    assert "<h2>Batches and gates</h2>" in page
    assert "discover: 2 batches: eda1; eda2" in page


def test_json_records_the_batches_apply_will_follow() -> None:
    """The saved plan holds the sizes, the gate setting and who is in each batch."""
    document = json.loads(to_json(make_plan(batches="1", pause_after="batch")))
    assert (document["batch_sizes"], document["pause_after"]) == ("1", "batch")
    discover = next(w for w in document["waves"] if w["kind"] == "discover")
    assert discover["batches"] == [["eda1"], ["eda2"]]


def test_a_plan_without_batches_or_gates_says_nothing_of_them() -> None:
    """Without --batches or --pause-after, no section: the plan reads as before."""
    plan = make_plan()
    assert "Batches and gates" not in table_text(plan)
    assert "Batches and gates" not in plan_page(plan)


def test_the_confirmation_says_the_batches_and_gates_before_asking() -> None:
    """What apply says before its question includes the sizes and the gates, in one line."""
    lines = summary_lines(make_plan(batches="1,50%", pause_after="stage"))
    assert lines[-1].startswith("batches: 1,50%; pause after each stage")
    assert not any("batches" in line for line in summary_lines(make_plan()))
