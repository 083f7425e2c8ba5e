"""What a simulated appliance needs from whatever runs it, and how it refuses a request.

The served fleet (`server.SimulatedFleet`) and the in-memory one (`memory.MemoryFleet`) are
both a `Host`: time, timers, the event log, going down and up again, and downloading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.simulator.jobs import Fetched

__all__ = ["Event", "Host", "Refused"]


@dataclass(frozen=True)
class Event:
    """Something the fleet did, at monotonic time `t` (seconds)."""

    t: float
    appliance: str
    kind: str
    data: dict[str, Any]


class Host(Protocol):
    """What an appliance needs from the server that runs it."""

    def now(self) -> float:
        """Monotonic wall time in seconds."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` after `delay` wall seconds."""

    def emit(self, appliance: str, kind: str, data: dict[str, Any]) -> None:
        """Record an event."""

    def go_down(self, appliance: str) -> None:
        """Stop listening and drop every open connection of `appliance`."""

    def come_up(self, appliance: str, then: Callable[[], None]) -> None:
        """Listen again on the same port, then call `then`."""

    def download(self, appliance: str, url: str, then: Callable[[Fetched], None]) -> None:
        """Fetch `url` for `appliance` (download/url), then call `then` with what came."""


class Refused(Exception):
    """The appliance refuses a request with `status` and an `error_message`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
