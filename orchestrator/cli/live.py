"""The terminal's live view of a run: the appliances at work, each wave's tally, and a footer.

Laid out for the terminal's size at every redraw: the footer (overall progress, the stage
running, each cluster's ingest, the counts) always fits, from 80x24 up; the appliances at work
come first, with an upload's bytes, rate and time left, or a job's step and how long ago it
was read; finished appliances fold into one line per wave (`discover ✓ 690/690  ✗ 2`); what
does not fit is counted, never cut mid-line.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orchestrator.cli.gateprompt import gate_lines
from orchestrator.core.models import FINAL_OUTCOMES, Outcome
from orchestrator.core.text import format_duration
from orchestrator.engine.ports import (
    GateAnswered,
    GateOpened,
    IngestChanged,
    JobProgressed,
    StateChanged,
    StepNoted,
    UploadProgressed,
    WaveStarted,
)
from orchestrator.report.document import OUTCOME_STYLES

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from orchestrator.core.models import JobState
    from orchestrator.engine.ports import RunEvent
    from orchestrator.plan import Plan

_NAME_MAX = 24  # a longer appliance name folds onto a second line
_GOOD = frozenset({Outcome.DONE, Outcome.SKIPPED})
_BAD = frozenset({Outcome.FAILED, Outcome.BLOCKED})
_MIB = 1024 * 1024


@dataclass
class _Row:
    name: str
    wave: str
    state: Outcome = Outcome.PENDING
    detail: str = ""
    sent: int = 0
    total: int = 0
    upload_began: float | None = None
    polled: float | None = None  # when the job was last read
    started: float | None = None
    ended: float | None = None
    parked: bool = False  # backed up ahead of its cluster's ingest halt; waits, holds no slot

    def at_work(self) -> bool:
        """Started, not finished, and not parked: what holds a slot now."""
        return self.started is not None and self.state not in FINAL_OUTCOMES and not self.parked

    def upload_progress(self, sent: int, total: int) -> None:
        if self.upload_began is None or sent < self.sent:
            self.upload_began = time.monotonic()
        self.sent, self.total = sent, total

    def job_progress(self, job: JobState) -> None:
        steps = f"step {job.step_number}/{job.total_steps} " if job.step_number else ""
        self.detail = f"{steps}{job.step_description or job.status}"
        self.polled = time.monotonic()

    def note(self, detail: str) -> None:
        self.detail = detail

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        seconds = int((self.ended or now) - self.started)
        return f"{seconds // 60}m {seconds % 60:02d}s"

    def what(self, now: float) -> str:
        """The upload's bytes, rate and time left; else the job's step and its age; or a note."""
        if self.state is Outcome.UPLOADING and self.total:
            return self._upload(now)
        if self.polled is not None and self.state is Outcome.UPGRADING:
            return f"{self.detail} ({format_duration(now - self.polled)} ago)"
        return self.detail

    def _upload(self, now: float) -> str:
        done = f"{self.sent / _MIB:.0f}/{self.total / _MIB:.0f} MiB"
        seconds = now - (self.upload_began or now)
        if seconds <= 0 or not self.sent:
            return done
        rate = self.sent / seconds
        left = format_duration((self.total - self.sent) / rate) if rate else "?"
        return f"{done} {rate / _MIB:.1f} MiB/s, {left} left"


class LiveView:
    """A RunObserver whose state rich.live.Live renders a few times a second."""

    def __init__(self, plan: Plan) -> None:
        self.rows = {
            a.name: _Row(a.name, a.wave.value if a.wave else "-") for a in plan.appliances()
        }
        self.waves = [wave.kind.value for wave in plan.waves]
        self.wave = "-"
        self.graph = plan.schedule == "graph"  # stages overlap: say what runs, by wave
        self.ingest: dict[str, str] = {}
        self.stopping = False  # Ctrl-C: nothing new starts
        self.waiting: list[str] = []  # at a gate: where, what just finished, how to answer
        self.can_ask = False  # the gate's answer may be typed here

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
            case GateOpened():
                self.waiting = gate_lines(event.request, can_ask=self.can_ask)
            case GateAnswered():
                self.waiting = []

    def _row(self, name: str) -> _Row:
        return self.rows.get(name) or _Row(name, "-")

    def _state_changed(self, event: StateChanged) -> None:
        """Update one row (`at`: when it happened, on the monotonic clock; default now)."""
        row = self.rows.get(event.appliance)
        if row is None:
            return
        state, at = event.state, event.at
        was_parked = row.parked
        row.parked = state is Outcome.PRECHECKED and row.state is Outcome.BACKING_UP
        if was_parked and not row.parked:
            row.started = None  # its clock counts its upgrade, not its wait for the managers
        row.state = state
        row.detail = event.detail or ""
        if state is Outcome.UPGRADING and event.detail:
            row.detail = "job started, not read yet"
            row.polled = None
        if state is Outcome.UPLOADED and row.total:
            row.sent = row.total  # accepted whole (a log may stop short of the last chunk)
        now = time.monotonic() if at is None else at
        if row.started is None and state not in FINAL_OUTCOMES | {Outcome.PENDING}:
            row.started = now
        if state in FINAL_OUTCOMES:
            row.ended = now

    # ----------------------------------------------------------------- drawing
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        now = time.monotonic()
        height = options.size.height or console.height
        footer = self._footer(options.max_width)
        folded = self._folded()
        active = [r for r in self.rows.values() if r.at_work()]
        room = max(0, height - len(footer) - len(folded) - 2)  # table header, a spare line
        shown = active[:room]
        lines: list[Text | Table] = []
        if shown:
            lines.append(self._table(shown, now, options.max_width))
        if len(shown) < len(active):
            lines.append(Text(f"… and {len(active) - len(shown)} more at work", style="dim"))
        lines += folded
        lines += footer
        yield Group(*lines)

    def _table(self, rows: list[_Row], now: float, width: int) -> Table:
        name = min(_NAME_MAX, max(len("appliance"), *(len(r.name) for r in rows)))
        wave = max(len("wave"), *(len(r.wave) for r in rows))
        state = max(len("state"), *(len(r.state.value) for r in rows))
        elapsed = len("elapsed")
        detail = max(8, width - name - wave - state - elapsed - 4)  # the rest, one gap each
        table = Table(expand=False, box=None, pad_edge=False, padding=(0, 1, 0, 0))
        # On a narrow terminal the detail gives way (staying one line); a long name folds.
        table.add_column("appliance", width=name, overflow="fold")
        table.add_column("wave", width=wave, no_wrap=True)
        table.add_column("state", width=state, no_wrap=True)
        table.add_column("upload / job", max_width=detail, no_wrap=True, overflow="ellipsis")
        table.add_column("elapsed", width=elapsed, no_wrap=True, justify="right")
        for row in rows:
            table.add_row(
                row.name,
                row.wave,
                Text(row.state.value, style=OUTCOME_STYLES.get(row.state, "cyan")),
                _one_line(row.what(now)),
                row.elapsed(now),
            )
        return table

    def _folded(self) -> list[Text]:
        """One line per wave with finished appliances: `discover ✓ 690/690  ✗ 2`."""
        lines = []
        for wave in self.waves:
            members = [r for r in self.rows.values() if r.wave == wave]
            good = sum(1 for r in members if r.state in _GOOD)
            bad = sum(1 for r in members if r.state in _BAD)
            later = sum(1 for r in members if r.state in FINAL_OUTCOMES - _GOOD - _BAD)
            if not good + bad + later:
                continue
            text = Text(f"{wave} ", style="bold")
            text.append(f"✓ {good}/{len(members)}", style="green")
            if bad:
                text.append(f"  ✗ {bad}", style="bold red")
            if later:
                text.append(f"  ⏸ {later}", style="yellow")
            lines.append(text)
        return lines

    def _footer(self, width: int) -> list[Text | Table]:
        total = len(self.rows)
        final = sum(1 for r in self.rows.values() if r.state in FINAL_OUTCOMES)
        bar = Table.grid(padding=(0, 1))
        caption = f"{final}/{total} finished, " + (
            f"running {self._running()}" if self.graph else f"stage {self.wave}"
        )
        bar_width = max(10, min(40, width // 3))
        progress = ProgressBar(total=total or 1, completed=final, width=bar_width)
        lines: list[Text | Table] = [bar]
        if bar_width + 1 + len(caption) <= width:
            bar.add_row(progress, _one_line(caption))
        else:  # too long beside the bar (a graph plan's stages at once): lines of its own
            bar.add_row(progress)
            lines += [_one_line(text) for text in textwrap.wrap(caption, max(width, 20))]
        lines.append(_one_line(self._counts(), style="dim"))
        lines += [_one_line(f"ingest {cluster}: {text}") for cluster, text in self.ingest.items()]
        if self.stopping:
            lines.append(
                _one_line("stopping: nothing new starts; running upgrades finish", "yellow")
            )
        lines += [_one_line(text, "bold yellow") for text in self.waiting]
        return lines

    def _running(self) -> str:
        """`discover 2, trace 1`: what is being upgraded now, by wave (graph plans)."""
        busy: dict[str, int] = {}
        for row in self.rows.values():
            if row.at_work():
                busy[row.wave] = busy.get(row.wave, 0) + 1
        ordered = [wave for wave in self.waves if wave in busy]
        return ", ".join(f"{wave} {busy[wave]}" for wave in ordered) or "nothing"

    def _counts(self) -> str:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            state = "backed up, waiting" if row.parked else row.state.value
            if self.stopping and row.state is Outcome.PENDING:
                state = "not to start"
            counts[state] = counts.get(state, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _one_line(text: str, style: str = "") -> Text:
    return Text(text, no_wrap=True, overflow="ellipsis", style=style)
