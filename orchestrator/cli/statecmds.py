"""The commands that look after runs in the state database.

status, history, continue, stop, restore-ingest and unlock.

`status` and `history` are in their own modules (`cli.status`, `cli.history`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestrator.cli.exitcodes import EXIT_BAD_INPUT, EXIT_DECLINED, EXIT_FAILED, EXIT_OK
from orchestrator.cli.gatecmds import answer_gate
from orchestrator.cli.screen import Screen
from orchestrator.inventory import load_inventory
from orchestrator.journal import runs, unlock

if TYPE_CHECKING:
    import argparse

__all__ = ["StateCommands"]


class StateCommands(Screen):
    """status, restore-ingest and unlock, for the command line's App."""

    args: argparse.Namespace

    def status(self) -> int:
        """Print what a run did (the newest by default); exit: whether it needs attention."""
        from orchestrator.cli.status import status  # noqa: PLC0415 - one command's module

        return status(self)

    def history(self) -> int:
        """Print every run, newest first, one line each."""
        from orchestrator.cli.history import history  # noqa: PLC0415 - one command's module

        return history(self)

    def continue_run(self) -> int:
        """Release the gate a run waits at."""
        return answer_gate(self, "continue")

    def stop_run(self) -> int:
        """Stop a run at the gate it waits at: nothing behind the gate starts."""
        return answer_gate(self, "stop")

    def restore_ingest(self) -> int:
        """Re-enable ingest on every cluster the journal says the tool halted."""
        from orchestrator.workflow.restore import restore_ingest  # noqa: PLC0415 - only here

        inventory = load_inventory(self.args.inventory)
        done = asyncio.run(
            restore_ingest(
                inventory, self.settings, cluster=self.args.cluster, force=self.args.force
            )
        )
        for node in done.forced:
            self.voice.warning(
                f"re-enabled ingest while {node} is mid-upgrade (--force)", event="ingest.forced"
            )
        if not done.clusters:
            self.out.print("no cluster halted by the orchestrator is waiting to be restored")
        failed = False
        for cluster, via, error in done.clusters:
            if error is None:
                self.out.print(f"ingest restored on cluster {cluster} via {via}")
            else:
                failed = True
                self.voice.error(
                    f"could not restore ingest on {cluster}: {error}", event="ingest.restore_failed"
                )
        if done.closed is not None:
            self.out.print(
                f"closed the interrupted run started {done.closed.started_at:%Y-%m-%d %H:%M} "
                "UTC: it will not be resumed; plan afresh for what it left undone"
            )
        return EXIT_FAILED if failed else EXIT_OK

    def unlock(self) -> int:
        """Release the run lock of a run that is gone, on the user's word."""
        runs.require_state_db(self.settings)
        held = unlock.held_lock(self.settings.state_db)
        if held is None:
            self.out.print(f"{self.settings.state_db}: not locked; nothing to do")
            return EXIT_OK
        self.out.print(held.line)
        if not held.gone:
            answer = self.ask(
                "Release the lock? Only if that run is no longer going",
                yes=self.args.yes,
                unattended="run unlock with --yes once you know that run is gone",
            )
            if answer is not True:
                return EXIT_BAD_INPUT if answer is None else EXIT_DECLINED
        self.out.print(unlock.release(self.settings.state_db, held))
        return EXIT_OK
