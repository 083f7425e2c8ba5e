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

from orchestrator.core.models import JobState, Outcome
from orchestrator.journal import lock
from orchestrator.plan import WaveKind

if TYPE_CHECKING:
    from pathlib import Path

    from orchestrator.cli.live import LiveView

__all__ = ["RunLogReader"]

_LIFECYCLE = frozenset({"run.started", "run.resumed", "run.finished"})


@dataclass
class _Process:
    pid: int
    host: str


class RunLogReader:
    """Follows a run's `events.jsonl`, replaying each new event into `view`."""

    def __init__(self, path: Path, view: LiveView | None) -> None:
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


def _draw(view: LiveView, kind: object, event: dict[str, Any]) -> None:
    name = str(event.get("appliance", ""))
    if kind == "wave.started":
        view.wave_started(WaveKind(event["wave"]), int(event["appliances"]))
    elif kind == "appliance.state_changed":
        at = _monotonic(event.get("timestamp"))
        view.state_changed(name, Outcome(event["state"]), event.get("detail"), at=at)
    elif kind == "upload.progressed":
        view.step_observer(name).upload_progress(int(event["sent"]), int(event["total"]))
    elif kind == "job.progressed":
        fields = ("status", "step_number", "total_steps", "step_description")
        job = JobState(id=str(event["job_id"]), **{f: event.get(f) for f in fields})
        view.step_observer(name).job_progress(job)
    elif kind == "step.waiting":
        view.step_observer(name).note(str(event["detail"]))
    elif isinstance(kind, str) and kind.startswith("ingest."):
        action = kind.removeprefix("ingest.")
        view.ingest_changed(str(event["cluster"]), action, str(event["via"]), event.get("error"))
