"""What a command shows and asks on the terminal, and how a run is supervised there.

The consoles write through `orchestrator.cli.terminal`'s streams: a terminal that goes away never
stops a run. SIGINT (and SIGTERM, which means the same) once stops new work, twice stops now;
SIGHUP only stops drawing. At its end a run's reports are written to its folder (and to
`--report`), the webhook is sent, and `run.finished` closes the run's log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

import structlog
from rich.console import Console
from rich.live import Live
from rich.text import Text

from orchestrator.cli import terminal
from orchestrator.cli.live import LiveView
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
    from collections.abc import Callable, Coroutine

    from rich.console import RenderableType

    from orchestrator.core.config import Settings
    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.engine.ports import RunObserver
    from orchestrator.plan import Plan

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
# Above this many appliances, the table printed at the end of a run lists only the problems.
BRIEF_TABLE_ABOVE = 50

_log = structlog.get_logger("orchestrator")


class Screen:
    """The terminal side of one invocation: consoles, logging, prompts, a supervised run."""

    def __init__(self, settings: Settings, *, interactive: bool) -> None:
        self.out = self.console(stderr=False)
        self.err = self.console(stderr=True)
        self.settings = settings
        if settings.notify_url:
            check_url(settings.notify_url)
        self.interactive = interactive
        self.log_format = settings.log_format or ("console" if interactive else "json")
        self.view: LiveView | None = None  # set when the run is shown live
        self.live: Live | None = None
        self.finished: RunReport | None = None  # the run's report, once it ended
        self.found_off_choice: str | None = None  # asked at the prompt, for a detached run
        # While the live view owns the terminal, only warnings and errors are logged there.
        configure_logging(
            self.log_format, level=logging.WARNING if self.live_view_on() else logging.INFO
        )

    @staticmethod
    def console(*, stderr: bool) -> Console:
        """A console that wraps only tables: messages stay one line, even in a log file."""
        stream = sys.stderr if stderr else sys.stdout
        width = None if stream.isatty() else 120  # rich would assume 80 without a terminal
        return Console(stderr=stderr, highlight=False, width=width, soft_wrap=True)

    def warn(self, inventory: Inventory) -> None:
        """Print the inventory's warnings."""
        for warning in inventory.warnings:
            self.err.print(f"warning: {warning}", style="yellow", markup=False)

    def show_plan(self, plan: Plan, fmt: str) -> None:
        """The plan as a table, JSON or Markdown on standard output."""
        if fmt == "json":
            self.out.out(planview.to_json(plan))
        elif fmt == "markdown":
            self.out.out(planview.to_markdown(plan))
        else:
            self.out.print(planview.render_table(plan, width=self.out.width))

    def print_report(self, result: RunReport) -> None:
        """The run's table and summary."""
        self.out.print(reporttable.render_table(result, brief_above=BRIEF_TABLE_ABOVE))

    # ------------------------------------------------------------------ prompts
    def ask(self, question: str, *, yes: bool, unattended: str) -> bool:
        """The user's yes (or --yes); without a terminal, refuse saying `unattended`."""
        if yes:
            return True
        if not self.interactive:
            self.err.print(f"error: no terminal to confirm on; {unattended}", style="red")
            return False
        if self.ask_text(f"{question} [y/N] ").strip().lower() in {"y", "yes"}:
            return True
        self.err.print("nothing was changed")
        return False

    def ask_text(self, prompt: str) -> str:
        """One line typed at the terminal ('' at its end, or when it has gone away)."""
        try:
            return self.out.input(prompt, markup=False)
        except (EOFError, OSError):
            return ""
        except KeyboardInterrupt:
            self.out.print()  # what is said next goes on a line of its own
            raise

    # ------------------------------------------------------------ a run, live
    def observer(self, plan: Plan) -> RunObserver:
        """The run's observers: its log always, and the live view on a terminal."""
        if not self.live_view_on():
            return LogObserver()
        self.view = LiveView(plan)
        return FanOut(self.view, LogObserver())

    def live_view_on(self) -> bool:
        """Whether the run is drawn live (a terminal, console logging)."""
        return self.interactive and self.log_format == "console"

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
                    self.err.print("second interrupt: stopping now; `orchestrator resume` later")
                    task.cancel()
                return
            stop.set()
            self.err.print(
                "interrupt: starting nothing new; letting running upgrades finish "
                "(interrupt again to stop at once)"
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
            self.err.print(f"error: {result.error}", style="red", markup=False)
        self._write_reports(result, folder)
        if self.settings.notify_url:
            asyncio.run(notify(self.settings.notify_url, report.summary_payload(result)))
        if result.exit_code == EXIT_INCOMPLETE:
            db = db_flag(self.settings.state_db)
            self.err.print(
                f"the run is incomplete: `orchestrator resume{db}` continues it (and "
                "re-enables any ingest still halted), or `orchestrator restore-ingest "
                f"INVENTORY{db}` re-enables ingest and closes it"
            )
        self.log_finished(result)
        return result.exit_code

    def _write_reports(self, result: RunReport, folder: RunFolder) -> None:
        targets = [folder.report] if folder.path.is_dir() else []
        targets += [self.settings.report] if self.settings.report else []
        for target in targets:
            try:
                for path in report.write_reports(result, target):
                    if target == self.settings.report:
                        self.err.print(f"report written to {path}")
                    _log.info("report.written", path=str(path))
            except ConfigError as exc:  # the run's own exit code matters more than the file
                self.err.print(f"error: {one_line(exc)}", style="red", markup=False)

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
    """Renders the app's live view once the run has made one (resume makes it late)."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def __rich__(self) -> RenderableType:
        return self.screen.view if self.screen.view is not None else Text("starting...")
