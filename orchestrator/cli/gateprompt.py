"""A gate on the terminal: what the waiting run shows, and the operator's answer typed there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.engine.ports import GateRequest
    from orchestrator.journal.gates import Answer

__all__ = ["ask_at_terminal", "gate_lines"]

_ANSWERS: dict[str, Answer] = {"c": "continue", "continue": "continue", "s": "stop", "stop": "stop"}
_LISTED = 3  # what just finished: named up to this many appliances, else counted


def finished_text(request: GateRequest) -> str:
    """`eda1 done`, or `4 done, 1 skipped` for a larger batch."""
    if len(request.finished) <= _LISTED:
        return ", ".join(f"{name} {state.value}" for name, state in request.finished)
    counts: dict[str, int] = {}
    for _, state in request.finished:
        counts[state.value] = counts.get(state.value, 0) + 1
    return ", ".join(f"{count} {state}" for state, count in counts.items())


def gate_lines(request: GateRequest, *, can_ask: bool) -> list[str]:
    """What a waiting run shows: where it waits, what just finished, how to answer."""
    short = request.run_id[:8]
    where = "waiting at the gate before {}; just finished: {}"
    if not can_ask:
        return [
            where.format(request.gate, finished_text(request)),
            f"continue: run `orchestrator continue {short}` in any terminal",
            f"stop: run `orchestrator stop {short}`",
        ]
    return [
        where.format(request.gate, finished_text(request)),
        f"continue: type c and Enter, or run `orchestrator continue {short}` anywhere",
        f"stop: type s and Enter, or run `orchestrator stop {short}`",
    ]


async def ask_at_terminal(request: GateRequest) -> Answer | None:
    """Read lines typed at the terminal until one says continue or stop; None at end of input."""
    del request  # the live view shows the question
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    buffer = bytearray()

    def readable() -> None:
        chunk = os.read(fd, 1024)
        if not chunk:
            lines.put_nowait(None)
            return
        buffer.extend(chunk)
        while b"\n" in buffer:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            lines.put_nowait(line.decode("utf-8", "replace"))

    loop.add_reader(fd, readable)
    try:
        while (line := await lines.get()) is not None:
            answer = _ANSWERS.get(line.strip().lower())
            if answer is not None:
                return answer
        return None
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)
