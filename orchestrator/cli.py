"""Command line: sub-commands, output, logging setup, and errors mapped to exit codes.

The only module that prints or exits. Exit codes: 0 everything upgraded or already current;
1 an appliance failed or was blocked; 2 bad input or configuration (nothing changed);
3 incomplete (interrupted, or the window closed with work left: `resume` continues).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from orchestrator import planview, report, reporttable, unlock, workflow
from orchestrator.cliargs import UsageError, build_parser, reviewed, settings_from
from orchestrator.errors import ConfigError, OrchestratorError, one_line
from orchestrator.inventory import load_inventory
from orchestrator.live import LiveView
from orchestrator.logs import LogObserver, configure_logging
from orchestrator.notify import check_url, notify
from orchestrator.planfile import load_plan, save_plan
from orchestrator.runtime import prepare_process

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Coroutine

    from rich.console import RenderableType

    from orchestrator.models import Inventory, RunReport
    from orchestrator.plan import Plan
    from orchestrator.runstate import RunObserver

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3
# Above this many appliances, the table printed at the end of a run lists only the problems.
BRIEF_TABLE_ABOVE = 50


class App:
    """One invocation: the consoles, the settings and the command to run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)
        self.settings = settings_from(args)
        if self.settings.notify_url:
            check_url(self.settings.notify_url)
        self.interactive = sys.stdin.isatty() and sys.stdout.isatty()
        log_format = self.settings.log_format or ("console" if self.interactive else "json")
        self.log_format = log_format
        self.view: LiveView | None = None  # set when the run is shown live
        self.finished: RunReport | None = None  # the run's report, once it ended
        # While the live view owns the terminal, only warnings and errors are logged.
        configure_logging(log_format, level=logging.WARNING if self._live() else logging.INFO)

    # ----------------------------------------------------------------- validate
    def validate(self) -> int:
        """Parse and check the inventory; no network."""
        inventory = load_inventory(self.args.inventory)
        self._warn(inventory)
        roles: dict[str, int] = {}
        for appliance in inventory.appliances:
            key = appliance.role.value if appliance.role else "role from platform"
            roles[key] = roles.get(key, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in roles.items())
        count = len(inventory.appliances)
        noun = "appliance" if count == 1 else "appliances"
        self.out.print(f"{inventory.source}: OK, {count} {noun} ({detail})", markup=False)
        return EXIT_OK

    def _warn(self, inventory: Inventory) -> None:
        for warning in inventory.warnings:
            self.err.print(f"warning: {warning}", style="yellow", markup=False)

    # --------------------------------------------------------------------- plan
    def plan(self) -> int:
        """Observe the fleet and show the plan; save it with --out."""
        inventory = load_inventory(self.args.inventory)
        self._warn(inventory)
        plan = asyncio.run(workflow.make_plan(inventory, self.settings, offline=self.args.offline))
        self._show_plan(plan, self.args.format)
        if self.args.out:
            save_plan(plan, self.args.out)
            self.err.print(f"plan saved to {self.args.out}")
        return EXIT_BAD_INPUT if plan.refused else EXIT_OK

    def _show_plan(self, plan: Plan, fmt: str) -> None:
        if fmt == "json":
            self.out.out(planview.to_json(plan))
        elif fmt == "markdown":
            self.out.out(planview.to_markdown(plan))
        else:
            self.out.print(planview.render_table(plan, width=self.out.width))

    # -------------------------------------------------------------------- apply
    def apply(self) -> int:
        """Plan (or load and re-check a saved plan), confirm, execute, report."""
        inventory, plan = self._plan_for_apply()
        if plan.refused:
            self._show_plan(plan, "table")
            self.err.print("error: the plan is refused; nothing was changed", style="red")
            return EXIT_BAD_INPUT
        if not self._confirm(plan):
            return EXIT_BAD_INPUT
        result = self._with_signals(
            lambda stop: workflow.execute(
                plan, inventory, self.settings, observer=self._observer(plan), stop=stop
            )
        )
        return self._finish(result)

    def _plan_for_apply(self) -> tuple[Inventory, Plan]:
        asyncio.run(workflow.preflight(self.settings))
        if self.args.plan_file is None:
            if self.args.inventory is None:
                raise UsageError("apply needs an INVENTORY or --plan PLAN.json")
            inventory = load_inventory(self.args.inventory)
            self._warn(inventory)
            return inventory, asyncio.run(
                workflow.make_plan(inventory, self.settings, offline=False)
            )
        plan = load_plan(self.args.plan_file)
        self.settings = reviewed(self.settings, plan, self.args)
        inventory = load_inventory(self.args.inventory or Path(plan.inventory_source))
        self._warn(inventory)
        asyncio.run(workflow.recheck_saved_plan(plan, inventory, self.settings))
        return inventory, plan

    def _confirm(self, plan: Plan) -> bool:
        if not self.args.yes and self.interactive:
            self._show_plan(plan, "table")
        count = sum(1 for a in plan.appliances() if a.actionable)
        return self._ask(
            f"Upgrade {count} appliance(s) as planned?",
            unattended="review with `orchestrator plan`, then run apply with --yes",
        )

    def _ask(self, question: str, *, unattended: str) -> bool:
        """The user's yes (or --yes); without a terminal, refuse saying `unattended`."""
        if self.args.yes:
            return True
        if not self.interactive:
            self.err.print(f"error: no terminal to confirm on; {unattended}", style="red")
            return False
        try:
            answer = self.out.input(f"{question} [y/N] ", markup=False)
        except EOFError:
            answer = ""
        except KeyboardInterrupt:
            self.out.print()  # what is said next goes on a line of its own
            raise
        if answer.strip().lower() in {"y", "yes"}:
            return True
        self.err.print("nothing was changed")
        return False

    def _observer(self, plan: Plan) -> RunObserver:
        if not self._live():
            return LogObserver()
        self.view = LiveView(plan)
        return self.view

    def _live(self) -> bool:
        return self.interactive and self.log_format == "console"

    def _with_signals(
        self, start: Callable[[asyncio.Event], Coroutine[Any, Any, RunReport]]
    ) -> RunReport:
        return asyncio.run(self._supervise(start))

    async def _supervise(
        self, start: Callable[[asyncio.Event], Coroutine[Any, Any, RunReport]]
    ) -> RunReport:
        """Run `start` with SIGINT/SIGTERM handled: once stops new work, twice stops now."""
        stop = asyncio.Event()
        task = asyncio.ensure_future(start(stop))
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
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

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        if not self._live():
            return await task
        with Live(_ViewSlot(self), console=self.err, refresh_per_second=4, transient=True):
            return await task

    def _finish(self, result: RunReport) -> int:
        self.finished = result
        self.out.print(reporttable.render_table(result, brief_above=BRIEF_TABLE_ABOVE))
        if result.error:
            self.err.print(f"error: {result.error}", style="red", markup=False)
        if self.settings.report:
            try:
                for path in report.write_reports(result, self.settings.report):
                    self.err.print(f"report written to {path}")
            except ConfigError as exc:  # the run's own exit code matters more than the file
                self.err.print(f"error: {one_line(exc)}", style="red", markup=False)
        if self.settings.notify_url:
            asyncio.run(notify(self.settings.notify_url, report.summary_payload(result)))
        if result.exit_code == EXIT_INCOMPLETE:
            self.err.print(
                "the run is incomplete: `orchestrator resume` continues it (and re-enables "
                "any ingest still halted), or `orchestrator restore-ingest INVENTORY` "
                "re-enables ingest and closes it"
            )
        return result.exit_code

    # ------------------------------------------------------- resume and friends
    def resume(self) -> int:
        """Continue the newest interrupted run from the journal."""

        def inventory_for(source: str) -> Inventory:
            inventory = load_inventory(self.args.inventory or Path(source))
            self._warn(inventory)
            return inventory

        result = self._with_signals(
            lambda stop: workflow.resume(
                inventory_for, self.settings, observer_for=self._observer, stop=stop
            )
        )
        return self._finish(result)

    def status(self) -> int:
        """Print what the last run did, per appliance."""
        last = asyncio.run(workflow.last_report(self.settings))
        if last is None:
            where = "" if self.settings.state_db.exists() else " (no state database here)"
            self.out.print(f"{self.settings.state_db}: no run recorded yet{where}")
            return EXIT_OK
        summary, resumable, busy = last
        self.out.print(reporttable.render_table(summary))
        if busy is not None:
            self.out.print(f"a run holds the state database: {busy}; it may still be going")
        elif resumable:
            self.out.print("this run was interrupted: `orchestrator resume` continues it")
        return EXIT_OK

    def restore_ingest(self) -> int:
        """Re-enable ingest on every cluster the journal says the tool halted."""
        inventory = load_inventory(self.args.inventory)
        done, closed = asyncio.run(
            workflow.restore_ingest(inventory, self.settings, cluster=self.args.cluster)
        )
        if not done:
            self.out.print("no cluster halted by the orchestrator is waiting to be restored")
        failed = False
        for cluster, via, error in done:
            if error is None:
                self.out.print(f"ingest restored on cluster {cluster} via {via}")
            else:
                failed = True
                self.err.print(f"error: could not restore ingest on {cluster}: {error}")
        if closed is not None:
            self.out.print(
                f"closed the interrupted run started {closed.started_at:%Y-%m-%d %H:%M} UTC: "
                "it will not be resumed; plan afresh for what it left undone"
            )
        return EXIT_FAILED if failed else EXIT_OK

    def unlock(self) -> int:
        """Release the run lock of a run that is gone, on the user's word."""
        workflow.require_state_db(self.settings)
        held = unlock.held_lock(self.settings.state_db)
        if held is None:
            self.out.print(f"{self.settings.state_db}: not locked; nothing to do")
            return EXIT_OK
        self.out.print(held.line)
        if not held.gone and not self._ask(
            "Release the lock? Only if that run is no longer going",
            unattended="run unlock with --yes once you know that run is gone",
        ):
            return EXIT_BAD_INPUT
        self.out.print(unlock.release(self.settings.state_db, held))
        return EXIT_OK

    def simulate(self) -> int:
        """Serve a simulated fleet until interrupted."""
        from orchestrator.simulator.serve import serve_forever  # noqa: PLC0415 - heavy import

        def announce(line: str) -> None:
            self.out.print(line)

        try:
            asyncio.run(
                serve_forever(
                    self.args.scenario,
                    write_inventory=self.args.write_inventory,
                    event_log=self.args.event_log,
                    keys=self.args.keys,
                    mode=self.args.mode,
                    announce=announce,
                )
            )
        except KeyboardInterrupt:
            self.err.print("simulator stopped")
        return EXIT_OK

    def demo(self) -> int:
        """A simulated fleet upgraded end to end, in one command."""
        from orchestrator.demo import demo_fleet  # noqa: PLC0415 - pulls in the simulator

        async def run(stop: asyncio.Event) -> RunReport:
            async with demo_fleet(self.settings) as (inventory, settings, _fleet):
                self.settings = settings
                self.out.print(f"demo: simulated fleet of {len(inventory.appliances)} appliances")
                plan = await workflow.make_plan(inventory, settings, offline=False)
                self._show_plan(plan, "table")
                return await workflow.execute(
                    plan, inventory, settings, observer=self._observer(plan), stop=stop
                )

        return self._finish(self._with_signals(run))


class _ViewSlot:
    """Renders the app's live view once the run has made one (resume makes it late)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def __rich__(self) -> RenderableType:
        return self.app.view if self.app.view is not None else Text("starting...")


_COMMANDS: dict[str, Callable[[App], int]] = {
    "validate": App.validate,
    "plan": App.plan,
    "apply": App.apply,
    "resume": App.resume,
    "status": App.status,
    "restore-ingest": App.restore_ingest,
    "unlock": App.unlock,
    "simulate": App.simulate,
    "demo": App.demo,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    err = _console(stderr=True)
    prepare_process()
    command, app = "", None
    try:
        args = build_parser().parse_args(argv)
        command, app = args.command, App(args)
        return _COMMANDS[command](app)
    except UsageError as exc:
        err.print(f"error: {exc}\n(see `orchestrator --help`)", style="red", markup=False)
        return EXIT_BAD_INPUT
    except OrchestratorError as exc:
        err.print(f"error: {one_line(exc)}", style="red", markup=False)
        return EXIT_FAILED if _is_runtime(exc) else EXIT_BAD_INPUT
    except (KeyboardInterrupt, asyncio.CancelledError):
        # A run handles its own signals (App._with_signals); this is planning, a prompt, a
        # read, or the report and webhook after a run.
        if app is not None and app.finished is not None:
            err.print("interrupted after the run ended: its journal is complete (`status`)")
            return app.finished.exit_code
        if command == "restore-ingest":
            err.print("interrupted: run `orchestrator restore-ingest` again to finish")
        else:
            err.print("interrupted before anything was changed")
        return EXIT_INCOMPLETE


def _console(*, stderr: bool) -> Console:
    """A console that wraps only tables: messages stay one line, even in a log file."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120  # rich would assume 80 without a terminal
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=True)


def _is_runtime(exc: OrchestratorError) -> bool:
    from orchestrator.errors import ApplianceError  # noqa: PLC0415

    return isinstance(exc, ApplianceError)
