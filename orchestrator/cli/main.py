"""The commands that plan, run and look after runs: one `App` per invocation.

`orchestrator.cli.start` parses the command line, answers `validate`, `help` and
`completion` itself, and loads this module for every other command; it maps errors to exit
codes (0 done, 1 failed, 2 bad input, 3 incomplete, 4 declined).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from orchestrator.cli.args import UsageError, reviewed, settings_from
from orchestrator.cli.confirm import Verdict, confirm
from orchestrator.cli.exitcodes import (
    EXIT_BAD_INPUT,
    EXIT_DECLINED,
    EXIT_OK,
)
from orchestrator.cli.statecmds import StateCommands
from orchestrator.core.errors import ConfigError
from orchestrator.inventory import load_inventory
from orchestrator.journal import new_run_id, runs
from orchestrator.journal.legacy import legacy_notice
from orchestrator.plan import with_found_off_choice
from orchestrator.plan.file import load_plan, save_plan

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from orchestrator.core.models import Inventory, RunReport
    from orchestrator.plan import Plan

_VERDICT_CODES = {
    Verdict.NOTHING: EXIT_OK,
    Verdict.DECLINED: EXIT_DECLINED,
    Verdict.UNATTENDED: EXIT_BAD_INPUT,
}
_FOUND_OFF_ANSWERS = {"keep": "keep", "k": "keep", "enable": "enable", "e": "enable"}


class App(StateCommands):
    """One invocation: the consoles, the settings and the command to run."""

    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        self.argv = argv
        settings = settings_from(args)
        verbosity = getattr(args, "verbose", 0) - getattr(args, "quiet", 0)
        super().__init__(settings, verbosity=verbosity)
        uses_state = args.command not in {"validate", "simulate", "demo", "trust", "discover"}
        notice = legacy_notice(settings, explicit=args.state_db_given) if uses_state else None
        if notice is not None:
            self.say(f"note: {notice}", event="state_db.legacy_found", style="yellow")

    # --------------------------------------------------------------------- plan
    def plan(self) -> int:
        """Observe the fleet and show the plan; save it (and its picture beside it) with --out."""
        from orchestrator import workflow  # noqa: PLC0415 - loaded by the commands that use it
        from orchestrator.cli.planpage import check_out, plan_page, save_plan_page  # noqa: PLC0415

        check_out(self.args.out)
        inventory = load_inventory(self.args.inventory)
        self.warn(inventory)
        with self.hashing(inventory) as progress:
            plan = asyncio.run(
                workflow.make_plan(
                    inventory, self.settings, offline=self.args.offline, progress=progress
                )
            )
        if self.args.format == "html":
            self.out.out(plan_page(plan), end="")
        else:
            self.show_plan(plan, self.args.format)
        if self.args.out:
            save_plan(plan, self.args.out)
            self.say(f"plan saved to {self.args.out}", event="plan.saved")
            page = save_plan_page(plan, self.args.out)
            self.say(f"its picture: {page}", event="plan.page_saved")
        return EXIT_BAD_INPUT if plan.refused else EXIT_OK

    # -------------------------------------------------------------------- apply
    def apply(self) -> int:
        """Plan (or load and re-check a saved plan), confirm, execute, report."""
        run_id = self.args.run_id or new_run_id()
        structlog.contextvars.bind_contextvars(run_id=run_id)  # every event, planning too
        inventory, plan = self._plan_for_apply()
        self.inventory_source = inventory.source
        if plan.refused:
            self.show_plan(plan, "table")
            self.voice.error("the plan is refused; nothing was changed", event="plan.refused")
            return EXIT_BAD_INPUT
        plan = self._decide_found_off(plan)
        self.show_plan(plan, "table")  # the record of what is approved, --yes or not
        verdict = confirm(self, plan, yes=self.args.yes)
        if verdict is not Verdict.GO:
            return _VERDICT_CODES[verdict]
        if self.args.detach:
            from orchestrator.cli.detach import detach  # noqa: PLC0415 - only for --detach

            return detach(self, self._child_argv(plan))
        return self.execute(plan, inventory, run_id=run_id, plan_file=self.args.plan_file)

    def execute(
        self,
        plan: Plan,
        inventory: Inventory,
        *,
        run_id: str,
        command: str = "apply",
        plan_file: Path | None = None,
    ) -> int:
        """Run the confirmed `plan` as a new run, supervised here; report it, its exit code."""
        from orchestrator import workflow  # noqa: PLC0415 - loaded by the commands that use it

        result = self.with_signals(
            lambda stop: workflow.execute(
                plan,
                inventory,
                self.settings,
                observer=self.observer(plan),
                stop=stop,
                command=command,
                run_id=run_id,
                prompt=self.gate_prompt(),
                plan_file=plan_file,
            )
        )
        return self.finish(result)

    def _plan_for_apply(self) -> tuple[Inventory, Plan]:
        from orchestrator import workflow  # noqa: PLC0415 - loaded by the commands that use it

        runs.preflight(self.settings)
        if self.args.plan_file is None:
            if self.args.inventory is None:
                raise UsageError("apply needs an INVENTORY or --plan PLAN.json")
            inventory = load_inventory(self.args.inventory)
            self.warn(inventory)
            with self.hashing(inventory) as progress:
                return inventory, asyncio.run(
                    workflow.make_plan(inventory, self.settings, offline=False, progress=progress)
                )
        plan = load_plan(self.args.plan_file)
        self.settings = reviewed(self.settings, plan, self.args)
        inventory = load_inventory(self.args.inventory or Path(plan.inventory_source))
        self.warn(inventory)
        with self.hashing(inventory) as progress:
            prepared = workflow.prepare_saved_plan(plan, inventory, self.settings, progress)
            return inventory, asyncio.run(prepared)

    def _decide_found_off(self, plan: Plan) -> Plan:
        """The plan with a choice made for every Explore cluster whose ingest was found off."""
        undecided = plan.undecided_found_off()
        if not undecided:
            return plan
        clusters = ", ".join(undecided)
        if not self.can_ask:
            raise ConfigError(
                f"ingest on cluster {clusters} is already disabled, and no run of this tool "
                "disabled it: choose --ingest-found-off keep (leave it off) or "
                "--ingest-found-off enable (enable it after the upgrade); nothing was changed"
            )
        self.say(
            f"Ingest on cluster {clusters} is already disabled, and no run of this tool "
            "disabled it.",
            event="ingest.found_off",
            style="yellow",
        )
        answer = self.ask_text("Keep it off, or enable it after the upgrade? [keep/enable] ")
        choice = _FOUND_OFF_ANSWERS.get(answer.strip().lower())
        if choice is None:
            raise ConfigError(
                "no choice made for ingest found disabled (answer keep or enable, or pass "
                "--ingest-found-off); nothing was changed"
            )
        self.found_off_choice = choice
        return with_found_off_choice(plan, "keep" if choice == "keep" else "enable")

    def _child_argv(self, plan: Plan) -> list[str]:
        """The command line for the detached run: no --detach, --yes, the choices made here."""
        argv = [arg for arg in self.argv if arg != "--detach"]
        argv += ["--yes"]
        if self.found_off_choice is not None:
            argv += ["--ingest-found-off", self.found_off_choice]
        del plan  # the child plans (or re-checks the saved plan) again
        return argv

    # ------------------------------------------------------- resume and friends
    def resume(self) -> int:
        """Continue the newest interrupted run from the journal."""
        from orchestrator import workflow  # noqa: PLC0415 - loaded by the commands that use it

        def inventory_for(source: str) -> Inventory:
            inventory = load_inventory(self.args.inventory or Path(source))
            self.warn(inventory)
            return inventory

        result = self.with_signals(
            lambda stop: workflow.resume(
                inventory_for,
                self.settings,
                observer_for=self.observer,
                stop=stop,
                prompt=self.gate_prompt(),
            )
        )
        return self.finish(result)

    def rollback(self) -> int:
        """Undo a finished run on the appliances it changed (asks first)."""
        from orchestrator.cli.rollback import rollback  # noqa: PLC0415 - only for `rollback`

        return rollback(self)

    def watch(self) -> int:
        """Draw a run going on elsewhere until it ends; exit with its exit code."""
        from orchestrator.cli.watching import watch  # noqa: PLC0415 - only for `watch`

        return watch(self, self.args.run)

    def trust(self) -> int:
        """Show each appliance's certificate and pin the ones accepted (trust on first use)."""
        from orchestrator.cli.trust import trust  # noqa: PLC0415 - only for `trust`

        return trust(self, self.args.inventory)

    def discover(self) -> int:
        """Write an inventory of the fleet a Command appliance knows."""
        from orchestrator.cli.discover import discover  # noqa: PLC0415 - only for `discover`

        return discover(self)

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
                    tls=self.args.tls,
                )
            )
        except KeyboardInterrupt:
            self.say("simulator stopped", event="simulator.stopped")
        return EXIT_OK

    def demo(self) -> int:
        """A simulated fleet upgraded end to end, in one command."""
        from orchestrator import workflow  # noqa: PLC0415 - loaded by the commands that use it
        from orchestrator.cli.demo import demo_fleet  # noqa: PLC0415 - pulls in the simulator

        async def run(stop: asyncio.Event) -> RunReport:
            async with demo_fleet(self.settings) as (inventory, settings, _fleet):
                self.settings = settings
                self.out.print(f"demo: simulated fleet of {len(inventory.appliances)} appliances")
                plan = await workflow.make_plan(inventory, settings, offline=False)
                self.show_plan(plan, "table")
                return await workflow.execute(
                    plan, inventory, settings, observer=self.observer(plan), stop=stop
                )

        code = self.finish(self.with_signals(run))
        self.out.print(
            "demo: the simulated fleet and the demo's folder (its run, report and backups) are "
            "gone now; to keep a run, plan and apply against `orchestrator simulate "
            "--write-inventory fleet.yaml` (docs/simulator.md)",
            markup=False,
            style="dim",
        )
        return code


_COMMANDS: dict[str, Callable[[App], int]] = {
    "plan": App.plan,
    "apply": App.apply,
    "resume": App.resume,
    "rollback": App.rollback,
    "status": App.status,
    "history": App.history,
    "watch": App.watch,
    "continue": App.continue_run,
    "stop": App.stop_run,
    "restore-ingest": App.restore_ingest,
    "unlock": App.unlock,
    "simulate": App.simulate,
    "demo": App.demo,
    "trust": App.trust,
    "discover": App.discover,
}


def run_command(app: App) -> int:
    """Run the command the app was made for; its exit code."""
    return _COMMANDS[app.args.command](app)
