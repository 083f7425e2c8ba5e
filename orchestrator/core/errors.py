"""One exception tree for everything the orchestrator raises on purpose.

    OrchestratorError
    ├── ConfigError              bad flags, environment or settings           (exit 2)
    ├── InventoryError           bad inventory: .file, .row, what to write    (exit 2)
    ├── PlanError                refused plan, bad or drifted plan file       (exit 2)
    │   └── DriftError           the fleet or images changed since the plan   (exit 2)
    ├── StateError               the state database cannot be used            (exit 2)
    │   └── LockedError          another run holds the state database         (exit 2)
    └── ApplianceError           one appliance misbehaved: .appliance
        ├── ApiError             the API answered with an error: .status, .error_message
        │   └── AuthError        401/403: the key is wrong, revoked or lacks privileges
        ├── TransportError       no usable answer: refused, reset, TLS, bad payload
        │   └── RequestTimeout   connect or read timeout
        ├── JobFailed            a firmware job ended FAILED or TIMEOUT: .job_id, .status
        └── PreconditionFailed   the appliance is not in a state we can act on

Foreign exceptions (aiohttp, OSError, json) are translated at one boundary, in
`orchestrator.appliance.client`; nothing else leaks out of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ApiError",
    "ApplianceError",
    "AuthError",
    "ConfigError",
    "DriftError",
    "InventoryError",
    "JobFailed",
    "LockedError",
    "OrchestratorError",
    "PlanError",
    "PreconditionFailed",
    "RequestTimeout",
    "StateError",
    "TransportError",
    "is_transient",
    "one_line",
]


class OrchestratorError(Exception):
    """Root of every error the orchestrator raises deliberately."""


class ConfigError(OrchestratorError):
    """A flag, environment variable or setting is invalid."""


class InventoryError(OrchestratorError):
    """The inventory cannot be used; names the file and the row or YAML path.

    One pass over an inventory reports every error it finds: the first is this error's own
    (`.message` at `.row`), the others are in `.also`, and `.unlisted` counts those found
    beyond the ones kept. `str()` stays one line, for logs; `lines()` gives one per error.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        row: str | int | None = None,
        also: Sequence[InventoryError] = (),
        unlisted: int = 0,
    ) -> None:
        self.file = file
        self.row = row
        self.message = message
        self.also = tuple(also)
        self.unlisted = unlisted
        more = len(self.also) + unlisted
        suffix = f" (and {more} more {'error' if more == 1 else 'errors'})" if more else ""
        super().__init__(f"{self.line()}{suffix}")

    def line(self) -> str:
        """The first error alone, as one line: `file:row: message`."""
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        return f"{where}: {self.message}"

    def lines(self) -> list[str]:
        """Every error found, one line each, and how many more were not listed."""
        lines = [self.line(), *(error.line() for error in self.also)]
        if self.unlisted:
            lines.append(f"{self.file}: {self.unlisted} more not listed; fix these and run again")
        return lines


class PlanError(OrchestratorError):
    """The plan is refused, or a plan file cannot be used.

    `.items` lists what is wrong, one sentence each (the command line prints a line per
    item under `.heading`); `str()` stays one line, for logs.
    """

    def __init__(self, message: str, *, items: Sequence[str] = (), fix: str = "") -> None:
        self.heading = message
        self.items = tuple(items)
        self.fix = fix
        listed = f": {'; '.join(self.items)}" if self.items else ""
        super().__init__(f"{message}{listed}{f'; {fix}' if fix else ''}")


class DriftError(PlanError):
    """The fleet, inventory or firmware images changed since the plan was saved."""

    def __init__(self, drifts: list[str]) -> None:
        self.drifts = drifts
        super().__init__("the plan no longer matches", items=drifts)


class StateError(OrchestratorError):
    """The state database is missing, corrupt, foreign or otherwise unusable."""


class LockedError(StateError):
    """Another run holds the lock on the state database."""


class ApplianceError(OrchestratorError):
    """Something went wrong with one appliance; `.appliance` names it."""

    def __init__(self, appliance: str, message: str) -> None:
        self.appliance = appliance
        self.message = message
        super().__init__(f"{appliance}: {message}")


class ApiError(ApplianceError):
    """The appliance answered with an HTTP error status."""

    def __init__(
        self,
        appliance: str,
        status: int,
        error_message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.error_message = error_message
        self.retry_after = retry_after
        super().__init__(appliance, f"HTTP {status}: {error_message}")

    @property
    def transient(self) -> bool:
        """Whether retrying the same request later may succeed (429 and 5xx)."""
        return self.status == 429 or self.status >= 500  # noqa: PLR2004


class AuthError(ApiError):
    """401/403: the API key is wrong, revoked or lacks the privileges needed."""


class TransportError(ApplianceError):
    """No usable HTTP answer: connection refused or reset, TLS failure, unreadable body."""


class RequestTimeout(TransportError):
    """The connection or the response took longer than the configured timeout."""


class JobFailed(ApplianceError):
    """A firmware job on the appliance ended FAILED or TIMEOUT."""

    def __init__(self, appliance: str, job_id: str, status: str, details: str = "") -> None:
        self.job_id = job_id
        self.status = status
        self.details = details
        suffix = f": {details}" if details else ""
        super().__init__(appliance, f"job {job_id} ended {status}{suffix}")


class PreconditionFailed(ApplianceError):
    """The appliance is not in a state the step can act on (wrong version, role, platform)."""


def one_line(exc: BaseException) -> str:
    """The error's message on one line, as the CLI, the report and the journal show it."""
    return " ".join(str(exc).split())


def is_transient(exc: Exception) -> bool:
    """Whether `exc` is a fault worth retrying: transport trouble, 5xx or 429."""
    if isinstance(exc, TransportError):
        return True
    return isinstance(exc, ApiError) and exc.transient
