"""The HTML report and the plan's picture, opened in a real browser: the timeline is drawn.

Headless Chromium (Debian's `chromium`; `.ci/run` installs it) loads each page from disk,
builds its DOM and takes a screenshot; the firmware jobs' orange must be on it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from browser import count_colour, dump_dom, screenshot
from htmlcheck import read_page
from simproc import orchestrator

if TYPE_CHECKING:
    from pathlib import Path

    from simproc import Sim

pytestmark = pytest.mark.slow

JOB_ORANGE = (0xF2, 0x8E, 0x2B)  # svg .seg.job in templates/style.css.j2


def assert_drawn(page: Path, rows: list[str], tmp_path: Path) -> None:
    """The browser's DOM holds the SVG timeline with `rows`; its screenshot shows the jobs."""
    dom = dump_dom(page)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="timeline-chart"' in dom
    built = read_page(dom)
    assert built.rows == rows
    assert sum(len(segments) for segments in built.segments.values()) > 0
    png = tmp_path / f"{page.stem}.png"
    screenshot(page, png, width=1300, height=1100)
    assert count_colour(png, JOB_ORANGE) > 500, "no firmware job drawn"


def test_the_run_report_and_the_plan_render_their_timelines_in_chromium(
    sim: Sim, state_home: Path, tmp_path: Path
) -> None:
    """`plan --out` and a run's report.html both draw their timeline in headless Chromium."""
    planned = orchestrator("plan", str(sim.inventory), "--out", "plan.json", cwd=sim.dir)
    assert planned.returncode == 0, planned.stderr
    names = ["eca1", "eda1", "exa-m1", "exa-d1", "eta1"]
    assert_drawn(sim.dir / "plan.html", [*names, "ingest exa"], tmp_path)
    applied = orchestrator("apply", "--plan", "plan.json", "--yes", cwd=sim.dir)
    assert applied.returncode == 0, applied.stderr[-2000:]
    (folder,) = (state_home / "orchestrator" / "runs").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert [a["name"] for a in report["appliances"]] == names
    assert_drawn(folder / "report.html", [*names, "ingest exa"], tmp_path)
