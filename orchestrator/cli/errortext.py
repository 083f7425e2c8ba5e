"""How the command line shows an error: one line, or a heading and a line per problem.

For people, an inventory with several errors gets one `error: file:row: message` line each,
and a refused saved plan its heading and one `  - …` line per drift or difference. For
machines (JSON mode) an error is one event whose `message` is the exception's one-line text,
the problems listed in `problems`. The exception's `str()` stays one line, as logs keep it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.cli.grammar import UsageError
from orchestrator.core.errors import InventoryError, OrchestratorError, PlanError, one_line

if TYPE_CHECKING:
    from orchestrator.cli.voice import Voice

__all__ = ["error_lines", "say_error"]


def say_error(voice: Voice, exc: OrchestratorError, *, event: str) -> None:
    """Say `exc` on standard error in the voice's format."""
    if voice.fmt == "json":
        voice.say(f"error: {_one_line(exc)}", event=event, level="error", **_problems(exc))
        return
    for line in error_lines(exc):
        voice.say(line, event=event, level="error", style="red")


def error_lines(exc: OrchestratorError) -> list[str]:
    """The lines people read for `exc`: each error found starts with `error:`."""
    if isinstance(exc, InventoryError):
        return [f"error: {_flat(line)}" for line in exc.lines()]
    if isinstance(exc, PlanError) and exc.items:
        items = [f"  - {_flat(item)}" for item in exc.items]
        return [f"error: {_flat(exc.heading)}:", *items, *([exc.fix] if exc.fix else [])]
    return [f"error: {_one_line(exc)}"]


def _one_line(exc: OrchestratorError) -> str:
    """The error's one-line text; a usage error adds where the command's help is."""
    if isinstance(exc, UsageError):
        return f"{one_line(exc)} (see `{exc.hint}`)"
    return one_line(exc)


def _problems(exc: OrchestratorError) -> dict[str, Any]:
    """`problems`: each error or drift on its own, for a machine that lists them."""
    if isinstance(exc, InventoryError) and (exc.also or exc.unlisted):
        return {"problems": exc.lines()}
    if isinstance(exc, PlanError) and exc.items:
        return {"problems": list(exc.items)}
    return {}


def _flat(text: str) -> str:
    return " ".join(text.split())
