"""The command line's grammar: sub-commands and flags, and the settings they resolve to.

Every flag has help; a flag that is a setting says its default and its ORCHESTRATOR_*
variable (docs/cli.md, Settings). The global options are accepted before or after the
command; a mistyped command or flag gets a suggestion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli.discover import add_discover
from orchestrator.cli.grammar import (
    GLOBAL_SETTINGS,
    Parser,
    UsageError,
    global_options,
    setting,
    suggest_flag,
)
from orchestrator.core.about import tool_version
from orchestrator.core.batchsizes import BatchSizes
from orchestrator.core.config import parse_window_end, resolve_settings, window_still_open
from orchestrator.core.errors import ConfigError

if TYPE_CHECKING:
    from orchestrator.core.config import Settings
    from orchestrator.plan import Plan

__all__ = ["UsageError", "build_parser", "parse_command_line", "reviewed", "settings_from"]

_RUNS = frozenset({"plan", "apply", "resume", "rollback"})  # the commands a window applies to
_DESCRIPTION = "Upgrade the firmware of an ExtraHop deployment, in the vendor's order."
_EPILOG = (
    "`orchestrator help COMMAND` (or `orchestrator COMMAND --help`) describes a command. "
    "Settings come from a flag, else ORCHESTRATOR_<NAME>, else the --config file, else the "
    "default. Exit codes: 0 done, 1 an appliance failed, 2 bad input (nothing changed), "
    "3 incomplete (`orchestrator resume`)."
)
_INVENTORY = "the inventory: YAML, headered CSV or vendor CSV (docs/inventory.md)"
_RUN = "a run id or its first digits [default: the newest run]"


def _run_flags(parser: argparse.ArgumentParser) -> None:
    setting(
        parser, "--concurrency", "appliances upgraded at once within a wave", type=int, metavar="N"
    )
    setting(
        parser,
        "--window-end",
        "end of the maintenance window: ISO 8601, or HH:MM for the next such local time",
        metavar="TIME",
    )
    setting(
        parser,
        "--allow-downgrade",
        "permit targets lower than the running version",
        action="store_true",
    )
    setting(
        parser,
        "--batches",
        "within each stage, upgrade in batches of these sizes (the last repeats), e.g. 1,5,25%",
        metavar="SIZES",
    )
    setting(
        parser,
        "--schedule",
        "graph: each appliance starts once what it depends on is done; waves: stage after stage",
        choices=["graph", "waves"],
    )
    setting(
        parser,
        "--clusters-at-once",
        "graph: start a new Explore cluster only while fewer than N are in progress (ingest "
        "off), so each cluster's ingest is off for less time; the run may take longer",
        type=int,
        metavar="N",
    )
    setting(
        parser,
        "--cluster-starts",
        "graph: an Explore cluster starts when ready, or only while its nodes fit the slots "
        "(with those its next nodes need kept), or the same unless a slot would idle",
        choices=["ready", "fit", "fit-or-idle"],
    )
    setting(
        parser,
        "--pause-after",
        "wait at a gate after each stage or batch until `orchestrator continue RUN`",
        choices=["stage", "batch"],
    )
    setting(
        parser,
        "--ingest-found-off",
        "an Explore cluster found with ingest disabled: keep it off, or enable it after",
        choices=["keep", "enable"],
    )


def _yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y", "--yes", action="store_true", help="do not ask for confirmation [default: ask]"
    )


def _apply_flags(parser: argparse.ArgumentParser) -> None:
    _yes(parser)
    setting(
        parser,
        "--max-failures",
        "stop starting new appliances once more than N (or P% of them) have failed",
        metavar="N|P%",
    )
    parser.add_argument(
        "--no-backup",
        action="store_true",
        default=None,
        help="do not save each appliance's customizations and running config into the run's "
        "folder before changing it [default: save them] (the setting `backup`: docs/cli.md)",
    )
    _report_flags(parser)
    parser.add_argument(
        "--detach",
        action="store_true",
        help="run in the background, without a terminal; `orchestrator watch` shows it "
        "[default: off]",
    )
    parser.add_argument("--run-id", type=_run_id, help=argparse.SUPPRESS)


def _report_flags(parser: argparse.ArgumentParser) -> None:
    setting(
        parser,
        "--report",
        "also write the run's report here as JSON (and Markdown and HTML beside it)",
        type=Path,
        metavar="PATH",
    )
    setting(parser, "--notify-url", "POST the JSON summary to this URL at the end", metavar="URL")
    setting(
        parser,
        "--notify-start",
        "also POST to --notify-url when the run starts (or resumes)",
        action="store_true",
    )


def _format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="for people, or one JSON document for scripts (docs/cli.md) [default: table]",
    )


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _run_id(text: str) -> str:
    if re.fullmatch(r"[0-9a-f]{32}", text) is None:
        raise argparse.ArgumentTypeError("a run id is 32 hexadecimal digits")
    return text


def build_parser() -> Parser:
    """The argument parser for every sub-command."""
    parser = Parser(prog="orchestrator", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {tool_version()}")
    global_options(parser)
    sub = parser.add_commands(dest="command", required=True, metavar="COMMAND", title="commands")
    _run_commands(sub)
    _state_commands(sub)
    _tool_commands(sub)
    _help_commands(sub)
    for command in parser.commands.values():
        global_options(command)
    return parser


def _command(sub: Any, name: str, summary: str) -> Parser:  # noqa: ANN401 - argparse's private subparsers action
    """A sub-command with its one-line summary."""
    parser: Parser = sub.add_parser(name, help=summary, description=summary)
    return parser


def _run_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """validate, plan, apply, resume."""
    p = _command(sub, "validate", "parse and check an inventory; no network")
    p.add_argument("inventory", type=Path, metavar="INVENTORY", help=_INVENTORY)
    p = _command(sub, "plan", "read the fleet and show what apply would do; changes nothing")
    p.add_argument("inventory", type=Path, metavar="INVENTORY", help=_INVENTORY)
    p.add_argument(
        "--offline",
        action="store_true",
        help="plan from the inventory alone, reading no appliance [default: off]",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="save the plan as JSON, for `apply --plan`, and its picture beside it "
        "(plan.json -> plan.html) [default: not saved]",
    )
    p.add_argument(
        "--format",
        choices=["table", "json", "markdown", "html"],
        default="table",
        help="how to print the plan; html: one self-contained page with its projected "
        "timeline [default: table]",
    )
    _run_flags(p)
    p = _command(sub, "apply", "upgrade the fleet: plan (or re-check a saved plan), confirm, run")
    p.add_argument("inventory", type=Path, nargs="?", metavar="INVENTORY", help=_INVENTORY)
    p.add_argument(
        "--plan",
        type=Path,
        dest="plan_file",
        metavar="PLAN.json",
        help="apply a plan saved by `plan --out`, re-checked against the fleet "
        "[default: plan afresh from INVENTORY]",
    )
    _run_flags(p)
    _apply_flags(p)
    p = _command(sub, "resume", "continue the newest interrupted run from its journal")
    setting(
        p,
        "--window-end",
        "this window's end: ISO 8601, or HH:MM for the next such local time",
        unset="the run's own window, while it is open",
        metavar="TIME",
    )
    p.add_argument(
        "--inventory",
        type=Path,
        metavar="PATH",
        help="the inventory [default: the one the run was started with]",
    )
    _report_flags(p)
    _rollback_command(sub)


def _rollback_command(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """rollback: undo a finished run on the appliances it changed."""
    p = _command(sub, "rollback", "undo a run: restart what it upgraded into the previous firmware")
    p.add_argument("run", metavar="RUN", help="the run to undo: its id or its first digits")
    p.add_argument(
        "--appliance",
        action="append",
        metavar="NAME",
        help="only this appliance (repeat for more) [default: every one the run changed]",
    )
    p.add_argument(
        "--inventory",
        type=Path,
        metavar="PATH",
        help="the inventory, for URLs and keys [default: the one the run used]",
    )
    _yes(p)
    setting(
        p, "--concurrency", "appliances rolled back at once within a wave", type=int, metavar="N"
    )
    setting(
        p,
        "--max-failures",
        "stop starting new appliances once more than N (or P% of them) have failed",
        metavar="N|P%",
    )
    setting(
        p,
        "--window-end",
        "end of the maintenance window: ISO 8601, or HH:MM for the next such local time",
        metavar="TIME",
    )
    _report_flags(p)


def _state_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """status, history, watch, restore-ingest, unlock: what the state database knows of runs."""
    p = _command(sub, "status", "what a run did; its exit code says whether it needs you")
    p.add_argument("run", nargs="?", metavar="RUN", help=_RUN)
    _format(p)
    p = _command(sub, "history", "every run, newest first, one line each")
    p.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="runs shown [default: 20]"
    )
    _format(p)
    p = _command(sub, "watch", "show a run going on elsewhere, live, until it ends")
    p.add_argument("run", nargs="?", metavar="RUN", help=_RUN)
    p = _command(sub, "continue", "release the gate a run waits at (--pause-after)")
    p.add_argument("run", nargs="?", metavar="RUN", help=_RUN)
    p = _command(sub, "stop", "stop a run at the gate it waits at: nothing behind it starts")
    p.add_argument("run", nargs="?", metavar="RUN", help=_RUN)
    p = _command(sub, "restore-ingest", "re-enable ingest the tool halted (after a crash)")
    p.add_argument("inventory", type=Path, metavar="INVENTORY", help=_INVENTORY)
    p.add_argument(
        "--cluster", metavar="NAME", help="only this Explore cluster [default: every one]"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-enable ingest even while the journal shows a node mid-upgrade [default: off]",
    )
    p = _command(sub, "unlock", "release the lock of a run that is gone (asks first)")
    _yes(p)


def _tool_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """simulate, demo, trust, discover."""
    add_discover(sub, _command)
    p = _command(sub, "simulate", "serve a simulated fleet on 127.0.0.1 until Ctrl-C")
    p.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        metavar="SCENARIO.yaml",
        help="the fleet and its faults (docs/simulator.md) [default: the built-in lab fleet]",
    )
    p.add_argument(
        "--write-inventory",
        type=Path,
        metavar="PATH",
        help="write an inventory of the served fleet here, to plan and apply [default: none]",
    )
    p.add_argument(
        "--event-log",
        type=Path,
        metavar="PATH",
        help="append every event of the fleet here, one JSON object per line [default: none]",
    )
    p.add_argument(
        "--keys",
        choices=["file", "env"],
        default="file",
        help="how the written inventory gives API keys: key files, or variables "
        "(an .env file beside it) [default: file]",
    )
    p.add_argument(
        "--mode",
        choices=["file", "url", "cloud"],
        default="file",
        help="how the written inventory gives firmware: image files, URLs the appliances "
        "download, or cloud versions [default: file]",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with certificates from the fleet's own CA, written beside the "
        "inventory as its ca_bundle [default: plain HTTP]",
    )
    _command(sub, "demo", "a simulated fleet planned and upgraded end to end, in one command")
    p = _command(
        sub, "trust", "show each appliance's TLS certificate and pin it (trust on first use)"
    )
    p.add_argument("inventory", type=Path, metavar="INVENTORY", help=_INVENTORY)
    _yes(p)
    p.add_argument(
        "--replace",
        action="store_true",
        help="with --yes, also re-pin an appliance whose certificate changed [default: ask]",
    )


def _help_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """help, completion."""
    p = _command(sub, "completion", "print a shell completion script")
    p.add_argument(
        "shell",
        choices=["bash", "zsh", "fish"],
        help="the shell: `orchestrator completion bash > ~/.local/share/bash-completion/"
        "completions/orchestrator` (docs/cli.md for zsh and fish)",
    )
    p = _command(sub, "help", "describe a command, or list them all")
    p.add_argument(
        "topic", nargs="?", metavar="COMMAND", choices=list(sub.choices), help="a command"
    )


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """Parse `argv`; UsageError (with a suggestion where one is close) if it does not parse."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = parser.commands[args.command]
        raise UsageError(f"{command.prog}: {suggest_flag(command, extra)}", command=args.command)
    for name in ("config", *GLOBAL_SETTINGS):  # given nowhere: None, as every command expects
        if not hasattr(args, name):
            setattr(args, name, None)
    for name in ("quiet", "verbose"):  # counted: -qq is quieter than -q
        if not hasattr(args, name):
            setattr(args, name, 0)
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    """The run's settings: these flags over ORCHESTRATOR_* over --config over defaults."""
    cli: dict[str, Any] = {}
    names = ("concurrency", "max_failures", "state_db", "report", "notify_url", "log_format")
    more = ("ingest_found_off", "batches", "pause_after", "schedule")
    graph = ("clusters_at_once", "cluster_starts")
    for name in (*names, *more, *graph):
        cli[name] = getattr(args, name, None)
    cli["allow_downgrade"] = getattr(args, "allow_downgrade", None)
    cli["notify_start"] = getattr(args, "notify_start", None)
    cli["backup"] = False if getattr(args, "no_backup", False) else None
    window = getattr(args, "window_end", None)
    now = dt.datetime.now(dt.UTC)
    if window is not None:  # an empty --window-end is refused, not taken as no window
        cli["window_end"] = parse_window_end(window, now)
        if cli["window_end"] <= now:
            raise ConfigError(f"--window-end {window} is in the past; give the window's end")
    settings = resolve_settings(cli, os.environ, args.config)
    if args.command in _RUNS:  # a window set earlier (variable, file) must still be open
        window_still_open(settings.window_end, "set by ORCHESTRATOR_WINDOW_END or --config")
    if settings.report is not None:
        _check_report_path(settings.report)
    if settings.notify_start and not settings.notify_url and args.command in _RUNS:
        raise ConfigError(
            "--notify-start needs --notify-url (or ORCHESTRATOR_NOTIFY_URL, or notify_url in "
            "--config): where to send the notification"
        )
    return settings


def _check_report_path(path: Path) -> None:
    """Refuse, before anything changes, a report path the end of the run could not write."""
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"--report {path}: folder {folder} does not exist")
    if path.is_dir():
        raise ConfigError(f"--report {path} is a folder; give a file, e.g. {path / 'run.json'}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--report {path}: folder {folder} is not writable")


def reviewed(settings: Settings, plan: Plan, args: argparse.Namespace) -> Settings:
    """A saved plan runs with the concurrency, window, batches, gates and schedule reviewed.

    A flag overrides each; batches that differ from the plan's then refuse the plan.
    """
    update: dict[str, Any] = {"allow_downgrade": plan.allow_downgrade or settings.allow_downgrade}
    if args.concurrency is None:
        update["concurrency"] = plan.concurrency
    if args.window_end is None:
        update["window_end"] = window_still_open(plan.window_end, "the plan was reviewed with")
    if getattr(args, "batches", None) is None:
        update["batches"] = BatchSizes.parse(plan.batch_sizes) if plan.batch_sizes else None
    if getattr(args, "pause_after", None) is None:
        update["pause_after"] = plan.pause_after
    if getattr(args, "schedule", None) is None:
        update["schedule"] = plan.schedule
    if getattr(args, "clusters_at_once", None) is None:
        update["clusters_at_once"] = plan.clusters_at_once
    if getattr(args, "cluster_starts", None) is None and plan.schedule == "graph":
        update["cluster_starts"] = plan.cluster_starts  # the choice reviewed, made or not
    return settings.model_copy(update=update)
