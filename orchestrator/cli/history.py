"""`orchestrator history`: the runs of the state database, newest first, one line each.

As a terminal table or as JSON (the schema in docs/cli.md). Read-only, like `status`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.core.text import format_duration
from orchestrator.journal.history import list_runs
from orchestrator.report.document import iso, seconds
from orchestrator.report.words import STATUS_STYLES

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

    from orchestrator.cli.statecmds import StateCommands as App
    from orchestrator.journal.history import History, RunSummary

__all__ = ["HISTORY_SCHEMA_VERSION", "history", "history_json", "history_table"]


def history(app: App) -> int:
    """Print the newest `--limit` runs (table or JSON); exit 0 (2 for a bad database)."""
    state_db = app.settings.state_db
    found = list_runs(state_db, app.args.limit)
    now = dt.datetime.now(dt.UTC)
    if app.args.format == "json":
        app.out.out(history_json(found, state_db=state_db, now=now), end="")
        return 0
    app.out.print(f"state database: {state_db}", markup=False)
    if not found.runs:
        where = "" if state_db.exists() else " (no state database here)"
        app.out.print(f"no run recorded yet{where}", markup=False)
        return 0
    app.out.print(history_table(found, now=now))
    return 0


HISTORY_SCHEMA_VERSION = 1
# The counts a line shows, in this order (the JSON has every state).
_SHOWN = (Outcome.DONE, Outcome.SKIPPED, Outcome.FAILED, Outcome.BLOCKED, Outcome.DEFERRED)
_COUNT_STYLES = {Outcome.FAILED: "bold red", Outcome.BLOCKED: "red", Outcome.DEFERRED: "yellow"}


def _duration(run: RunSummary, now: dt.datetime) -> float | None:
    """How long the run took; for a run going on, how long it has been going."""
    end = now if run.lifecycle == "running" else run.ended_at
    return (end - run.record.started_at).total_seconds() if end else None


def history_table(history: History, *, now: dt.datetime) -> RenderableType:
    """The runs as a table, newest first, and a line saying how many are left out."""
    parts: list[RenderableType] = [_HistoryTable([_row(run, now) for run in history.runs])]
    if history.total > len(history.runs):
        parts.append(
            Text(
                f"{len(history.runs)} of {history.total} runs shown; "
                f"--limit {history.total} shows them all",
                style="dim",
            )
        )
    return Group(*parts)


_Row = tuple[list[Text], list[Text], list[Text]]  # (run, started, inventory, outcome), counts, rest
_HEADERS = ("run", "started", "inventory", "outcome", *(o.value for o in _SHOWN), "duration")
_INGEST = "ingest off"


class _HistoryTable:
    """One line per run: a column per count where there is room, else the counts in words."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [
            max([len(h), *(_cells(row)[i].cell_len for row in self.rows)])
            for i, h in enumerate(_HEADERS)
        ]
        wide = sum(widths) + 2 * len(_HEADERS) + len(_INGEST) <= options.max_width
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
        for header in _HEADERS[:4]:
            fold = header == "inventory"
            table.add_column(header, no_wrap=not fold, overflow="fold" if fold else "ellipsis")
        if wide:
            for outcome in _SHOWN:
                table.add_column(outcome.value, justify="right", no_wrap=True)
        else:
            table.add_column("appliances", overflow="fold")
        table.add_column("duration", justify="right", no_wrap=True)
        table.add_column(_INGEST, overflow="fold", min_width=6)
        for first, counts, rest in self.rows:
            if wide:
                table.add_row(*first, *counts, *rest)
            else:  # the year goes (`--format json` has it), the counts go into words
                short = Text(first[1].plain[5:])
                table.add_row(first[0], short, *first[2:], _counts_in_words(counts), *rest)
        yield table


def _cells(row: _Row) -> list[Text]:
    first, counts, rest = row
    return [*first, *counts, rest[0]]  # the widths of the wide layout


def _counts_in_words(counts: list[Text]) -> Text:
    """`12 done, 1 failed`: the counts that are not zero, in their colours."""
    parts = [
        (f"{count.plain} {outcome.value}", count.style)
        for outcome, count in zip(_SHOWN, counts, strict=True)
        if count.plain != "0"
    ]
    text = Text()
    for i, (words, style) in enumerate(parts):
        text.append((", " if i else "") + words, style=style)
    return text or Text("none", style="dim")


def _row(run: RunSummary, now: dt.datetime) -> tuple[list[Text], list[Text], list[Text]]:
    started = run.record.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
    duration = format_duration(_duration(run, now))
    if run.lifecycle == "running":
        duration += " so far"
    counts = [
        Text(str(n), style=_COUNT_STYLES.get(o, "") if n else "dim")
        for o in _SHOWN
        for n in [run.counts.get(o, 0)]
    ]
    left = ", ".join(run.ingest_left_disabled)
    ingest_style = "cyan" if run.lifecycle == "running" else "bold red"
    first = [
        Text(run.record.run_id[:8]),
        Text(started),
        Text(_what(run)),
        Text(run.lifecycle, style=STATUS_STYLES.get(run.lifecycle, "")),
    ]
    return first, counts, [Text(duration), Text(left, style=ingest_style if left else "")]


def _what(run: RunSummary) -> str:
    """The inventory's file name; a rollback also says which run it undoes."""
    name = PurePath(run.record.inventory_source).name
    undone = run.record.rolls_back
    return f"{name}, rollback of {undone[:8]}" if undone else name


def _run_document(run: RunSummary, now: dt.datetime) -> dict[str, Any]:
    present = {o for o, n in run.counts.items() if n}
    return {
        "run_id": run.record.run_id,
        "started_at": iso(run.record.started_at),
        "finished_at": iso(run.record.finished_at),
        "duration_seconds": seconds(_duration(run, now)),
        "inventory": run.record.inventory_source,
        "inventory_sha256": run.record.inventory_sha256,
        "rolls_back": run.record.rolls_back,
        "state": run.lifecycle,
        "exit_code": run.record.exit_code,
        "counts": {
            o.value: run.counts.get(o, 0) for o in Outcome if o in FINAL_OUTCOMES or o in present
        },
        "ingest_left_disabled": list(run.ingest_left_disabled),
    }


def history_json(history: History, *, state_db: Path, now: dt.datetime) -> str:
    """The runs as the history document (docs/cli.md), newest first."""
    document = {
        "schema_version": HISTORY_SCHEMA_VERSION,
        "state_db": str(state_db),
        "total": history.total,
        "runs": [_run_document(run, now) for run in history.runs],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
