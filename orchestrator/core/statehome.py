"""Where runs live: one state database per user, and a folder per run beside it.

    ~/.local/state/orchestrator/          (platformdirs.user_state_dir; XDG_STATE_HOME on Linux)
        state.db                          the journal of every run (SQLite, mode 0600)
        runs/<run-id>/                    one folder per run (mode 0700)
            plan.json                     the plan the run executed
            events.jsonl                  every event of the run, one JSON object per line
            report.json, report.md        the run's report, written when it ends
            output.log                    what a detached run printed (`apply --detach`)

`--state-db PATH` (or ORCHESTRATOR_STATE_DB, or `state_db` in --config) moves the database;
the run folders follow it (`runs/` beside the file). Every folder this module makes is
private to the user (0700): plans and logs name the fleet, and a webhook's address may be in
a log line.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from orchestrator.core.errors import StateError

__all__ = [
    "LEGACY_STATE_DB",
    "RunFolder",
    "db_flag",
    "default_state_db",
    "make_private_dir",
]

APP = "orchestrator"
# The default of orchestrator 0.1: a state database in whatever folder a command ran in.
LEGACY_STATE_DB = Path("orchestrator-state.db")


def default_state_db() -> Path:
    """The per-user state database: `~/.local/state/orchestrator/state.db` on Linux."""
    return platformdirs.user_state_path(APP) / "state.db"


def db_flag(state_db: Path) -> str:
    """` --state-db PATH` for a command the user is told to run; '' for the default database."""
    with contextlib.suppress(OSError):
        if state_db.resolve() == default_state_db().resolve():
            return ""
    return f" --state-db {state_db}"


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) readable by its owner only; StateError if it can't."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"cannot create folder {path} ({reason}); choose another --state-db"
        raise StateError(message) from None
    return path


def prepare_state_db(path: Path) -> Path:
    """Make the state database's folder (0700) so that the database can be created in it."""
    if not path.parent.exists():
        make_private_dir(path.parent)
    return path


@dataclass(frozen=True)
class RunFolder:
    """The folder of one run, beside the state database."""

    path: Path

    @classmethod
    def of(cls, state_db: Path, run_id: str) -> RunFolder:
        """The folder of run `run_id` recorded in `state_db`."""
        return cls(state_db.parent / "runs" / run_id)

    @property
    def plan(self) -> Path:
        """The plan the run executed (JSON, as saved by `plan --out`)."""
        return self.path / "plan.json"

    @property
    def events(self) -> Path:
        """Every event of the run, one JSON object per line."""
        return self.path / "events.jsonl"

    @property
    def report(self) -> Path:
        """The run's JSON report; the Markdown one is beside it (`report.md`)."""
        return self.path / "report.json"

    @property
    def output(self) -> Path:
        """What a detached run printed."""
        return self.path / "output.log"

    def create(self) -> RunFolder:
        """Make the folder, and `runs/` above it, private to the user (0700)."""
        make_private_dir(self.path.parent)
        make_private_dir(self.path)
        return self

    def write_private(self, path: Path, text: str) -> None:
        """Write `text` to `path` in this folder, readable by the owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)

    def remove_if_empty(self) -> None:
        """Remove the folder if nothing was written in it (a run that never started)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()
