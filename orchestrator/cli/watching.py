"""`orchestrator watch [RUN]` on the terminal: the run drawn live until it ends, then its report.

Ctrl-C (or SIGTERM) here only stops watching: the run is another process and goes on.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Group
from rich.live import Live
from rich.text import Text

from orchestrator.cli.exitcodes import EXIT_BAD_INPUT, EXIT_INCOMPLETE
from orchestrator.cli.live import LiveView
from orchestrator.core.statehome import RunFolder, db_flag
from orchestrator.journal import runs
from orchestrator.plan import Plan
from orchestrator.workflow.runlog import RunLogReader

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import RenderableType

    from orchestrator.cli.screen import Screen
    from orchestrator.journal.runs import RunState

__all__ = ["STOPPED_WATCHING", "watch"]

STOPPED_WATCHING = 130  # Ctrl-C in `watch`: the run goes on
_POLL = 0.25  # seconds between two reads of the run's log
_CHECK = 2.0  # seconds between two checks that the run's process is still there


def watch(screen: Screen, run: str | None) -> int:
    """Follow run `run` (the newest by default) until it ends; its exit code."""
    db = screen.settings.state_db
    state = runs.read_run(db, run)
    if state is None:
        screen.voice.error(f"{db}: no run recorded yet; nothing to watch", event="watch.nothing")
        return EXIT_BAD_INPUT
    record = state.record
    short = record.run_id[:8]
    view = LiveView(Plan.model_validate_json(record.plan_json)) if screen.terminal else None
    reader = RunLogReader(RunFolder.of(db, record.run_id).events, view)
    reader.poll()
    started = record.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
    screen.say(f"watching run {short}, started {started}", event="watch.started", run=short)
    screen.say("Ctrl-C stops watching; the run goes on", event="watch.hint", style="dim")
    try:
        if view is not None and _going(reader, state):
            caption = Text(f"run {short} — Ctrl-C stops watching, not the run", style="dim")
            with Live(
                _Watched(view, caption), console=screen.err, refresh_per_second=4, transient=True
            ):
                _follow(reader, state, db)
        else:
            _follow(reader, state, db)
    except KeyboardInterrupt:
        flag = db_flag(db)
        screen.say(
            f"stopped watching run {short}; it goes on. `orchestrator watch {short}{flag}` "
            "looks again",
            event="watch.stopped",
        )
        return STOPPED_WATCHING
    return _ended(screen, reader, record.run_id)


def _going(reader: RunLogReader, state: RunState) -> bool:
    """Whether the run may still be going: its process is there and its log has not ended."""
    if reader.finished is not None:
        return False
    return not reader.process_gone() if reader.process is not None else state.going


def _follow(reader: RunLogReader, state: RunState, db: Path) -> None:
    """Read the run's log until the run ends (its log says so, or its process is gone)."""
    checked = time.monotonic()
    while _going(reader, state):
        time.sleep(_POLL)
        reader.poll()
        if reader.process is None and time.monotonic() - checked > _CHECK:
            checked = time.monotonic()
            state = runs.read_run(db, state.record.run_id) or state
    reader.poll()


def _ended(screen: Screen, reader: RunLogReader, run_id: str) -> int:
    """Print the run's report and say how it ended; the run's exit code."""
    db = screen.settings.state_db
    state = runs.read_run(db, run_id)
    finished = reader.finished
    if state is not None:
        code = finished.get("exit_code") if finished else None
        report = state.report
        if isinstance(code, int):
            report = report.model_copy(update={"exit_code": code})
        screen.print_report(report)
    if finished is not None and isinstance(finished.get("exit_code"), int):
        return int(finished["exit_code"])
    if state is not None and state.record.exit_code is not None:
        return state.record.exit_code
    screen.say(
        f"the run's process ended without finishing it (killed?): "
        f"`orchestrator resume{db_flag(db)}` continues it",
        event="watch.run_died",
    )
    return EXIT_INCOMPLETE


class _Watched:
    """The live view with a caption under it."""

    def __init__(self, view: LiveView, caption: Text) -> None:
        self.view = view
        self.caption = caption

    def __rich__(self) -> RenderableType:
        return Group(self.view, self.caption)
