"""Per-appliance results of a run as JSON, Markdown and a webhook body, and the words they share.

Nothing here prints: the functions return strings, and `write_reports` writes the JSON and
Markdown files atomically. The JSON schema is documented in docs/report.md. The terminal
table is `orchestrator.report.table`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from typing import TYPE_CHECKING, Any

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import (
    FINAL_OUTCOMES,
    MAY_BE_HALTED,
    ApplianceResult,
    IngestAction,
    IngestVerb,
    Outcome,
    RunReport,
)
from orchestrator.core.text import format_duration
from orchestrator.core.text import markdown as _md
from orchestrator.core.tls import group_by_check

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path


__all__ = [
    "OUTCOME_STYLES",
    "SCHEMA_VERSION",
    "STATUS_STYLES",
    "format_duration",
    "ingest_by_cluster",
    "ingest_left_disabled",
    "ingest_sentence",
    "own_error",
    "report_paths",
    "run_status",
    "summary_line",
    "summary_payload",
    "to_json",
    "to_markdown",
    "truncate",
    "write_reports",
]

SCHEMA_VERSION = 1

_STATUS_BY_EXIT_CODE = {0: "succeeded", 1: "failed", 3: "incomplete"}

STATUS_STYLES = {"succeeded": "green", "failed": "red", "incomplete": "yellow"}

OUTCOME_STYLES = {
    Outcome.DONE: "green",
    Outcome.SKIPPED: "dim",
    Outcome.FAILED: "bold red",
    Outcome.BLOCKED: "red",
    Outcome.DEFERRED: "yellow",
    Outcome.CANCELLED: "yellow",
}

# Outcomes that deserve an explanation in the Markdown "Problems" section.
_PROBLEM_OUTCOMES = (Outcome.FAILED, Outcome.BLOCKED, Outcome.DEFERRED, Outcome.CANCELLED)

# Order of the summary line: successes first, then what needs attention.
_SUMMARY_ORDER = tuple(OUTCOME_STYLES)


def run_status(exit_code: int) -> str:
    """The run's status word for an exit code: succeeded (0), incomplete (3), else failed."""
    return _STATUS_BY_EXIT_CODE.get(exit_code, "failed")


def _counts(report: RunReport) -> dict[str, int]:
    """Appliances per outcome: every final outcome (0 if none), plus any other that occurs."""
    present = {result.outcome for result in report.results}
    return {
        outcome.value: report.count(outcome)
        for outcome in Outcome
        if outcome in FINAL_OUTCOMES or outcome in present
    }


def summary_line(report: RunReport) -> str:
    """`8 done, 1 skipped, 1 failed, 2 blocked — exit 1`."""
    present = {result.outcome for result in report.results}
    order = _SUMMARY_ORDER + tuple(o for o in Outcome if o not in _SUMMARY_ORDER and o in present)
    parts = [f"{report.count(o)} {o.value}" for o in order if report.count(o)]
    counts = ", ".join(parts) if parts else "no appliances"
    dry = " (dry run)" if report.dry_run else ""
    return f"{counts} — exit {report.exit_code}{dry}"


def ingest_by_cluster(report: RunReport) -> dict[str, list[IngestAction]]:
    """The ingest actions grouped by cluster, each group in time order.

    A halt requested and then answered (halted, or failed) reads as its answer alone.
    """
    groups: dict[str, list[IngestAction]] = {}
    for action in sorted(report.ingest, key=lambda a: a.at):
        group = groups.setdefault(action.cluster, [])
        answered = action.action in {IngestVerb.HALTED, IngestVerb.HALT_FAILED}
        if answered and group and _bare_request(group[-1]):
            group.pop()
        group.append(action)
    return groups


def _bare_request(action: IngestAction) -> bool:
    return action.action is IngestVerb.HALT_REQUESTED and action.error is None


def ingest_left_disabled(actions: list[IngestAction]) -> bool:
    """Whether the run halted this cluster's ingest (or may have) and did not restore it."""
    decisive = [a for a in actions if a.action is not IngestVerb.LEFT_OFF]
    return bool(decisive) and decisive[-1].action in MAY_BE_HALTED


_INGEST_WORDS = {
    IngestVerb.HALT_REQUESTED: "halt requested",
    IngestVerb.HALTED: "halted",
    IngestVerb.HALT_FAILED: "halt failed (ingest unchanged)",
    IngestVerb.RESTORED: "restored",
    IngestVerb.LEFT_OFF: "left off (it was already disabled)",
    IngestVerb.RESTORE_FAILED: "restore FAILED",
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


def ingest_sentence(cluster: str, actions: list[IngestAction], choice: str | None = None) -> str:
    """`ingest on exa: halted via exa-m1, restored` (and the operator's choice, if any)."""
    previous: list[IngestAction | None] = [None, *actions[:-1]]
    phrases = [_ingest_phrase(a, p) for a, p in zip(actions, previous, strict=True)]
    if choice in FOUND_OFF_WORDS:
        phrases.insert(0, FOUND_OFF_WORDS[choice])
    sentence = f"ingest on {cluster}: " + ", ".join(phrases)
    if ingest_left_disabled(actions):
        sentence += " — INGEST IS STILL DISABLED: orchestrator restore-ingest re-enables it"
    return sentence


def own_error(result: ApplianceResult) -> str:
    """The result's error without the `name: ` prefix ApplianceError puts in front of it."""
    error = result.error or ""
    return error.removeprefix(f"{result.name}: ")


def truncate(text: str, width: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `width` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 text for a datetime, or None."""
    return moment.isoformat() if moment is not None else None


def _seconds(value: float | None) -> float | None:
    """Seconds rounded to milliseconds, or None."""
    return round(value, 3) if value is not None else None


def _appliance_document(result: ApplianceResult) -> dict[str, Any]:
    """One appliance as a JSON object (schema in docs/report.md)."""
    return {
        "name": result.name,
        "role": result.role.value if result.role else None,
        "wave": result.wave,
        "outcome": result.outcome.value,
        "version_before": result.version_before,
        "version_after": result.version_after,
        "target_version": result.target_version,
        "duration_seconds": _seconds(result.duration),
        "error": result.error,
        "job_id": result.job_id,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "tls": result.tls.value if result.tls else None,
    }


def _ingest_document(action: IngestAction) -> dict[str, Any]:
    """One ingest action as a JSON object."""
    return {
        "cluster": action.cluster,
        "via": action.via,
        "action": action.action.value,
        "at": _iso(action.at),
        "error": action.error,
    }


def summary_payload(report: RunReport) -> dict[str, Any]:
    """The report as the JSON document (plain dicts, lists, str, int, float, bool, None)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": report.run_id,
        "started_at": _iso(report.started_at),
        "finished_at": _iso(report.finished_at),
        "duration_seconds": _seconds((report.finished_at - report.started_at).total_seconds()),
        "exit_code": report.exit_code,
        "status": run_status(report.exit_code),
        "dry_run": report.dry_run,
        "counts": _counts(report),
        "appliances": [_appliance_document(result) for result in report.results],
        "ingest": [_ingest_document(action) for action in report.ingest],
        "ingest_found_off": dict(report.ingest_found_off),
    }


def to_json(report: RunReport) -> str:
    """The report as indented JSON text ending with a newline."""
    return json.dumps(summary_payload(report), indent=2, ensure_ascii=False) + "\n"


def _markdown_header(report: RunReport) -> list[str]:
    """The heading and the run summary bullets."""
    status = run_status(report.exit_code)
    duration = format_duration((report.finished_at - report.started_at).total_seconds())
    title = "Firmware upgrade dry run" if report.dry_run else "Firmware upgrade run"
    return [
        f"# {title} {_md(report.run_id)}: {status}",
        "",
        f"- **Status:** {status} (exit code {report.exit_code})",
        f"- **Started:** {_iso(report.started_at)}",
        f"- **Finished:** {_iso(report.finished_at)} ({duration})",
        f"- **Appliances:** {summary_line(report).rsplit(' — ', 1)[0]}",
        "",
    ]


def _markdown_table(report: RunReport) -> list[str]:
    """The appliance table."""
    lines = [
        "## Appliances",
        "",
        "| Appliance | Role | Wave | Before | After | Target | Outcome | Duration |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        cells = (
            _md(r.name),
            _md(r.role.value if r.role else None),
            _md(r.wave),
            _md(r.version_before),
            _md(r.version_after),
            _md(r.target_version),
            f"**{r.outcome.value}**" if r.outcome in _PROBLEM_OUTCOMES else r.outcome.value,
            format_duration(r.duration),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _markdown_ingest(report: RunReport) -> list[str]:
    """The ingest section (empty when the run touched no Explore cluster)."""
    groups = ingest_by_cluster(report)
    if not groups:
        return []
    lines = ["## Explore ingest", ""]
    for cluster, actions in groups.items():
        choice = report.ingest_found_off.get(cluster)
        if choice in FOUND_OFF_WORDS:
            lines.append(f"- {_md(cluster)}: {_md(FOUND_OFF_WORDS[choice])}")
        for action in actions:
            error = f": {_md(action.error)}" if action.error else ""
            lines.append(
                f"- {_md(cluster)}: {action.action.replace('_', ' ')} via {_md(action.via)}"
                f" at {_iso(action.at)}{error}"
            )
        if ingest_left_disabled(actions):
            lines.append(
                f"- **Ingest on {_md(cluster)} is still disabled:** run "
                "`orchestrator restore-ingest INVENTORY`."
            )
    return [*lines, ""]


def _markdown_tls(report: RunReport) -> list[str]:
    """How each appliance's certificate was verified (left out for a run that did not say)."""
    if all(r.tls is None for r in report.results):
        return []
    groups = group_by_check((r.name, r.tls) for r in report.results)
    lines = [f"- {label}: {', '.join(_md(name) for name in names)}" for label, names in groups]
    return ["## TLS", "", *lines, ""]


def _markdown_problems(report: RunReport) -> list[str]:
    """Every failed, blocked, deferred or cancelled appliance with its full error."""
    problems = [r for r in report.results if r.outcome in _PROBLEM_OUTCOMES]
    if not problems:
        return []
    lines = ["## Problems", ""]
    for r in problems:
        job = f" (job {_md(r.job_id)})" if r.job_id else ""
        lines.append(f"- **{_md(r.name)}** {r.outcome.value}{job}: {_md(own_error(r))}")
    return [*lines, ""]


def to_markdown(report: RunReport) -> str:
    """The report as Markdown for a change ticket: status, counts, table, ingest, problems."""
    sections = (
        _markdown_header(report),
        _markdown_table(report),
        _markdown_ingest(report),
        _markdown_tls(report),
        _markdown_problems(report),
    )
    return "\n".join(line for section in sections for line in section).rstrip("\n") + "\n"


def report_paths(path: Path) -> tuple[Path, Path]:
    """The (JSON, Markdown) paths for `--report PATH`: PATH and PATH.md, or PATH.json if .md."""
    if path.suffix.lower() == ".md":
        return path.with_suffix(".json"), path
    return path, path.with_suffix(".md")


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, fsync it, then rename it over `path`.

    Readable by its owner only (0600), like everything else a run writes.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot write the report {path}: {reason}") from exc


def write_reports(report: RunReport, path: Path) -> list[Path]:
    """Write the JSON and Markdown reports atomically; return the paths written (JSON first)."""
    json_path, markdown_path = report_paths(path)
    _write_atomically(json_path, to_json(report))
    _write_atomically(markdown_path, to_markdown(report))
    return [json_path, markdown_path]
