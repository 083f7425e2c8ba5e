"""`orchestrator status [RUN]`: what a run did, and, as its exit code, whether it needs you.

Exit codes (docs/cli.md): 0 the run needs nothing (every appliance upgraded or already
current, ingest on; also: no run recorded yet); 1 it needs a person (an appliance failed or
was blocked, a cluster's ingest is still disabled, or restore-ingest closed it incomplete);
2 bad input (no such run, an unusable state database); 3 incomplete: `resume` continues it;
5 going on now (`watch` shows it; 4 is every command's "declined at a prompt", and status
never asks). Scripts branch on the code, never on the text.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from orchestrator.core.models import Outcome
from orchestrator.core.statehome import RunFolder, db_flag
from orchestrator.journal import runs
from orchestrator.journal.view import run_origin, started_by
from orchestrator.report.document import summary_payload
from orchestrator.report.statusview import render_status
from orchestrator.report.words import cluster_ingest

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.cli.statecmds import StateCommands as App
    from orchestrator.core.models import RunReport

__all__ = ["EXIT_GOING", "Verdict", "status", "verdict"]

EXIT_OK, EXIT_ATTENTION, EXIT_INCOMPLETE, EXIT_GOING = 0, 1, 3, 5
STATUS_SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a run needs attention, why, and what to run next."""

    exit_code: int
    reasons: tuple[str, ...]  # empty: nothing needs you
    next: str | None  # the command that continues it, or shows it


def verdict(state: runs.RunState, halted_anywhere: list[str], db: str) -> Verdict:
    """The exit code of `status` for `state` (see the module docstring)."""
    report, short = state.report, state.record.run_id[:8]
    if state.going and state.waiting_at is not None:
        return Verdict(EXIT_GOING, (), f"orchestrator continue {short}{db}")
    if state.going:
        return Verdict(EXIT_GOING, (), f"orchestrator watch {short}{db}")
    reasons = _problems(report)
    reasons += [f"ingest on {c} is still disabled" for c in halted_anywhere]
    if state.resumable:
        why = "it was interrupted" if not report.count(Outcome.DEFERRED) else "the window closed"
        return Verdict(EXIT_INCOMPLETE, (why, *reasons), f"orchestrator resume{db}")
    if state.lifecycle == "closed":
        reasons.insert(0, "restore-ingest closed it incomplete: plan afresh for what it left")
    if reasons or state.lifecycle != "succeeded":
        source = state.record.inventory_source
        fix = f"orchestrator restore-ingest {source}{db}" if halted_anywhere else None
        return Verdict(EXIT_ATTENTION, tuple(reasons) or ("it failed",), fix)
    return Verdict(EXIT_OK, (), None)


def _problems(report: RunReport) -> list[str]:
    """`1 failed`, `3 blocked`: the outcomes that need a person."""
    return [
        f"{report.count(outcome)} {outcome.value}"
        for outcome in (Outcome.FAILED, Outcome.BLOCKED)
        if report.count(outcome)
    ]


def status(app: App) -> int:
    """Print what the run did (table or JSON); the exit code says whether it needs attention."""
    settings = app.settings
    state = runs.read_run(settings.state_db, app.args.run)
    as_json = app.args.format == "json"
    if state is None:
        if as_json:
            app.out.out(_json(settings.state_db, None, Verdict(EXIT_OK, (), None), None), end="")
            return EXIT_OK
        where = "" if settings.state_db.exists() else " (no state database here)"
        app.out.print(f"{settings.state_db}: no run recorded yet{where}", markup=False)
        return EXIT_OK
    folder = RunFolder.of(settings.state_db, state.record.run_id)
    origin = run_origin(state.record, started_by(folder.events))
    state = dataclasses.replace(state, report=state.report.model_copy(update={"origin": origin}))
    db = db_flag(settings.state_db)
    judged = verdict(state, runs.halted_clusters(settings.state_db), db)
    page = folder.path / "report.html"
    if as_json:
        app.out.out(
            _json(settings.state_db, state, judged, page if page.exists() else None), end=""
        )
        return judged.exit_code
    _print(app, state, judged, page if page.exists() else None, db)
    return judged.exit_code


def _print(app: App, state: runs.RunState, judged: Verdict, page: Path | None, db: str) -> None:
    now = dt.datetime.now(dt.UTC) if state.going else None
    app.out.print(f"state database: {app.settings.state_db}", markup=False)
    app.out.print(render_status(state.report, lifecycle=state.lifecycle, now=now, page=page))
    if state.waiting_at is not None:
        app.out.print(
            f"the run waits at the gate before {state.waiting_at}: `{judged.next}` releases "
            f"it (`orchestrator stop {state.record.run_id[:8]}{db}` stops it there)",
            markup=False,
        )
    elif state.going:
        app.out.print(
            f"a run holds the state database: {state.holder}; it is going on now: "
            f"`{judged.next}` shows it",
            markup=False,
        )
    elif state.holder is not None:
        app.out.print(
            f"a run holds the state database: {state.holder}; it may still be going",
            markup=False,
        )
    elif state.resumable:
        app.out.print(f"this run was interrupted: `orchestrator resume{db}` continues it")
    if judged.next and judged.exit_code == EXIT_ATTENTION:  # ingest left disabled
        app.say(
            f"ingest is still disabled: `{judged.next}` re-enables it",
            event="ingest.left_disabled",
            style="bold red",
        )
    if judged.reasons:
        app.out.print(
            f"needs attention: {'; '.join(judged.reasons)} (exit {judged.exit_code})",
            style="bold red" if judged.exit_code == EXIT_ATTENTION else "yellow",
            markup=False,
        )


def _json(state_db: Path, state: runs.RunState | None, judged: Verdict, page: Path | None) -> str:
    """The status document (docs/cli.md): the run's report and the verdict on it."""
    document: dict[str, Any] = {
        "schema_version": STATUS_SCHEMA_VERSION,
        "state_db": str(state_db),
        "state": state.lifecycle if state else "none",
        "exit_code": judged.exit_code,
        "needs_attention": bool(judged.reasons) or judged.exit_code == EXIT_ATTENTION,
        "reasons": list(judged.reasons),
        "next": judged.next,
        "lock_holder": state.holder if state else None,
        "waiting_at": state.waiting_at if state else None,
        "report_html": str(page) if page else None,
        "run": None,
    }
    if state is not None:
        run = summary_payload(state.report, going=state.going)
        if state.going:  # no exit code yet: the run goes on
            run |= {"exit_code": None, "status": "running"}
        run["ingest_state"] = _live_ingest(state, run["ingest_state"])
        document["run"] = run
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _live_ingest(state: runs.RunState, clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """While the run goes on, a cluster's off time counts until now."""
    if not state.going:
        return clusters
    now = dt.datetime.now(dt.UTC)
    off = {c.cluster: c.off_seconds(now) for c in cluster_ingest(state.report)}
    return [c | {"off_seconds": round(off[c["cluster"]], 3)} for c in clusters]
