"""The plan as a picture: `plan --format html`, and the page `plan --out` writes beside the JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.cli.args import UsageError
from orchestrator.report.document import write_page
from orchestrator.report.html import plan_page

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.plan import Plan

__all__ = ["check_out", "plan_page", "save_plan_page"]


def check_out(out: Path | None) -> None:
    """Refuse, before the fleet is read, an --out the plan's picture would overwrite."""
    if out is not None and out.suffix.lower() == ".html":
        raise UsageError(
            f"--out {out}: give the plan's JSON file (plan.json); "
            "its picture is written beside it (plan.html)"
        )


def save_plan_page(plan: Plan, out: Path) -> Path:
    """Write the plan's page beside its JSON (`plan.json` -> `plan.html`); the page's path."""
    return write_page(out.with_suffix(".html"), plan_page(plan), "the plan's picture")
