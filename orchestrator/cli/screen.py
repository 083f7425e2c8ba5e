"""What a command shows and asks on the terminal, and how a run is supervised there.

The consoles write through `orchestrator.cli.terminal`'s streams: a terminal that goes away never
stops a run. SIGINT (and SIGTERM, which means the same) once stops new work, twice stops now;
SIGHUP only stops drawing. At its end a run's reports are written to its folder (and to
`--report`), the webhook is sent, and `run.finished` closes the run's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

import structlog
from rich.live import Live
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from orchestrator.cli import terminal
from orchestrator.cli.exitcodes import (
    EXIT_INCOMPLETE,
)
from orchestrator.cli.gateprompt import ask_at_terminal
from orchestrator.cli.live import LiveView
from orchestrator.cli.voice import LogFormat, Voice, console
from orchestrator.core.errors import ConfigError, one_line
from orchestrator.core.statehome import RunFolder, db_flag
from orchestrator.engine import logs
from orchestrator.engine.fanout import FanOut
from orchestrator.engine.logs import LogObserver, configure_logging
from orchestrator.report import document as report
from orchestrator.report import planview
from orchestrator.report import table as reporttable
from orchestrator.report.notify import check_url, notify

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine, Iterator
    from pathlib import Path

    from rich.console import Console, RenderableType

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.engine.ports import GateRequest, RunObserver
    from orchestrator.journal.gates import Answer
    from orchestrator.plan import Plan

_HASH_BAR_ABOVE = 64 * 1024 * 1024  # bytes of images: hashing less is too quick for a bar
# Above this many appliances, the table printed at the end of a run lists only the problems.
BRIEF_TABLE_ABOVE = 50

_log = structlog.get_logger("orchestrator")


class Screen:
    """The terminal side of one invocation: consoles, logging, prompts, a supervised run."""

    def __init__(self, settings: Settings, *, verbosity: int = 0) -> None:
        self.out = console(stderr=False)
        self.settings = settings
        if settings.notify_url:
            check_url(settings.notify_url)
        # People read standard error: logs, the live view, prompts. Results go to stdout.
        self.terminal = sys.stderr.isatty()
        self.can_ask = self.terminal and sys.stdin.isatty()
        self.log_format: LogFormat = settings.log_format or ("console" if self.terminal else "json")
        self.voice = Voice(self.log_format)
        self.err = self.voice.err
        self.verbosity = verbosity
        self.view: LiveView | None = None  # set when the run is shown live
        self.live: Live | None = None
        self.finished: RunReport | None = None  # the run's report, once it ended
        self.found_off_choice: str | None = None  # asked at the prompt, for a detached run
        self.inventory_source: str | None = None  # the run's inventory, for the hints
        configure_logging(self.log_format, level=self._terminal_level())

    def _terminal_level(self) -> int:
        """-q: warnings; -v: debug; while the live view owns the terminal: warnings."""
        if self.verbosity < 0 or (self.verbosity == 0 and self.live_view_on()):
            return logging.WARNING
        return logging.DEBUG if self.verbosity > 0 else logging.INFO

    @staticmethod
    def console(*, stderr: bool) -> Console:
        """A console that wraps only tables: messages stay one line, even in a log file."""
        return console(stderr=stderr)

    def say(self, text: str, *, event: str, style: str | None = None, **fields: Any) -> None:  # noqa: ANN401
        """A line for people on stderr; in JSON mode the event `event` (message=text)."""
        self.voice.say(text, event=event, style=style, **fields)

    def warn(self, inventory: Inventory) -> None:
        """Print the inventory's warnings."""
        for warning in inventory.warnings:
            self.voice.warning(warning, event="inventory.warned")

    @contextlib.contextmanager
    def hashing(self, inventory: Inventory) -> Iterator[Callable[[int], None] | None]:
        """A progress bar while the images are hashed (on a terminal, for large images)."""
        paths = {a.firmware.file for a in inventory.appliances if a.firmware.kind == "file"}
        total = 0
        for path in paths:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        if not self.live_view_on() or total < _HASH_BAR_ABOVE:
            yield None
            return
        columns = (
            TextColumn("hashing images"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.err, transient=True) as bar:
            task = bar.add_task("hashing", total=total)
            yield lambda done: bar.advance(task, done)

    def show_plan(self, plan: Plan, fmt: str) -> None:
        """The plan as a table, JSON or Markdown on standard output."""
        if fmt == "json":
            self.out.out(planview.to_json(plan))
        elif fmt == "markdown":
            self.out.out(planview.to_markdown(plan))
        else:
            self.out.print(planview.render_table(plan, width=self.out.width))

    def print_report(self, result: RunReport, inventory: str | None = None) -> None:
        """The run's table and summary, and how to re-enable ingest it left disabled."""
        self.out.print(reporttable.render_table(result, brief_above=BRIEF_TABLE_ABOVE))
        groups = report.ingest_by_cluster(result)
        left = [cluster for cluster, acts in groups.items() if report.ingest_left_disabled(acts)]
        if left and result.exit_code != EXIT_INCOMPLETE:  # an incomplete run's hint says it
            db = db_flag(self.settings.state_db)
            source = inventory or self.inventory_source or "INVENTORY"
            self.say(
                f"ingest on cluster {', '.join(left)} is still disabled: "
                f"`orchestrator restore-ingest {source}{db}` re-enables it",
                event="ingest.left_disabled",
                style="bold red",
            )

    # ------------------------------------------------------------------ prompts
    def ask(self, question: str, *, yes: bool, unattended: str) -> bool | None:
        """The user's yes (or --yes): True; no: False; no terminal to ask on: None."""
        if yes:
            return True
        if not self.can_ask:
            self.voice.error(f"no terminal to confirm on; {unattended}", event="prompt.refused")
            return None
        if self.ask_text(f"{question} [y/N] ").strip().lower() in {"y", "yes"}:
            return True
        self.say("declined: nothing was changed", event="prompt.declined")
        return False

    def ask_text(self, prompt: str) -> str:
        """One line typed at the terminal ('' at its end, or when it has gone away)."""
        try:
            return self.err.input(prompt, markup=False)
        except (EOFError, OSError):
            return ""
        except KeyboardInterrupt:
            self.err.print()  # what is said next goes on a line of its own
            raise

    # ------------------------------------------------------------ a run, live
    def observer(self, plan: Plan) -> RunObserver:
        """The run's observers: its log always, and the live view on a terminal."""
        if not self.live_view_on():
            return LogObserver()
        self.view = LiveView(plan)
        self.view.can_ask = self.gate_prompt() is not None
        return FanOut(self.view, LogObserver())

    def gate_prompt(self) -> Callable[[GateRequest], Awaitable[Answer | None]] | None:
        """How a gate asks the person at this terminal (None: no one can answer here)."""
        return ask_at_terminal if self.can_ask else None

    def live_view_on(self) -> bool:
        """Whether the run is drawn live (standard error is a terminal, console logging)."""
        return self.terminal and self.log_format == "console"

    def with_signals(
        self, start: Callable[[asyncio.Event], Coroutine[Any, Any, RunReport]]
    ) -> RunReport:
        """Run `start` with SIGINT/SIGTERM and SIGHUP handled (see the module docstring)."""
        return asyncio.run(self._supervise(start))

    async def _supervise(
        self, start: Callable[[asyncio.Event], Coroutine[Any, Any, RunReport]]
    ) -> RunReport:
        stop = asyncio.Event()
        task = asyncio.ensure_future(start(stop))
        loop = asyncio.get_running_loop()

        def on_interrupt() -> None:
            if stop.is_set():
                if not task.cancelling():  # once is enough: the run is already tearing down
                    db = db_flag(self.settings.state_db)
                    self.say(
                        f"second interrupt: stopping now; `orchestrator resume{db}` later",
                        event="run.interrupted_again",
                    )
                    task.cancel()
                return
            stop.set()
            if self.view is not None:
                self.view.stopping = True
            self.say(
                "interrupt: starting nothing new; letting running upgrades finish "
                "(interrupt again to stop at once)",
                event="run.interrupted",
            )

        loop.add_signal_handler(signal.SIGINT, on_interrupt)  # SIGTERM is raised as SIGINT

        def on_hangup(_signum: int, _frame: object) -> None:
            terminal.hang_up()  # at once: nothing may block on a terminal that is gone
            loop.call_soon_threadsafe(self._lost)

        previous = signal.signal(signal.SIGHUP, on_hangup)
        try:
            if not self.live_view_on():
                return await task
            with Live(
                _ViewSlot(self), console=self.err, refresh_per_second=4, transient=True
            ) as live:
                self.live = live
                return await task
        finally:
            self.live = None
            signal.signal(signal.SIGHUP, previous)

    def _lost(self) -> None:
        """The terminal went away (SIGHUP): stop drawing; the run goes on to its normal end."""
        terminal.hang_up()
        if self.live is not None:
            self.live.stop()
            self.live = None
        _log.warning("terminal.lost", detail="the run goes on; its log has every event")

    # ---------------------------------------------------------------- the end
    def finish(self, result: RunReport) -> int:
        """Show and write the report, send the webhook, close the run's log: the exit code."""
        self.finished = result
        folder = RunFolder.of(self.settings.state_db, result.run_id)
        if folder.path.is_dir():
            logs.open_run_log(folder.events)
        self.print_report(result)
        if result.error:
            self.voice.error(result.error, event="run.failed")
        self._write_reports(result, folder)
        if self.settings.notify_url:
            asyncio.run(notify(self.settings.notify_url, report.webhook_payload(result)))
        if result.exit_code == EXIT_INCOMPLETE:
            db = db_flag(self.settings.state_db)
            inventory = self.inventory_source or "INVENTORY"
            self.say(
                f"the run is incomplete: `orchestrator resume{db}` continues it (and "
                "re-enables any ingest still halted), or `orchestrator restore-ingest "
                f"{inventory}{db}` re-enables ingest and closes it",
                event="run.incomplete",
            )
        self.log_finished(result)
        return result.exit_code

    def _write_reports(self, result: RunReport, folder: RunFolder) -> None:
        targets = [folder.report] if folder.path.is_dir() else []
        targets += [self.settings.report] if self.settings.report else []
        written: list[Path] | None = None  # rendered once; a second target gets a copy
        for target in targets:
            try:
                if written is None:
                    paths = written = report.write_reports(result, target)
                else:
                    paths = report.copy_reports(written, target)
                for path in paths:
                    if target == self.settings.report:
                        self.say(f"report written to {path}", event="report.written")
                    else:
                        _log.info("report.written", path=str(path))
            except ConfigError as exc:  # the run's own exit code matters more than the file
                self.voice.error(one_line(exc), event="report.failed")

    def log_finished(self, result: RunReport) -> None:
        """Log `run.finished` (what `watch` waits for) and close the run's log."""
        counts = {o.value: result.count(o) for o in {r.outcome for r in result.results}}
        _log.info(
            "run.finished",
            run_id=result.run_id,
            exit_code=result.exit_code,
            counts=counts,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        logs.close_run_log()


class _ViewSlot:
    """Renders the app's live view once the run has made one (resume makes it late).

    Until then it renders an empty line, the cursor at its start: what is printed meanwhile
    on standard output (the demo's plan) starts on a clean line, not after a placeholder.
    """

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def __rich__(self) -> RenderableType:
        return self.screen.view if self.screen.view is not None else Text()
