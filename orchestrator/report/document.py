"""A run's report as the JSON document (schema in docs/report.md) and the files written of it.

Nothing here prints: the functions return strings and dicts, and `write_reports` writes the
JSON, Markdown and HTML files atomically. The words the forms share are
`orchestrator.report.words`'; the terminal table is `orchestrator.report.table`'s.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.core.text import format_duration
from orchestrator.core.userfile import write_atomically
from orchestrator.report.markdown import to_markdown
from orchestrator.report.words import (
    FOUND_OFF_WORDS,
    OUTCOME_STYLES,
    STATUS_STYLES,
    cluster_ingest,
    ingest_by_cluster,
    ingest_left_disabled,
    ingest_sentence,
    one_line_summary,
    own_error,
    run_status,
    summary_line,
    truncate,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from orchestrator.core.models import (
        ApplianceResult,
        GateRecord,
        IngestAction,
        RunOrigin,
        RunReport,
        StepSpan,
    )
    from orchestrator.plan import Plan


__all__ = [
    "FOUND_OFF_WORDS",
    "OUTCOME_STYLES",
    "SCHEMA_VERSION",
    "STATUS_STYLES",
    "copy_reports",
    "format_duration",
    "ingest_by_cluster",
    "ingest_left_disabled",
    "ingest_sentence",
    "iso",
    "json_pieces",
    "origin_document",
    "own_error",
    "report_paths",
    "run_status",
    "seconds",
    "started_payload",
    "summary_line",
    "summary_payload",
    "to_json",
    "to_markdown",
    "truncate",
    "webhook_payload",
    "write_page",
    "write_reports",
]

# 2: per-step times, `summary`, `origin`, `window_end`, `ingest_state` (docs/report.md).
SCHEMA_VERSION = 2
_JSON = json.JSONEncoder(indent=2, ensure_ascii=False)  # what json.dumps(indent=2) uses


def _counts(report: RunReport) -> dict[str, int]:
    """Appliances per outcome: every final outcome (0 if none), plus any other that occurs."""
    present = {result.outcome for result in report.results}
    return {
        outcome.value: report.count(outcome)
        for outcome in Outcome
        if outcome in FINAL_OUTCOMES or outcome in present
    }


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 text for a datetime, or None."""
    return moment.isoformat() if moment is not None else None


def seconds(value: float | None) -> float | None:
    """Seconds rounded to milliseconds, or None."""
    return round(value, 3) if value is not None else None


def _step_document(step: StepSpan) -> dict[str, Any]:
    """One step of one appliance as a JSON object."""
    return {
        "step": step.step,
        "started_at": iso(step.started_at),
        "finished_at": iso(step.finished_at),
        "duration_seconds": seconds(step.duration),
        "result": step.result,
    }


def _appliance_document(result: ApplianceResult) -> dict[str, Any]:
    """One appliance as a JSON object (schema in docs/report.md)."""
    return {
        "name": result.name,
        "role": result.role.value if result.role else None,
        "wave": result.wave,
        "cluster": result.cluster,
        "outcome": result.outcome.value,
        "version_before": result.version_before,
        "version_after": result.version_after,
        "target_version": result.target_version,
        "duration_seconds": seconds(result.duration),
        "error": result.error,
        "job_id": result.job_id,
        "started_at": iso(result.started_at),
        "finished_at": iso(result.finished_at),
        "steps": [_step_document(step) for step in result.steps],
        "tls": result.tls.value if result.tls else None,
    }


def _ingest_document(action: IngestAction) -> dict[str, Any]:
    """One ingest action as a JSON object."""
    return {
        "cluster": action.cluster,
        "via": action.via,
        "action": action.action.value,
        "at": iso(action.at),
        "error": action.error,
    }


def _ingest_state_documents(report: RunReport) -> list[dict[str, Any]]:
    """Each cluster's ingest as the run left it, and when the run had it off."""
    return [
        {
            "cluster": cluster.cluster,
            "state": cluster.state,
            "off_seconds": seconds(cluster.off_seconds(report.finished_at)),
            "off": [{"from": iso(s.start), "until": iso(s.end)} for s in cluster.spans],
        }
        for cluster in cluster_ingest(report)
    ]


def origin_document(origin: RunOrigin | None) -> dict[str, Any]:
    """Where the run came from, every field present (null when unknown)."""
    fields = (
        "tool_version",
        "host",
        "user",
        "inventory",
        "inventory_sha256",
        "plan_sha256",
        "plan_file",
        "plan_file_sha256",
        "rolls_back",
    )
    return {name: getattr(origin, name) if origin else None for name in fields}


def summary_payload(
    report: RunReport, *, going: bool = False, appliances: bool = True
) -> dict[str, Any]:
    """The report as the JSON document (plain dicts, lists, str, int, float, bool, None).

    `appliances=False`: without its `appliances` list (`json_pieces` writes them one by one).
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": report.run_id,
        "summary": one_line_summary(report, going=going),
        "started_at": iso(report.started_at),
        "finished_at": iso(report.finished_at),
        "duration_seconds": seconds((report.finished_at - report.started_at).total_seconds()),
        "exit_code": report.exit_code,
        "status": run_status(report.exit_code),
        "dry_run": report.dry_run,
        "window_end": iso(report.window_end),
        "origin": origin_document(report.origin),
        "counts": _counts(report),
        "appliances": [_appliance_document(r) for r in report.results] if appliances else [],
        "ingest": [_ingest_document(action) for action in report.ingest],
        "ingest_state": _ingest_state_documents(report),
        "ingest_found_off": dict(report.ingest_found_off),
        "gates": [_gate_document(gate) for gate in report.gates],
        "backups": [backup.model_dump() for backup in report.backups],
    }


def _gate_document(gate: GateRecord) -> dict[str, Any]:
    """One gate the run waited at, and its answer (schema in docs/report.md)."""
    return {
        "gate": gate.gate,
        "opened_at": iso(gate.opened_at),
        "answer": gate.answer,
        "by": gate.by,
        "answered_at": iso(gate.answered_at),
    }


def webhook_payload(report: RunReport) -> dict[str, Any]:
    """The body of the notification sent when a run ends: the report, `event: run.finished`."""
    return {"event": "run.finished", **summary_payload(report)}


def started_payload(run_id: str, plan: Plan, origin: RunOrigin, *, resumed: bool) -> dict[str, Any]:
    """The body of the notification sent when a run starts (or resumes): `--notify-start`."""
    lines = list(plan.appliances())
    upgrade = sum(1 for line in lines if line.actionable)
    verb = "resumed" if resumed else "started"
    who = f"{origin.user}@{origin.host}"
    summary = (
        f"run {run_id[:8]} {verb} by {who}: {upgrade} of {len(lines)} appliances to upgrade, "
        f"estimate {format_duration(plan.estimate)}"
    )
    if plan.window_end is not None:
        summary += f", window ends {plan.window_end.isoformat(timespec='minutes')}"
    return {
        "event": f"run.{verb}",
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "summary": summary,
        "started_at": iso(dt.datetime.now(dt.UTC)),
        "window_end": iso(plan.window_end),
        "origin": origin_document(origin),
        "appliances": len(lines),
        "to_upgrade": upgrade,
        "estimate_seconds": seconds(plan.estimate),
    }


def to_json(report: RunReport) -> str:
    """The report as indented JSON text ending with a newline."""
    return "".join(json_pieces(report))


# Stands in the document for its appliances while the rest is encoded (a string no report
# holds: it starts with a NUL).
_APPLIANCES = "\0appliances"
_APPLIANCES_JSON = json.dumps(_APPLIANCES)
_ITEM_INDENT = "\n    "  # an item of the document's `appliances` list, at indent 2


def json_pieces(report: RunReport) -> Iterator[str]:
    """`to_json`'s text in pieces, to be written as they come (a large run's is tens of MB).

    The appliances are encoded one at a time, never all held as documents at once: the same
    text as `json.dumps(summary_payload(report), indent=2)`, at a fraction of the memory.
    """
    if not report.results:  # `[]`, as json.dumps writes it
        yield from _JSON.iterencode(summary_payload(report))
        yield "\n"
        return
    payload = summary_payload(report, appliances=False) | {"appliances": [_APPLIANCES]}
    for piece in _JSON.iterencode(payload):
        if piece.endswith(_APPLIANCES_JSON):  # `[` and the placeholder, in one piece
            yield piece.removesuffix(_APPLIANCES_JSON)
            yield from _appliance_pieces(report)
        else:
            yield piece
    yield "\n"


def _appliance_pieces(report: RunReport) -> Iterator[str]:
    """Each appliance's document, indented as an item of the report's `appliances` list."""
    for index, result in enumerate(report.results):
        text = _JSON.encode(_appliance_document(result)).replace("\n", _ITEM_INDENT)
        yield text if index == 0 else f",{_ITEM_INDENT}{text}"


def report_paths(path: Path) -> tuple[Path, Path, Path]:
    """The (JSON, Markdown, HTML) paths for `--report PATH`.

    PATH and PATH.md and PATH.html beside it; PATH.json when PATH ends in .md or .html.
    """
    if path.suffix.lower() in {".md", ".html"}:
        path = path.with_suffix(".json")
    return path, path.with_suffix(".md"), path.with_suffix(".html")


def write_reports(report: RunReport, path: Path) -> list[Path]:
    """Write the JSON, Markdown and HTML reports atomically; the paths written, JSON first."""
    from orchestrator.report.html import run_page_pieces  # noqa: PLC0415 - Jinja2, at the end

    json_path, markdown_path, html_path = report_paths(path)
    write_atomically(json_path, json_pieces(report))
    write_atomically(markdown_path, to_markdown(report))
    write_atomically(html_path, run_page_pieces(report))
    return [json_path, markdown_path, html_path]


def copy_reports(written: list[Path], path: Path) -> list[Path]:
    """The reports `write_reports` wrote, copied to `path` (its JSON, Markdown, HTML paths).

    Rendering a large run's reports costs more than the run's own requests did: a second
    place (the run's folder and `--report`) gets a copy, one file in memory at a time.
    """
    copies = list(report_paths(path))
    for source, copy in zip(written, copies, strict=True):
        write_atomically(copy, _read_pieces(source))
    return copies


def _read_pieces(path: Path) -> Iterator[str]:
    """A written report's text, a MiB at a time."""
    try:
        with path.open(encoding="utf-8") as handle:
            yield from iter(lambda: handle.read(1 << 20), "")
    except OSError as exc:
        raise ConfigError(f"cannot read report {path}: {exc.strerror or exc}") from exc


def write_page(path: Path, text: str, what: str) -> Path:
    """Write one more page (`what`: a plan's picture) atomically, readable by its owner only."""
    write_atomically(path, text, what)
    return path
