"""How a command speaks on standard error: lines for people, or JSON objects for machines.

Standard error is where people read (logs, the live view, prompts, errors, hints), so the
format follows it: console lines when standard error is a terminal, else one JSON object per
line (`--log-format` and ORCHESTRATOR_LOG_FORMAT choose). In JSON mode every line a command
writes there is a JSON object — messages, warnings, errors and hints included — each with
the run id once there is one; standard output keeps the results (tables, plans, reports).

rich and structlog load when a line is first said, so a command that says nothing (a
`validate` that finds no fault) never loads them.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from rich.console import Console

__all__ = ["LogFormat", "Voice", "console", "log_format_for"]

LogFormat = Literal["console", "json"]


def console(*, stderr: bool) -> Console:
    """A console that wraps only tables: messages stay one line, even in a log file."""
    from rich.console import Console  # noqa: PLC0415 - loaded by the first line said

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120  # rich would assume 80 without a terminal
    return Console(stderr=stderr, highlight=False, width=width, soft_wrap=True)


def log_format_for(argv: Sequence[str], env: Mapping[str, str]) -> LogFormat:
    """The format asked for (flag, then variable), else console on a terminal, JSON without."""
    for index, arg in enumerate(argv):
        if arg == "--log-format" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--log-format="):
            value = arg.partition("=")[2]
        else:
            continue
        if value in {"console", "json"}:
            return "json" if value == "json" else "console"
    value = env.get("ORCHESTRATOR_LOG_FORMAT", "")
    if value in {"console", "json"}:
        return "json" if value == "json" else "console"
    return "console" if sys.stderr.isatty() else "json"


class Voice:
    """Says things on standard error in the command's format."""

    def __init__(self, fmt: LogFormat) -> None:
        self.fmt = fmt

    @functools.cached_property
    def err(self) -> Console:
        """Standard error for people, made when first used."""
        return console(stderr=True)

    def say(
        self,
        text: str,
        *,
        event: str,
        level: str = "info",
        style: str | None = None,
        **fields: Any,  # noqa: ANN401 - extra facts for the JSON line
    ) -> None:
        """A line for people; in JSON mode the event `event` with `message=text`."""
        if self.fmt == "json":
            getattr(_json_log(), level)(event, message=text, **fields)
        else:
            self.err.print(text, style=style, markup=False)

    def error(self, text: str, *, event: str = "command.failed") -> None:
        """`error: text`, in red for people."""
        self.say(f"error: {text}", event=event, level="error", style="red")

    def warning(self, text: str, *, event: str = "command.warned") -> None:
        """`warning: text`, in yellow for people."""
        self.say(f"warning: {text}", event=event, level="warning", style="yellow")


def _json_log() -> Any:  # noqa: ANN401 - structlog's bound logger, loaded here
    """The structlog logger, configured for JSON lines unless a command configured it already."""
    import structlog  # noqa: PLC0415 - loaded by the first JSON line

    from orchestrator.engine.logs import configure_logging  # noqa: PLC0415 - with structlog

    if not structlog.is_configured():
        configure_logging("json")
    return structlog.get_logger("orchestrator")


def environment() -> Mapping[str, str]:
    """The process environment (a seam for tests)."""
    return os.environ
