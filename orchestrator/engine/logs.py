"""Structured logging: console lines for people, JSON lines for unattended runs.

Every event also goes, whatever the terminal shows and at every level, to the open run's log
(`events.jsonl` in its folder, see `orchestrator.core.statehome`): the terminal may show only
warnings (the live view is on), may be gone (SIGHUP), but the run's log has everything.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Literal, TextIO

import stamina
import structlog

from orchestrator.core.models import Outcome
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

if TYPE_CHECKING:
    from pathlib import Path

    from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

    from orchestrator.core.models import JobState
    from orchestrator.engine.ports import RunEvent

__all__ = ["LogObserver", "close_run_log", "configure_logging", "open_run_log"]

_QUARTERS = 4
_TWENTIETHS = 20  # the run's log follows an upload in 5% steps (`watch` draws it from there)
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}


class _RunLog:
    """The open run's `events.jsonl`, written line by line from any thread."""

    def __init__(self) -> None:
        self.file: TextIO | None = None
        self.lock = threading.RLock()
        self.terminal_level = logging.INFO

    def write(self, event: EventDict) -> None:
        line = json.dumps(event, default=str, ensure_ascii=False) + "\n"
        with self.lock:
            if self.file is None:
                return
            try:
                self.file.write(line)
                self.file.flush()  # a crash of the process loses no line already logged
            except (OSError, ValueError):
                self.file = None  # the disk is gone: the terminal still has what it shows


_RUN_LOG = _RunLog()


def open_run_log(path: Path) -> None:
    """Append every later event to `path` (created 0600) until `close_run_log`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handle = os.fdopen(fd, "a", encoding="utf-8")
    with _RUN_LOG.lock:
        previous, _RUN_LOG.file = _RUN_LOG.file, handle
    if previous is not None:
        previous.close()


def close_run_log() -> None:
    """Stop writing the run's log."""
    with _RUN_LOG.lock:
        handle, _RUN_LOG.file = _RUN_LOG.file, None
    if handle is not None:
        handle.close()


def _tee(_logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Write the event to the run's log, then drop it from the terminal if below its level."""
    if _RUN_LOG.file is not None:
        _RUN_LOG.write(event)
    if _LEVELS.get(method, logging.INFO) < _RUN_LOG.terminal_level:
        raise structlog.DropEvent
    return event


class _StderrLogger:
    """Writes each rendered event to whatever sys.stderr is at that moment.

    The live view swaps sys.stderr for a proxy that prints above its region: an event logged
    during a run goes there, never under the live region, and never tears a frame.
    """

    def msg(self, message: str) -> None:
        """Write one line."""
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


class _ToStructlog(logging.Handler):
    """Library warnings (asyncio, aiohttp) as structured events, not stray text lines."""

    def emit(self, record: logging.LogRecord) -> None:
        """Log the record through structlog, at its level."""
        level = record.levelname.lower() if record.levelno < logging.CRITICAL else "critical"
        getattr(structlog.get_logger("orchestrator"), level, _warn)(
            "library.logged", logger=record.name, message=record.getMessage()
        )


def _warn(*_args: object, **_kwargs: object) -> None:
    """A level structlog does not have: nothing."""


def configure_logging(
    fmt: Literal["console", "json"], *, stream: TextIO | None = None, level: int = logging.INFO
) -> None:
    """Send structlog events to standard error (or `stream`) as console lines or JSON lines.

    `level` is the terminal's; the run's log (`open_run_log`) gets every level. Python's own
    logging (libraries) goes through the same pipeline; stamina's retry events are off (the
    client logs one `request.retried` per retry itself).
    """
    colors = (stream or sys.stderr).isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=colors)
    )
    _RUN_LOG.terminal_level = level
    factory: Any = (
        structlog.WriteLoggerFactory(file=stream) if stream is not None else _stderr_logger
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _tee,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min(level, logging.DEBUG)),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    stamina.instrumentation.set_on_retry_hooks([])
    root = logging.getLogger()
    root.handlers[:] = [_ToStructlog()]
    root.setLevel(logging.WARNING)


class _StepLog:
    """Logs one appliance's step progress sparingly: upload quarters and job step changes."""

    def __init__(self, log: FilteringBoundLogger) -> None:
        self.log = log
        self.quarter = -1
        self.twentieth = -1
        self.job_step: tuple[int | None, str] | None = None
        self.last_note: str | None = None

    def upload_progress(self, sent: int, total: int) -> None:
        # The `uploading` and `uploaded` states mark its start and end: log the quarters between
        # (and, for the run's log only, every 5%).
        twentieth = sent * _TWENTIETHS // total if total else _TWENTIETHS
        if twentieth == self.twentieth:
            return
        self.twentieth = twentieth
        quarter = sent * _QUARTERS // total if total else _QUARTERS
        if quarter != self.quarter and 0 < quarter < _QUARTERS:
            self.quarter = quarter
            self.log.info("upload.progressed", sent=sent, total=total)
        elif 0 < twentieth < _TWENTIETHS:
            self.log.debug("upload.progressed", sent=sent, total=total)

    def job_progress(self, job: JobState) -> None:
        key = (job.step_number, job.status)
        if key != self.job_step:
            self.job_step = key
            self.log.info(
                "job.progressed",
                job_id=job.id,
                status=job.status,
                step_number=job.step_number,
                total_steps=job.total_steps,
                step_description=job.step_description,
            )

    def note(self, detail: str) -> None:
        if detail != self.last_note:
            self.last_note = detail
            self.log.debug("step.waiting", detail=detail)


class LogObserver:
    """A RunObserver that writes one structured event per thing that happens."""

    def __init__(self) -> None:
        # Bound once: a lazy proxy would rebuild its logger on every event.
        self.log: FilteringBoundLogger = structlog.get_logger("orchestrator").bind()
        self.steps: dict[str, _StepLog] = {}

    def notify(self, event: RunEvent) -> None:
        """Log the event: `wave.started`, `appliance.state_changed`, `ingest.<action>`..."""
        match event:
            case WaveStarted():
                self.log.info("wave.started", wave=event.wave.value, appliances=event.size)
            case StateChanged():
                self._state_changed(event)
            case IngestChanged():
                self._ingest_changed(event)
            case UploadProgressed():
                self._step(event.appliance).upload_progress(event.sent, event.total)
            case JobProgressed():
                self._step(event.appliance).job_progress(event.job)
            case StepNoted():
                self._step(event.appliance).note(event.detail)
            case GateOpened():
                request = event.request
                self.log.warning(
                    "gate.opened",
                    gate=request.gate,
                    finished={name: state.value for name, state in request.finished},
                    release=f"orchestrator continue {request.run_id[:8]}",
                )
            case GateAnswered():
                record = event.record
                self.log.info("gate.answered", gate=record.gate, answer=record.answer, by=record.by)

    def _step(self, name: str) -> _StepLog:
        if name not in self.steps:
            self.steps[name] = _StepLog(self.log.bind(appliance=name))
        return self.steps[name]

    def _state_changed(self, event: StateChanged) -> None:
        """`appliance.state_changed`, as a warning for failures."""
        level = "warning" if event.state in {Outcome.FAILED, Outcome.BLOCKED} else "info"
        getattr(self.log, level)(
            "appliance.state_changed",
            appliance=event.appliance,
            state=event.state.value,
            detail=event.detail,
        )

    def _ingest_changed(self, event: IngestChanged) -> None:
        """`ingest.<action>`: `halt_requested`, `halted`, `left_off`, `restored`...

        A failed restore is an error and says why (every node tried, each with its reason);
        a failed or unconfirmed halt is a warning.
        """
        action, error = str(event.action), event.error
        name = f"ingest.{action}"
        where = {"cluster": event.cluster, "via": event.via}
        if action == "restore_failed":
            self.log.error(name, **where, error=error)
        elif error is not None and action in {"halt_failed", "halt_requested"}:
            self.log.warning(name, **where, error=error)
        elif error is not None:
            self.log.info(name, **where, error=error)
        else:
            self.log.info(name, **where)
