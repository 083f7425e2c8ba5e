"""`orchestrator watch`: a run going on in another process, drawn live from its own log.

The run writes every event to `events.jsonl` in its folder (`orchestrator.engine.logs`); this module
reads that file as it grows and replays each event into a `LiveView`, the same view `apply`
draws. The run has ended when its log says `run.finished` (with the exit code), or when the
process named by its last `run.started`/`run.resumed` event is gone without saying so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.core.models import GateRecord, JobState, Outcome
from orchestrator.engine.ports import (
    GateAnswered,
    GateOpened,
    GateRequest,
    IngestChanged,
    JobProgressed,
    StateChanged,
    StepNoted,
    UploadProgressed,
    WaveStarted,
)
from orchestrator.journal import lock
from orchestrator.plan import WaveKind

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from orchestrator.engine.ports import RunEvent, RunObserver

__all__ = ["RunLogReader"]

_LIFECYCLE = frozenset({"run.started", "run.resumed", "run.finished"})


@dataclass
class _Process:
    pid: int
    host: str


class RunLogReader:
    """Follows a run's `events.jsonl`, replaying each new event into `view`."""

    def __init__(self, path: Path, view: RunObserver | None) -> None:
        self.path = path
        self.view = view
        self.offset = 0
        self.partial = b""
        self.last_lifecycle: dict[str, Any] | None = None
        self.process: _Process | None = None

    @property
    def finished(self) -> dict[str, Any] | None:
        """The `run.finished` event, once the run's process has logged its end."""
        last = self.last_lifecycle
        return last if last is not None and last.get("event") == "run.finished" else None

    def poll(self) -> None:
        """Read what was appended since the last poll and replay it."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    self.replay(event)

    def process_gone(self) -> bool:
        """Whether the process that runs (or last ran) the run has certainly exited."""
        if self.process is None:
            return True
        if self.process.host != socket.gethostname():
            return False  # another host's process is never presumed dead
        return not lock.pid_alive(self.process.pid)

    def replay(self, event: dict[str, Any]) -> None:
        """Apply one logged event to the view."""
        kind = event.get("event")
        if kind in _LIFECYCLE:
            self.last_lifecycle = event
            if kind != "run.finished" and isinstance(event.get("pid"), int):
                self.process = _Process(event["pid"], str(event.get("host", "")))
        if self.view is not None:
            with contextlib.suppress(KeyError, ValueError, TypeError):
                _draw(self.view, kind, event)


def _monotonic(stamp: object) -> float | None:
    """A logged ISO timestamp on this process's monotonic clock (for elapsed times)."""
    if not isinstance(stamp, str):
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return time.monotonic() - (dt.datetime.now(dt.UTC) - when).total_seconds()


def _draw(view: RunObserver, kind: object, event: dict[str, Any]) -> None:
    for drawn in _events(kind, event):
        view.notify(drawn)


def _events(kind: object, event: dict[str, Any]) -> list[RunEvent]:
    """The run's event again, from its line in the run's log."""
    if isinstance(kind, str) and kind.startswith("ingest."):
        action = kind.removeprefix("ingest.")
        return [IngestChanged(str(event["cluster"]), action, str(event["via"]), event.get("error"))]
    build = _BUILDERS.get(str(kind))
    return [] if build is None else [build(str(event.get("appliance", "")), event)]


def _job(name: str, event: dict[str, Any]) -> RunEvent:
    fields = ("status", "step_number", "total_steps", "step_description")
    return JobProgressed(
        name, JobState(id=str(event["job_id"]), **{f: event.get(f) for f in fields})
    )


_BUILDERS: dict[str, Callable[[str, dict[str, Any]], RunEvent]] = {
    "wave.started": lambda _, e: WaveStarted(WaveKind(e["wave"]), int(e["appliances"])),
    "appliance.state_changed": lambda name, e: StateChanged(
        name, Outcome(e["state"]), e.get("detail"), at=_monotonic(e.get("timestamp"))
    ),
    "upload.progressed": lambda name, e: UploadProgressed(name, int(e["sent"]), int(e["total"])),
    "job.progressed": _job,
    "step.waiting": lambda name, e: StepNoted(name, str(e["detail"])),
    "gate.opened": lambda _, e: GateOpened(
        GateRequest(
            run_id=str(e.get("run_id", "")),
            gate=str(e["gate"]),
            finished=tuple((str(n), Outcome(s)) for n, s in dict(e["finished"]).items()),
        )
    ),
    "gate.answered": lambda _, e: GateAnswered(
        GateRecord(
            gate=str(e["gate"]),
            opened_at=_when(e),
            answer=e["answer"],
            by=e.get("by"),
            answered_at=_when(e),
        )
    ),
}


def _when(event: dict[str, Any]) -> dt.datetime:
    """When a logged event happened (now, if its line has no readable timestamp)."""
    try:
        return dt.datetime.fromisoformat(str(event["timestamp"]))
    except (KeyError, ValueError):
        return dt.datetime.now(dt.UTC)
