"""The `orchestrator` command's entry point: the command line, and a Ctrl-C while it loads.

Loading the command line imports aiohttp, pydantic, rich and the rest, which takes a moment;
a Ctrl-C (or SIGTERM) then is answered like one before anything was changed, never with a
traceback, and never dropped (`orchestrator.cli.interrupts`).
"""

from __future__ import annotations

import atexit
import gc
import sys

from orchestrator.cli import interrupts

EXIT_INCOMPLETE = 3  # as orchestrator.cli.screen: interrupted before anything was changed


def main() -> int:
    """Load and run the command line; exit code."""
    interrupts.install()
    # At exit, after the other atexit handlers (the logs flushed), the interpreter searches
    # every object it still holds for cycles, pydantic's and aiohttp's included: 18 ms of
    # `validate`'s 156, more after a large run. What the command opened it has closed by then;
    # frozen, that search is skipped, and the system reclaims the memory with the process.
    atexit.register(gc.freeze)
    if sys.argv[1:] == ["--version"]:  # answered without loading the command line
        from orchestrator.core.release import RELEASE  # noqa: PLC0415 - the light path

        sys.stdout.write(f"orchestrator {RELEASE}\n")
        return 0
    try:
        from orchestrator.cli.start import main as run  # noqa: PLC0415 - loading is what is guarded
    except KeyboardInterrupt:
        sys.stderr.write("interrupted before anything was changed\n")
        return EXIT_INCOMPLETE
    return run()
