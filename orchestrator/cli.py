"""Command line: sub-commands, output, logging setup, and errors mapped to exit codes."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    del argv
    sys.stderr.write("orchestrator: not yet implemented\n")
    return 2
