"""Ctrl-C and SIGTERM as one interrupt, for the whole life of a command, and never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when the signal's
handler runs. Now and then that is a place whose exceptions Python only prints and drops: a
weak reference's callback (the import system keeps one per module lock, so a Ctrl-C while the
program loads its libraries can land there), a finalizer, a garbage-collector callback. The
operator would then see a traceback and the command would carry on as if nothing had been
pressed. `install()` catches such a dropped interrupt and delivers it again a moment later,
once the interpreter is back in ordinary code, where it stops the command as any other does.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["install"]

_AGAIN_AFTER = 0.001  # seconds: long enough to leave the callback that dropped it


def install() -> None:
    """SIGTERM means what SIGINT means; an interrupt Python would drop is delivered again."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    sys.unraisablehook = _unraisable


def _interrupt(_signum: int, _frame: object) -> None:
    """Interrupt as Ctrl-C does.

    A background job of a non-interactive shell starts with SIGINT ignored: SIGTERM is then
    an interrupt of its own (`kill %1` stops `orchestrator simulate ... &`).
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        raise KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """An interrupt dropped where exceptions cannot go: deliver it again; anything else: print."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        signal.setitimer(signal.ITIMER_REAL, _AGAIN_AFTER)  # SIGALRM: `_interrupt`, outside
        return
    sys.__unraisablehook__(unraisable)
