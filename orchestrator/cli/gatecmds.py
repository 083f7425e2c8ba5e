"""`orchestrator continue RUN` / `orchestrator stop RUN`: answer a run waiting at a gate.

The answer is written to the state database, where the waiting run (in any terminal, or
detached) reads it within a second. Exit codes: 0 answered; 2 no such run, or the run is not
waiting at a gate (nothing was changed).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from orchestrator.core.about import operator
from orchestrator.core.errors import StateError
from orchestrator.core.statehome import db_flag
from orchestrator.journal import runs
from orchestrator.journal.gates import GateStore

if TYPE_CHECKING:
    from orchestrator.cli.statecmds import StateCommands as App
    from orchestrator.journal.gates import Answer

__all__ = ["answer_gate"]

_DONE = {"continue": "released", "stop": "answered stop: nothing behind it starts"}


def answer_gate(app: App, answer: Answer) -> int:
    """Answer the gate run `app.args.run` (the newest by default) waits at."""
    state_db = app.settings.state_db
    runs.require_state_db(app.settings)
    state = runs.read_run(state_db, app.args.run)
    if state is None:
        raise StateError(f"{state_db}: no run recorded yet; nothing was changed")
    run_id = state.record.run_id
    store = GateStore(state_db)
    try:
        gate = store.answer(run_id, answer, operator(), dt.datetime.now(dt.UTC))
    finally:
        store.close()
    short = run_id[:8]
    if gate is None:
        watch = f"`orchestrator watch {short}{db_flag(state_db)}` shows what it does"
        raise StateError(f"run {short} is not waiting at a gate; nothing was changed ({watch})")
    app.out.print(f"run {short}: the gate before {gate} {_DONE[answer]} (by {operator()})")
    return 0
