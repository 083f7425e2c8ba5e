"""What is printed before the live view exists (the demo's plan) starts on a line of its own."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # a process on a pseudo-terminal

# A supervised run that prints on standard output before it has a live view, as the demo
# prints its fleet and its plan while the live region is already up.
SCRIPT = """
import asyncio
from orchestrator.cli import terminal
terminal.install()
from orchestrator.cli.screen import Screen
from orchestrator.core.config import Settings

screen = Screen(Settings(log_format="console"))

async def run(stop):
    await asyncio.sleep(0.6)  # the live region has been drawn a few times
    screen.out.print("demo: simulated fleet of 12 appliances")
    await asyncio.sleep(0.6)
    screen.out.print("Upgrade plan: ready to apply")
    await asyncio.sleep(0.6)

screen.with_signals(run)
"""
CSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(script: str, cwd: Path) -> bytes:
    """Everything `python -c script` shows on an 80x24 pseudo-terminal."""
    main, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={**os.environ, "TERM": "xterm-256color"},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    shown, deadline = b"", time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
        assert proc.wait(timeout=10) == 0, shown
    finally:
        os.close(main)
    return shown


def test_lines_printed_before_the_live_view_start_a_line(tmp_path: Path) -> None:
    """No placeholder text is left in front of what the demo prints (`starting...demo: …`)."""
    shown = on_terminal(SCRIPT, tmp_path)
    assert b"starting..." not in shown
    # What each line shows in the end: the text after its last carriage return.
    lines = [
        line.rstrip(b"\r").rsplit(b"\r", 1)[-1].rstrip()
        for line in CSI.sub(b"", shown).split(b"\n")
    ]
    assert b"demo: simulated fleet of 12 appliances" in lines
    assert b"Upgrade plan: ready to apply" in lines
