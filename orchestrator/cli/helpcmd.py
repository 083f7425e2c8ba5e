"""`orchestrator help [COMMAND]` and `orchestrator completion bash|zsh|fish`.

Both read only the grammar: no settings, no inventory, no state database, so they work
whatever the environment holds. Completion scripts are static (shtab): pressing Tab never
starts Python, which takes a second or more for this program.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli.args import build_parser

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from orchestrator.cli.grammar import Parser

__all__ = ["SELF_COMMANDS", "completion_script"]

EXIT_OK = 0  # as orchestrator.cli.screen


def show_help(args: argparse.Namespace) -> int:
    """Print the help of `args.topic`, or of the whole program."""
    parser = build_parser()
    (parser.commands[args.topic] if args.topic else parser).print_help()
    return EXIT_OK


def completion(args: argparse.Namespace) -> int:
    """Print the completion script for `args.shell`."""
    sys.stdout.write(completion_script(args.shell))
    return EXIT_OK


def completion_script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish): commands, flags, choices, files."""
    import shtab  # noqa: PLC0415 - only this command needs it

    parser = build_parser()
    for each in (parser, *parser.commands.values()):
        _complete_paths(each, shtab.FILE)
    return shtab.complete(parser, shell=shell)


def _complete_paths(parser: Parser, files: object) -> None:
    """Arguments that name a file complete as file names."""
    for action in parser._actions:  # noqa: SLF001 - argparse lists its arguments nowhere public
        if action.type is Path:
            action.complete = files  # type: ignore[attr-defined] # shtab reads this attribute


SELF_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "help": show_help,
    "completion": completion,
}
