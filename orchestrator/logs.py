"""Structured logging: console lines for people, JSON lines for unattended runs."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog

from orchestrator.models import Outcome

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from orchestrator.models import JobState
    from orchestrator.plan import WaveKind
    from orchestrator.steps import StepObserver

_QUARTERS = 4


def configure_logging(
    fmt: Literal["console", "json"], *, stream: TextIO | None = None, level: int = logging.INFO
) -> None:
    """Send structlog events to `stream` (stderr) as console lines or JSON lines."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


class _StepLog:
    """Logs one appliance's step progress sparingly: upload quarters and job step changes."""

    def __init__(self, log: FilteringBoundLogger) -> None:
        self.log = log
        self.quarter = -1
        self.job_step: tuple[int | None, str] | None = None
        self.last_note: str | None = None

    def upload_progress(self, sent: int, total: int) -> None:
        # The `uploading` and `uploaded` states mark its start and end: log the quarters between.
        quarter = sent * _QUARTERS // total if total else _QUARTERS
        if quarter != self.quarter:
            self.quarter = quarter
            if 0 < quarter < _QUARTERS:
                self.log.info("upload.progressed", sent=sent, total=total)

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

    def wave_started(self, wave: WaveKind, size: int) -> None:
        """Log `wave.started`."""
        self.log.info("wave.started", wave=wave.value, appliances=size)

    def state_changed(self, name: str, state: Outcome, detail: str | None) -> None:
        """Log `appliance.state_changed`, as a warning for failures."""
        level = "warning" if state in {Outcome.FAILED, Outcome.BLOCKED} else "info"
        getattr(self.log, level)(
            "appliance.state_changed", appliance=name, state=state.value, detail=detail
        )

    def ingest_changed(self, cluster: str, action: str, via: str, error: str | None = None) -> None:
        """Log `ingest.halted`, `ingest.restored`, `ingest.left_off` or `ingest.restore_failed`.

        A failed restore is an error and says why (every node tried, each with its reason).
        """
        event = f"ingest.{action}"
        if action == "restore_failed":
            self.log.error(event, cluster=cluster, via=via, error=error)
        else:
            self.log.info(event, cluster=cluster, via=via)

    def step_observer(self, name: str) -> StepObserver:
        """A step observer that logs with the appliance bound."""
        return _StepLog(self.log.bind(appliance=name))
