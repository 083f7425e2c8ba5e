"""The command line's grammar: sub-commands and flags, and the settings they resolve to."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.core.config import parse_window_end, resolve_settings, window_still_open
from orchestrator.core.errors import ConfigError

if TYPE_CHECKING:
    from orchestrator.core.config import Settings
    from orchestrator.plan import Plan

__all__ = ["UsageError", "build_parser", "reviewed", "settings_from"]

_RUNS = frozenset({"plan", "apply", "resume"})  # the commands a window applies to
_DESCRIPTION = "Upgrade the firmware of an ExtraHop deployment, in the vendor's order."


class UsageError(ConfigError):
    """A command-line usage problem (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # noqa: ANN401 - argparse's signature (NoReturn)
        raise UsageError(f"{self.prog}: {message}")


def _version() -> str:
    try:
        return importlib.metadata.version("extrahop-orchestrator")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "(not installed)"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (YAML)")
    parser.add_argument("--log-format", choices=["console", "json"], default=None)
    parser.add_argument(
        "-q", "--quiet", action="count", default=0, help="log only warnings and errors"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log every event, debug included"
    )


def _state_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-db",
        type=Path,
        help="state database (default: ~/.local/state/orchestrator/state.db)",
    )


def _run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, help="appliances upgraded at once per wave")
    parser.add_argument("--window-end", help="end of the maintenance window: ISO 8601 or HH:MM")
    parser.add_argument("--allow-downgrade", action="store_true", default=None)
    parser.add_argument(
        "--ingest-found-off",
        choices=["keep", "enable"],
        help="an Explore cluster found with ingest disabled: keep it off, or enable it after",
    )
    _state_db(parser)


def _apply_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--max-failures", help="stop starting new appliances past N or P%%")
    parser.add_argument("--report", type=Path, help="write the report as JSON (and .md)")
    parser.add_argument("--notify-url", help="POST the JSON summary here at the end")
    parser.add_argument(
        "--detach",
        action="store_true",
        help="run in the background, without a terminal; `orchestrator watch` shows it",
    )
    parser.add_argument("--run-id", type=_run_id, help=argparse.SUPPRESS)


def _run_id(text: str) -> str:
    if re.fullmatch(r"[0-9a-f]{32}", text) is None:
        raise argparse.ArgumentTypeError("a run id is 32 hexadecimal digits")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = _Parser(prog="orchestrator", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _run_commands(sub)
    _state_commands(sub)
    _tool_commands(sub)
    return parser


def _run_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """validate, plan, apply, resume."""
    p = sub.add_parser("validate", help="parse and check an inventory; no network")
    p.add_argument("inventory", type=Path)
    _common(p)
    p = sub.add_parser("plan", help="observe the fleet and show what apply would do")
    p.add_argument("inventory", type=Path)
    p.add_argument("--offline", action="store_true", help="plan from the inventory alone")
    p.add_argument("--out", type=Path, help="save the plan as JSON for apply --plan")
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    _run_flags(p)
    _common(p)
    p = sub.add_parser("apply", help="upgrade the fleet")
    p.add_argument("inventory", type=Path, nargs="?")
    p.add_argument("--plan", type=Path, dest="plan_file", help="apply a saved plan")
    _run_flags(p)
    _apply_flags(p)
    _common(p)
    p = sub.add_parser("resume", help="continue the last interrupted run")
    _state_db(p)
    p.add_argument("--window-end", help="this window's end (the run's own window by default)")
    p.add_argument("--inventory", type=Path, help="inventory (default: the run's own)")
    p.add_argument("--report", type=Path)
    p.add_argument("--notify-url")
    _common(p)


def _state_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """status, watch, restore-ingest, unlock: what the state database knows about runs."""
    p = sub.add_parser("status", help="what the last run did, per appliance")
    p.add_argument("run", nargs="?", help="a run id or its first digits (default: the newest)")
    _state_db(p)
    _common(p)
    p = sub.add_parser("watch", help="show a run going on elsewhere, live, until it ends")
    p.add_argument("run", nargs="?", help="a run id or its first digits (default: the newest)")
    _state_db(p)
    _common(p)
    p = sub.add_parser("restore-ingest", help="re-enable ingest the tool halted")
    p.add_argument("inventory", type=Path)
    p.add_argument("--cluster", help="only this Explore cluster")
    p.add_argument(
        "--force",
        action="store_true",
        help="re-enable ingest even while the journal shows a node mid-upgrade",
    )
    _state_db(p)
    _common(p)
    p = sub.add_parser("unlock", help="release the lock of a run that is gone")
    _state_db(p)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _common(p)


def _tool_commands(sub: Any) -> None:  # noqa: ANN401 - argparse's private subparsers action
    """simulate, demo."""
    p = sub.add_parser("simulate", help="serve a simulated fleet until Ctrl-C")
    p.add_argument("scenario", type=Path, nargs="?")
    p.add_argument("--write-inventory", type=Path)
    p.add_argument("--event-log", type=Path)
    p.add_argument("--keys", choices=["file", "env"], default="file")
    p.add_argument("--mode", choices=["file", "url", "cloud"], default="file")
    _common(p)
    p = sub.add_parser("demo", help="simulated fleet + full apply, in one command")
    _common(p)


def settings_from(args: argparse.Namespace) -> Settings:
    """The run's settings: these flags over ORCHESTRATOR_* over --config over defaults."""
    cli: dict[str, Any] = {}
    names = ("concurrency", "max_failures", "state_db", "report", "notify_url", "log_format")
    for name in (*names, "ingest_found_off"):
        cli[name] = getattr(args, name, None)
    cli["allow_downgrade"] = getattr(args, "allow_downgrade", None)
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
    """A saved plan runs with the concurrency and window it was reviewed with, unless overridden."""
    update: dict[str, Any] = {"allow_downgrade": plan.allow_downgrade or settings.allow_downgrade}
    if args.concurrency is None:
        update["concurrency"] = plan.concurrency
    if args.window_end is None:
        update["window_end"] = window_still_open(plan.window_end, "the plan was reviewed with")
    return settings.model_copy(update=update)
