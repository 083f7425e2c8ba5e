"""The parts of the command line every command shares.

The parser (usage errors as `UsageError`, a suggestion for a mistyped command, choice or flag,
help laid out by rich-argparse), the global options, and setting flags whose help names
their default and their ORCHESTRATOR_* variable.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, NoReturn

from rich_argparse import RichHelpFormatter

from orchestrator.core.config import ENV_PREFIX, Settings
from orchestrator.core.errors import ConfigError

__all__ = [
    "GLOBAL_SETTINGS",
    "HelpFormatter",
    "Parser",
    "UsageError",
    "default_text",
    "env_name",
    "global_options",
    "setting",
    "suggest_flag",
]

GLOBAL_SETTINGS = ("log_format", "state_db")  # settings every command takes, with --config
# What a setting without a value of its own means, in words.
_UNSET = {
    "window_end": "none",
    "batches": "each stage is one batch",
    "pause_after": "no gates",
    "schedule": "graph; waves with --pause-after",
    "clusters_at_once": "no limit",
    "cluster_starts": "the plan's choice: the shortest run, then the least ingest-off",
    "ingest_found_off": "ask on a terminal, refuse without one",
    "report": "none",
    "notify_url": "none",
    "log_format": "console on a terminal, else json",
}


class UsageError(ConfigError):
    """A command-line usage problem (exit 2); `command` names the command it concerns."""

    def __init__(self, message: str, *, command: str | None = None) -> None:
        self.command = command
        super().__init__(message)

    @property
    def hint(self) -> str:
        """Where to read how the command is used."""
        if self.command in {None, "help"}:
            return "orchestrator help"
        return f"orchestrator help {self.command}"


def _heading(title: str) -> str:
    """`Global options`, not rich-argparse's `Global Options`."""
    return title[:1].upper() + title[1:]


class HelpFormatter(RichHelpFormatter):
    """rich-argparse's layout, with help texts taken literally (`[default: …]` is not markup)."""

    help_markup = False
    text_markup = False
    group_name_formatter = _heading


class Parser(argparse.ArgumentParser):
    """An argument parser that raises UsageError, and suggests what a typo meant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - argparse's own
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self.commands: dict[str, Parser] = {}  # the sub-commands' parsers, by name

    def add_commands(self, **kwargs: Any) -> Any:  # noqa: ANN401 - argparse's private action
        """The sub-commands' action, remembered so that `commands` lists them.

        Their `prog` is given: argparse would otherwise format a usage line to find it, and
        the help formatter (rich) would load for every command, `validate` included.
        """
        kwargs.setdefault("prog", self.prog)
        action = self.add_subparsers(parser_class=Parser, **kwargs)
        self.commands = action.choices
        return action

    def error(self, message: str) -> NoReturn:
        """Raise UsageError: the command line prints it as one line, exit 2."""
        command = self.prog.removeprefix("orchestrator").strip() or None
        raise UsageError(f"{self.prog}: {message}", command=command)

    def _check_value(self, action: argparse.Action, value: Any) -> None:  # noqa: ANN401
        """Refuse a value outside the choices, suggesting the closest one."""
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        if action.metavar == "COMMAND":  # the command, or the command `help` describes
            listed = "" if close else f"; the commands are {', '.join(names)}"
            raise argparse.ArgumentError(None, f"unknown command {value!r}{hint}{listed}")
        message = f"invalid choice: {value!r} (choose from {', '.join(names)}){hint}"
        raise argparse.ArgumentError(action, message)


def suggest_flag(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """`unrecognized arguments: …`, with the closest flag of `parser` when one is close."""
    flags = [
        option
        for action in parser._actions  # noqa: SLF001 - argparse lists its flags nowhere public
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    ]
    first = extra[0].split("=", 1)[0]
    close = difflib.get_close_matches(first, flags, n=1) if first.startswith("-") else []
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unrecognized arguments: {' '.join(extra)}{hint}"


def env_name(name: str) -> str:
    """The variable that sets `name`: ORCHESTRATOR_CONCURRENCY for concurrency."""
    return f"{ENV_PREFIX}{name.upper()}"


def default_text(name: str) -> str:
    """A setting's default, as help shows it."""
    if name in _UNSET:
        return _UNSET[name]
    value = Settings.model_fields[name].get_default(call_default_factory=True)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, Path):
        home = Path.home()
        return f"~/{value.relative_to(home)}" if value.is_relative_to(home) else str(value)
    return str(value)


def setting(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    text: str,
    *,
    unset: str | None = None,
    **kwargs: Any,  # noqa: ANN401 - add_argument's own
) -> argparse.Action:
    """A flag for the setting `flag` names; its help ends with its default and its variable.

    The flag's own default is None (or absent): the variable, the file or the setting's
    default decide when it is not given. `unset` says in words what that default is, where
    the setting's own does not.
    """
    name = flag.removeprefix("--").replace("-", "_")
    shown = unset or default_text(name)
    kwargs.setdefault("default", None)
    full = f"{text} [default: {shown}] [env: {env_name(name)}]"
    return parser.add_argument(flag, help=full.replace("%", "%%"), **kwargs)


def global_options(parser: argparse.ArgumentParser) -> None:
    """--config, --log-format, -q, -v and --state-db: taken before the command and after it."""
    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="a YAML settings file: used where no flag or ORCHESTRATOR_<NAME> variable gives "
        "a setting [default: none]",
    )
    setting(
        group,
        "--log-format",
        "how events are logged on standard error",
        choices=["console", "json"],
        default=argparse.SUPPRESS,
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=argparse.SUPPRESS,
        help="log only warnings and errors [default: info and above; only warnings and errors "
        "while the live view is drawn]",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log every event, debug included [default: info and above]",
    )
    setting(
        group,
        "--state-db",
        "the state database: the runs, their journal and lock",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
    )
