"""Several observers of one run: the live view, the run's log, and whoever else listens."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.core.models import JobState, Outcome
    from orchestrator.engine.runstate import RunObserver
    from orchestrator.engine.steps import StepObserver
    from orchestrator.plan import WaveKind

__all__ = ["FanOut"]


class _StepFanOut:
    """Step progress told to every observer's step observer."""

    def __init__(self, observers: list[StepObserver]) -> None:
        self.observers = observers

    def upload_progress(self, sent: int, total: int) -> None:
        for observer in self.observers:
            observer.upload_progress(sent, total)

    def job_progress(self, job: JobState) -> None:
        for observer in self.observers:
            observer.job_progress(job)

    def note(self, detail: str) -> None:
        for observer in self.observers:
            observer.note(detail)


class FanOut:
    """A RunObserver that tells every one of `observers`, in order."""

    def __init__(self, *observers: RunObserver) -> None:
        self.observers = observers

    def wave_started(self, wave: WaveKind, size: int) -> None:
        """Tell each observer a wave started."""
        for observer in self.observers:
            observer.wave_started(wave, size)

    def state_changed(self, name: str, state: Outcome, detail: str | None) -> None:
        """Tell each observer an appliance changed state."""
        for observer in self.observers:
            observer.state_changed(name, state, detail)

    def ingest_changed(self, cluster: str, action: str, via: str, error: str | None = None) -> None:
        """Tell each observer about an ingest action."""
        for observer in self.observers:
            observer.ingest_changed(cluster, action, via, error)

    def step_observer(self, name: str) -> StepObserver:
        """One step observer that tells each observer's own."""
        return _StepFanOut([observer.step_observer(name) for observer in self.observers])
