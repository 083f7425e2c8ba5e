"""The words every form of a run report shares: status, outcomes, the summary, ingest sentences.

The terminal table, the JSON, the Markdown, the HTML page, `status` and `history` all say a
run's state in these words, so they never drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.core.models import IngestVerb, Outcome
from orchestrator.core.text import format_duration
from orchestrator.report.ingeststate import cluster_ingest, ingest_by_cluster, ingest_left_disabled

if TYPE_CHECKING:
    from orchestrator.core.models import ApplianceResult, IngestAction, RunReport

__all__ = [
    "FOUND_OFF_WORDS",
    "GATE_ANSWERS",
    "OUTCOME_STYLES",
    "PROBLEM_OUTCOMES",
    "STATUS_STYLES",
    "SUMMARY_ORDER",
    "cluster_ingest",
    "ingest_by_cluster",
    "ingest_left_disabled",
    "ingest_sentence",
    "one_line_summary",
    "own_error",
    "run_status",
    "summary_line",
    "time_spent",
    "truncate",
]

_STATUS_BY_EXIT_CODE = {0: "succeeded", 1: "failed", 3: "incomplete"}

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "red",
    "incomplete": "yellow",
    "closed": "yellow",
    "running": "cyan",
}

OUTCOME_STYLES = {
    Outcome.DONE: "green",
    Outcome.SKIPPED: "dim",
    Outcome.FAILED: "bold red",
    Outcome.BLOCKED: "red",
    Outcome.DEFERRED: "yellow",
    Outcome.CANCELLED: "yellow",
}

# Outcomes that deserve an explanation: the "Problems" sections.
PROBLEM_OUTCOMES = (Outcome.FAILED, Outcome.BLOCKED, Outcome.DEFERRED, Outcome.CANCELLED)

# Order of the summary line: successes first, then what needs attention.
SUMMARY_ORDER = tuple(OUTCOME_STYLES)


def run_status(exit_code: int) -> str:
    """The run's status word for an exit code: succeeded (0), incomplete (3), else failed."""
    return _STATUS_BY_EXIT_CODE.get(exit_code, "failed")


def _counts_text(report: RunReport) -> str:
    """`8 done, 1 skipped, 1 failed, 2 blocked` (`no appliances` for an empty run)."""
    present = {result.outcome for result in report.results}
    order = SUMMARY_ORDER + tuple(o for o in Outcome if o not in SUMMARY_ORDER and o in present)
    parts = [f"{report.count(o)} {o.value}" for o in order if report.count(o)]
    return ", ".join(parts) if parts else "no appliances"


def summary_line(report: RunReport, *, going: bool = False) -> str:
    """`8 done, 1 skipped, 1 failed, 2 blocked — exit 1` (`— going on now` for a live run)."""
    dry = " (dry run)" if report.dry_run else ""
    end = "going on now" if going else f"exit {report.exit_code}"
    return f"{_counts_text(report)} — {end}{dry}"


def one_line_summary(report: RunReport, *, going: bool = False) -> str:
    """The run in one line, for a chat message or a ticket's title.

    `run 3e919097 failed in 47m 05s: 1 done, 1 failed, 3 blocked; ingest on exa still disabled`
    """
    status = "going on" if going else run_status(report.exit_code)
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    timing = f"for {duration} so far" if going else f"in {duration}"
    line = f"run {report.run_id[:8]} {status} {timing}: {_counts_text(report)}"
    left = [c.cluster for c in cluster_ingest(report) if c.state == "disabled"]
    if left and not going:
        line += f"; ingest on {', '.join(left)} still disabled"
    return line


_INGEST_WORDS = {
    IngestVerb.HALT_REQUESTED: "halt requested",
    IngestVerb.HALTED: "halted",
    IngestVerb.HALT_FAILED: "halt failed (ingest unchanged)",
    IngestVerb.RESTORED: "restored",
    IngestVerb.LEFT_OFF: "left off (it was already disabled)",
    IngestVerb.RESTORE_FAILED: "restore FAILED",
}
# How each gate was answered, in words (`GateRecord.answer`).
GATE_ANSWERS = {
    "continue": "released",
    "stop": "stopped",
    "window": "the window closed while it waited",
}

FOUND_OFF_WORDS = {
    "keep": "found disabled; kept off as chosen (--ingest-found-off keep)",
    "enable": "found disabled; enabled after the upgrade as chosen (--ingest-found-off enable)",
}


def _ingest_phrase(action: IngestAction, previous: IngestAction | None) -> str:
    """`halted via exa-m1`, `restored`, `restore failed via exa-m2: refused`."""
    words = _INGEST_WORDS[action.action]
    if previous is None or previous.via != action.via:
        words += f" via {action.via}"
    if action.error:
        words += f": {action.error}"
    return words


def ingest_sentence(
    cluster: str, actions: list[IngestAction], choice: str | None = None, off: str | None = None
) -> str:
    """`ingest on exa: halted via exa-m1, restored (off 34m 00s)`.

    With the operator's choice for ingest found off, if any, and how long it was off (`off`).
    """
    previous: list[IngestAction | None] = [None, *actions[:-1]]
    phrases = [_ingest_phrase(a, p) for a, p in zip(actions, previous, strict=True)]
    if choice in FOUND_OFF_WORDS:
        phrases.insert(0, FOUND_OFF_WORDS[choice])
    sentence = f"ingest on {cluster}: " + ", ".join(phrases)
    if off is not None:
        sentence += f" (off {off})"
    if ingest_left_disabled(actions):
        sentence += " — INGEST IS STILL DISABLED: orchestrator restore-ingest re-enables it"
    return sentence


def time_spent(result: ApplianceResult) -> float | None:
    """Seconds spent on the appliance; None for one the run never worked on (blocked early)."""
    untouched = result.outcome in {Outcome.BLOCKED, Outcome.DEFERRED, Outcome.CANCELLED}
    return None if untouched and not result.steps else result.duration


def own_error(result: ApplianceResult) -> str:
    """The result's error without the `name: ` prefix ApplianceError puts in front of it."""
    error = result.error or ""
    return error.removeprefix(f"{result.name}: ")


def truncate(text: str, width: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `width` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"
