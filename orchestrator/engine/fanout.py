"""Several observers of one run: the live view, the run's log, and whoever else listens."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.engine.ports import RunEvent, RunObserver

__all__ = ["FanOut"]


class FanOut:
    """A RunObserver that tells every one of `observers`, in order."""

    def __init__(self, *observers: RunObserver) -> None:
        self.observers = observers

    def notify(self, event: RunEvent) -> None:
        """Tell each observer."""
        for observer in self.observers:
            observer.notify(event)
