"""`apply --detach`: the run goes on in its own session, without a terminal.

The confirmed command is started again as a child in a new session (no controlling terminal:
closing the window or the SSH session cannot reach it), with `--yes`, the choices made at the
prompt, and a run id chosen here, so the parent can say which run to `watch` as soon as the
child has journalled it. What the child prints goes to `output.log` in the run's folder.
A child that stops before its run starts (a refused plan, a held lock) has its error shown
here, with its exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from orchestrator.core.errors import StateError
from orchestrator.core.statehome import RunFolder, db_flag
from orchestrator.journal import new_run_id, runs

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.cli.screen import Screen

__all__ = ["detach"]

_POLL = 0.2  # seconds between two looks for the child's run in the journal


def detach(screen: Screen, argv: list[str]) -> int:
    """Start `orchestrator ARGV` detached; 0 once its run is journalled, else its exit code."""
    db = screen.settings.state_db
    run_id = new_run_id()
    folder = RunFolder.of(db, run_id).create()
    output = os.open(folder.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = subprocess.Popen(  # noqa: S603 - this same program, with the user's arguments
            [sys.executable, "-m", "orchestrator", *argv, "--run-id", run_id],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(output)
    screen.say(
        f"starting run {run_id[:8]} in the background (pid {child.pid})...", event="run.detaching"
    )
    code = _wait_for_run(child, db, run_id)
    if code is not None:
        text = folder.output.read_text(encoding="utf-8", errors="replace").strip()
        for line in (text or f"the run did not start (exit {code})").splitlines():
            screen.err.out(line, highlight=False)  # the run's own lines, as it wrote them
        folder.output.unlink(missing_ok=True)
        folder.plan.unlink(missing_ok=True)
        folder.remove_if_empty()
        return code
    flag = db_flag(db)
    screen.out.print(f"run {run_id} is running in the background (pid {child.pid})")
    screen.out.print(f"  watch it:  orchestrator watch {run_id[:8]}{flag}", markup=False)
    screen.out.print(f"  its files: {folder.path}", markup=False)
    return 0


def _wait_for_run(child: subprocess.Popen[bytes], db: Path, run_id: str) -> int | None:
    """None once the child's run is in the journal; the child's exit code if it ends first."""
    while True:
        code = child.poll()
        if _journalled(db, run_id):
            return None
        if code is not None:
            return code
        time.sleep(_POLL)


def _journalled(db: Path, run_id: str) -> bool:
    try:
        return runs.read_run(db, run_id) is not None
    except StateError:
        return False
