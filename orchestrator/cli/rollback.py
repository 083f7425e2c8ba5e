"""`orchestrator rollback RUN`: show what a run changed and would be undone, confirm, roll back.

Before asking, it shows each appliance's version now and the version it goes back to, the
appliances it refuses and why, and the vendor's warning that a rollback resets the
datastore. The confirmation is always typed (the number of appliances); `--yes` is for
scripts; declining is exit 4, as `apply`'s.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orchestrator.cli.exitcodes import EXIT_BAD_INPUT, EXIT_DECLINED, EXIT_OK
from orchestrator.inventory import load_inventory
from orchestrator.journal import new_run_id, runs
from orchestrator.plan import Action
from orchestrator.plan.rollback import DATASTORE_WARNING
from orchestrator.workflow.rollback import changed_by, find_source, inventory_path, plan_rollback

if TYPE_CHECKING:
    from orchestrator.cli.main import App
    from orchestrator.plan import Plan

__all__ = ["rollback"]


def rollback(app: App) -> int:
    """Plan the rollback of run `app.args.run`, confirm it, and run it like a run."""
    args = app.args
    runs.preflight(app.settings)
    source = find_source(app.settings, args.run)
    short = source.record.run_id[:8]
    changed = changed_by(source, args.appliance or ())
    if not changed:
        app.say(f"run {short} changed no appliance: nothing to roll back", event="rollback.nothing")
        return EXIT_OK
    inventory = load_inventory(args.inventory or inventory_path(source, app.settings))
    app.warn(inventory)
    app.inventory_source = inventory.source
    plan = asyncio.run(plan_rollback(source, changed, inventory, app.settings))
    app.show_plan(plan, "table")
    verdict = _confirm(app, plan, short)
    if verdict is not None:
        return verdict
    return app.execute(plan, inventory, command="rollback", run_id=new_run_id())


def _confirm(app: App, plan: Plan, short: str) -> int | None:
    """Say what the rollback does and ask for the count typed; None: go ahead."""
    lines = list(plan.appliances())
    refused = [line for line in lines if line.action is Action.REFUSED]
    for line in refused:
        app.voice.warning(f"{line.name}: not rolled back: {line.reason}", event="rollback.refused")
    count = sum(1 for line in lines if line.action is Action.ROLLBACK)
    if count == 0:
        if refused:
            app.voice.error("nothing can be rolled back; nothing was changed", event="plan.refused")
            return EXIT_BAD_INPUT
        app.say(
            "every appliance is already back on its version before the run", event="plan.no_changes"
        )
        return EXIT_OK
    noun = "appliance" if count == 1 else "appliances"
    app.say(f"Roll back {count} {noun} changed by run {short}", event="plan.summary", style="bold")
    app.say(f"warning: {DATASTORE_WARNING}", event="rollback.warned", style="bold red")
    if app.args.yes:
        return None
    if not app.can_ask:
        app.voice.error(
            "no terminal to confirm on; run rollback with --yes to roll back unattended",
            event="prompt.refused",
        )
        return EXIT_BAD_INPUT
    answer = app.ask_text(f"Type {count} to roll back these {count} {noun}: ")
    if answer.strip() == str(count):
        return None
    app.say("declined: nothing was changed", event="prompt.declined")
    return EXIT_DECLINED
