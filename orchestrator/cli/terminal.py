"""Standard output and error that outlive the terminal: a run never dies of a closed window.

A maintenance window run from a laptop loses its terminal all the time (the lid closes, the
SSH session or the VPN drops). The kernel then sends SIGHUP, and every later write to the
terminal fails with EIO (or EPIPE for a pipe whose reader went away). Neither may stop a run:
`install()` wraps sys.stdout and sys.stderr so that a failed write marks the stream gone (and
points its file descriptor at /dev/null) instead of raising, and SIGHUP marks the terminal's
streams gone at once. What the run does is still in its own log (`events.jsonl`).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["SafeStream", "hang_up", "install", "terminal_gone"]


class SafeStream(io.TextIOBase):
    """A text stream that swallows the errors of a terminal or pipe that went away."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self._inner = inner
        self.gone = False
        try:
            self.was_terminal = inner.isatty()
        except (OSError, ValueError):
            self.was_terminal = False

    def write(self, text: str) -> int:
        """Write `text`, or drop it once the stream is gone."""
        if not self.gone:
            try:
                self._inner.write(text)
            except (OSError, ValueError):
                self.lose()
        return len(text)

    def flush(self) -> None:
        """Flush, unless the stream is gone."""
        if not self.gone:
            try:
                self._inner.flush()
            except (OSError, ValueError):
                self.lose()

    def isatty(self) -> bool:
        """Whether this is still a terminal."""
        return not self.gone and self.was_terminal

    def fileno(self) -> int:
        """The underlying file descriptor (rich reads the terminal's size through it)."""
        return self._inner.fileno()

    def writable(self) -> bool:
        """Always: writes to a lost stream are dropped, not refused."""
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The underlying stream's encoding."""
        return getattr(self._inner, "encoding", None) or "utf-8"

    def lose(self) -> None:
        """Mark the stream gone; its descriptor now points at /dev/null, so nothing can fail."""
        if self.gone:
            return
        self.gone = True
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._inner.fileno())
            os.close(null)


def install() -> tuple[SafeStream, SafeStream]:
    """Wrap sys.stdout and sys.stderr (once) and treat SIGHUP as the terminal going away."""
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _on_hangup)
    return sys.stdout, sys.stderr


def _on_hangup(_signum: int, _frame: FrameType | None) -> None:
    hang_up()


def hang_up() -> None:
    """The terminal is gone: stop writing to it (stdin reads then find its end)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, SafeStream) and stream.was_terminal:
            stream.lose()
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_RDONLY)
        if os.isatty(0):
            os.dup2(null, 0)
        os.close(null)


def terminal_gone() -> bool:
    """Whether the terminal this process wrote to has gone away."""
    return any(
        isinstance(stream, SafeStream) and stream.was_terminal and stream.gone
        for stream in (sys.stdout, sys.stderr)
    )
