"""How the tool writes a few things alike everywhere: durations, times, versions, Markdown.

One home each, so the plan, the run report, the live view and the docs never drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["ARROW", "format_duration", "local_time", "markdown"]

ARROW = "→"  # between two versions: `9.8.0.100 → 9.9.1.100`
_MARKDOWN_SPECIALS = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|"})


def format_duration(seconds: float | None) -> str:
    """A duration for people: `12s`, `4m 12s`, `1h 04m`; `-` when unknown."""
    if seconds is None:
        return "-"
    total = round(max(seconds, 0.0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def markdown(text: str | None) -> str:
    """Text on one line, escaped to be safe in a Markdown table cell or list item; `-` if none."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIALS) if text else "-"


def local_time(moment: dt.datetime, *, seconds: bool = True) -> str:
    """A time for people, in this host's zone: `2025-03-01 23:00:05 CET`."""
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    zone = local.strftime("%Z")
    return f"{text} {zone}" if zone else text
