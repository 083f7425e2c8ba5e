"""The terminal's live view of a run: one row per active appliance, and overall progress."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.engine.ports import (
    IngestChanged,
    JobProgressed,
    StateChanged,
    StepNoted,
    UploadProgressed,
    WaveStarted,
)
from orchestrator.report.document import OUTCOME_STYLES

if TYPE_CHECKING:
    from rich.console import RenderableType

    from orchestrator.core.models import JobState
    from orchestrator.engine.ports import RunEvent
    from orchestrator.plan import Plan

# Rows beyond this are summarised: a 1,000-appliance run must not redraw 1,000 rows.
MAX_ROWS = 24
_NAME_MAX = 24  # a longer appliance name folds onto a second line


@dataclass
class _Row:
    name: str
    wave: str
    state: Outcome = Outcome.PENDING
    detail: str = ""
    sent: int = 0
    total: int = 0
    started: float | None = None
    ended: float | None = None

    def upload_progress(self, sent: int, total: int) -> None:
        self.sent, self.total = sent, total

    def job_progress(self, job: JobState) -> None:
        steps = f"{job.step_number}/{job.total_steps} " if job.step_number is not None else ""
        self.detail = f"{steps}{job.step_description or job.status}"

    def note(self, detail: str) -> None:
        self.detail = detail

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        seconds = int((self.ended or now) - self.started)
        return f"{seconds // 60}m {seconds % 60:02d}s"


class LiveView:
    """A RunObserver whose state rich.live.Live renders a few times a second."""

    def __init__(self, plan: Plan) -> None:
        self.rows = {
            a.name: _Row(a.name, a.wave.value if a.wave else "-") for a in plan.appliances()
        }
        self.wave = "-"
        self.ingest: dict[str, str] = {}

    def notify(self, event: RunEvent) -> None:
        """Take one event of the run into the view."""
        match event:
            case WaveStarted():
                self.wave = f"{event.wave.value} ({event.size})"
            case StateChanged():
                self._state_changed(event)
            case IngestChanged():
                why = f": {event.error}" if event.error else ""
                action = str(event.action).replace("_", " ")
                self.ingest[event.cluster] = f"{action} via {event.via}{why}"
            case UploadProgressed():
                self._row(event.appliance).upload_progress(event.sent, event.total)
            case JobProgressed():
                self._row(event.appliance).job_progress(event.job)
            case StepNoted():
                self._row(event.appliance).note(event.detail)

    def _row(self, name: str) -> _Row:
        return self.rows.get(name) or _Row(name, "-")

    def _state_changed(self, event: StateChanged) -> None:
        """Update one row (`at`: when it happened, on the monotonic clock; default now)."""
        row = self.rows.get(event.appliance)
        if row is None:
            return
        state, at = event.state, event.at
        row.state = state
        row.detail = event.detail or ""
        if state is Outcome.UPLOADED and row.total:
            row.sent = row.total  # accepted whole (a log may stop short of the last chunk)
        now = time.monotonic() if at is None else at
        if row.started is None and state not in FINAL_OUTCOMES | {Outcome.PENDING}:
            row.started = now
        if state in FINAL_OUTCOMES:
            row.ended = now

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        table = Table(expand=False, box=None, pad_edge=False)
        visible = self._visible()
        # On a narrow terminal the job detail gives way (staying one line); a long name folds.
        table.add_column("appliance", max_width=_NAME_MAX, overflow="fold")
        for column in ("wave", "state", "upload"):
            table.add_column(column, no_wrap=True)
        table.add_column("job / detail")
        table.add_column("elapsed", no_wrap=True)
        for row in visible:
            table.add_row(
                row.name,
                row.wave,
                Text(row.state.value, style=OUTCOME_STYLES.get(row.state, "cyan")),
                _upload_bar(row),
                _one_line(row.detail[:40]),
                row.elapsed(now),
            )
        return Group(table, self._summary())

    def _visible(self) -> list[_Row]:
        active = [r for r in self.rows.values() if r.started and r.state not in FINAL_OUTCOMES]
        finished = sorted(
            (r for r in self.rows.values() if r.ended is not None),
            key=lambda r: r.ended or 0.0,
            reverse=True,
        )
        return (active + finished)[:MAX_ROWS]

    def _summary(self) -> RenderableType:
        total = len(self.rows)
        final = sum(1 for r in self.rows.values() if r.state in FINAL_OUTCOMES)
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.state.value] = counts.get(row.state.value, 0) + 1
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=total or 1, completed=final, width=40),
            f"{final}/{total} finished, wave {self.wave}",
        )
        lines: list[RenderableType] = [
            bar,
            Text(", ".join(f"{n} {s}" for s, n in sorted(counts.items())), style="dim"),
        ]
        lines += [Text(f"ingest {c}: {text}") for c, text in self.ingest.items()]
        return Group(*lines)


def _one_line(text: str) -> Text:
    return Text(text, no_wrap=True, overflow="ellipsis")


def _upload_bar(row: _Row) -> RenderableType:
    if not row.total:
        return Text("")
    return ProgressBar(total=row.total, completed=row.sent, width=16)
