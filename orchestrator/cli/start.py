"""The command line's start: parse, answer the light commands, load the rest only when needed.

`validate`, `help` and `completion` run from here without loading the client, the engine, the
journal or the live view (`orchestrator.cli.main`, whose `App` runs every other command), so
they start in a fraction of the time. Errors become one line and an exit code here: 0
everything upgraded or already current; 1 an appliance failed or was blocked; 2 bad input or
configuration (nothing changed); 3 incomplete (interrupted, or the window closed with work
left: `resume` continues). `watch` stopped with Ctrl-C: 130 (the run goes on).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from orchestrator.cli import interrupts, terminal
from orchestrator.cli.args import UsageError, parse_command_line
from orchestrator.cli.errortext import say_error
from orchestrator.cli.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INCOMPLETE
from orchestrator.cli.helpcmd import SELF_COMMANDS
from orchestrator.cli.runtime import prepare_process
from orchestrator.cli.validate import validate
from orchestrator.cli.voice import Voice, environment, log_format_for
from orchestrator.core.errors import ApplianceError, OrchestratorError

if TYPE_CHECKING:
    from orchestrator.cli.main import App

__all__ = ["main"]


def _interruptions() -> tuple[type[BaseException], ...]:
    """Ctrl-C, and a cancelled task (asyncio is loaded only if an exception gets this far)."""
    import asyncio  # noqa: PLC0415 - evaluated only while an exception is being handled

    return (KeyboardInterrupt, asyncio.CancelledError)


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command, app = "", None
    voice = Voice(log_format_for(argv, environment()))
    try:
        terminal.install()
        voice = Voice(log_format_for(argv, environment()))  # on the streams that outlive it
        interrupts.install()
        prepare_process()
        args = parse_command_line(argv)
        if args.command in SELF_COMMANDS:  # help, completion: no settings needed
            return SELF_COMMANDS[args.command](args)
        if args.command == "validate":  # no network, no state: nothing else to load
            return validate(args, voice)
        from orchestrator.cli.main import App, run_command  # noqa: PLC0415 - the heavy part

        args.state_db_given = any(a == "--state-db" or a.startswith("--state-db=") for a in argv)
        command, app = args.command, App(args, argv)
        return run_command(app)
    except UsageError as exc:
        say_error(voice, exc, event="usage.refused")
        return EXIT_BAD_INPUT
    except OrchestratorError as exc:  # one line, or a heading and a line per problem
        say_error(voice, exc, event=_error_event(exc))
        return EXIT_FAILED if isinstance(exc, ApplianceError) else EXIT_BAD_INPUT
    except _interruptions():
        return _interrupted(app.voice if app is not None else voice, command, app)


def _error_event(exc: OrchestratorError) -> str:
    """`error.config_error`, `error.drift_error`...: the kind of error, for machines."""
    name = type(exc).__name__
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return f"error.{snake}"


def _interrupted(voice: Voice, command: str, app: App | None) -> int:
    """Ctrl-C (or SIGTERM) outside a run: planning, a prompt, a read, the report, the webhook."""
    if app is not None and app.finished is not None:
        voice.say(
            "interrupted after the run ended: its journal is complete (`status`)",
            event="command.interrupted",
        )
        app.log_finished(app.finished)
        return app.finished.exit_code
    if command == "restore-ingest":
        from orchestrator.core.statehome import db_flag  # noqa: PLC0415 - only for this hint

        inventory = app.args.inventory if app is not None else "INVENTORY"
        db = db_flag(app.settings.state_db) if app is not None else ""
        voice.say(
            f"interrupted: run `orchestrator restore-ingest {inventory}{db}` again to finish",
            event="command.interrupted",
        )
    elif command == "watch":
        voice.say("stopped watching; the run (if it is going) goes on", event="watch.stopped")
        return 130
    else:
        voice.say("interrupted before anything was changed", event="command.interrupted")
    if "logging" in sys.modules:  # flush what the run's log handlers hold
        sys.modules["logging"].shutdown()
    return EXIT_INCOMPLETE
