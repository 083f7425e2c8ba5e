"""Firmware jobs of a simulated appliance, and what it checks in an image before installing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from orchestrator.core.models import parse_version

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.simulator.images import ImageHeader

__all__ = [
    "DOWNLOAD_STEP",
    "DownloadJoin",
    "Fetched",
    "Job",
    "Staged",
    "image_problem",
    "install_steps",
    "well_formed_url",
]

DOWNLOAD_STEP = "Downloading firmware"
_URL_SCHEMES = frozenset({"http", "https", "ftp"})
_INSTALL_STEPS = (
    "Verifying firmware image",
    "Installing firmware",
    "Migrating configuration",
    "Finalizing upgrade",
)


class Staged(NamedTuple):
    """A firmware image the appliance holds, ready to install."""

    version: str


class Fetched(NamedTuple):
    """What a download brought: the image's first bytes and its size, or why it failed."""

    head: bytes = b""
    size: int = 0
    error: str | None = None


@dataclass
class Job:
    """One firmware job (GET /api/v1/jobs/{id})."""

    id: str
    type: str  # upgrade | download_url | download_version
    target_version: str | None  # None while a URL download has not told it yet
    steps: tuple[str, ...]
    install: bool  # installs the firmware when it ends
    restart_after: bool
    public: bool  # False on pre-8.5 firmware (no Location, no /jobs)
    status: str = "RUNNING"
    step_number: int = 1
    details: str = ""

    @property
    def public_id(self) -> str | None:
        """The id clients can know (None when no Location was given)."""
        return self.id if self.public else None

    def as_json(self) -> dict[str, Any]:
        """The JobStatus object."""
        return {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "step_number": self.step_number,
            "total_steps": len(self.steps),
            "step_description": self.steps[self.step_number - 1],
            "details": self.details,
            "remote_jobs": [],
        }


def install_steps(count: int) -> tuple[str, ...]:
    """The descriptions of an install's `count` steps."""
    size = len(_INSTALL_STEPS)
    return tuple(_INSTALL_STEPS[min(i * size // count, size - 1)] for i in range(count))


def image_problem(
    header: ImageHeader | None, *, platform: str, running: str, force: bool
) -> str | None:
    """Why a downloaded image cannot be installed here, in the appliance's words (None: it can)."""
    if header is None:
        return "the downloaded file is not an ExtraHop firmware image"
    if header.platform != platform:
        return f"the firmware is for {header.platform} appliances, not for {platform}"
    new, old = parse_version(header.version), parse_version(running)
    if not force and new is not None and old is not None and new < old:
        return (
            f"firmware {header.version} is older than the running {running}; set force to downgrade"
        )
    return None


def well_formed_url(url: str) -> bool:
    """An http, https or ftp URL with a host and a valid port (what the appliance accepts)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in _URL_SCHEMES and bool(parts.hostname) and " " not in url


@dataclass
class DownloadJoin:
    """Calls `then` with the download once both it and the download step's time are over."""

    then: Callable[[Fetched], None]
    timer: bool = False
    result: Fetched | None = None

    def timer_done(self) -> None:
        """The download step's time is over."""
        self.timer = True
        self._maybe()

    def fetched(self, result: Fetched) -> None:
        """The download ended (well or not)."""
        self.result = result
        self._maybe()

    def _maybe(self) -> None:
        if self.timer and self.result is not None:
            self.then(self.result)
