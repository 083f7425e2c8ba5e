"""Frozen run settings, resolved once: CLI flag > ORCHESTRATOR_* environment > file > default."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_PREFIX = "ORCHESTRATOR_"
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


class FailureBudget(BaseModel):
    """How many appliance failures a run tolerates before it stops starting new ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int | None = None  # absolute number of failures allowed
    percent: float | None = None  # share of the appliances to upgrade, 0-100

    @classmethod
    def parse(cls, text: str) -> FailureBudget:
        """Parse `N` or `P%` as given to --max-failures."""
        match = _BUDGET.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a number or a percentage such as 3 or 10%")
        value, percent = match.groups()
        if percent:
            return cls(percent=float(value))
        if "." in value:
            raise ValueError(f"{text!r}: a failure count must be a whole number")
        return cls(count=int(value))

    def exceeded(self, failures: int, total: int) -> bool:
        """Whether `failures` out of `total` appliances is over the budget."""
        if self.count is not None:
            return failures > self.count
        if self.percent is not None:
            return total > 0 and failures * 100 > self.percent * total
        return False

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        return "unlimited" if self.count is None else str(self.count)


class Settings(BaseModel):
    """Everything a run needs to know besides the inventory; passed explicitly, never global."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # execution
    concurrency: int = Field(default=4, ge=1, le=1000)
    max_failures: FailureBudget = FailureBudget()
    window_end: dt.datetime | None = None
    allow_downgrade: bool = False
    state_db: Path = Path("orchestrator-state.db")
    report: Path | None = None
    notify_url: str | None = None
    log_format: Literal["console", "json"] | None = None  # None: console on a terminal
    # talking to appliances
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    requests_per_second: float = Field(default=5.0, gt=0)
    retry_attempts: int = Field(default=5, ge=1)
    retry_timeout: float = Field(default=120.0, gt=0)
    # polling a job and waiting out the restart
    poll_interval: float = Field(default=5.0, gt=0)
    poll_interval_max: float = Field(default=60.0, gt=0)
    job_deadline: float = Field(default=3600.0, gt=0)
    reboot_deadline: float = Field(default=1800.0, gt=0)
    # estimates for the plan
    upload_throughput: float = Field(default=20e6, gt=0)  # bytes per second
    download_duration: float = Field(default=300.0, ge=0)  # URL/cloud modes, seconds
    upgrade_duration: float = Field(default=900.0, ge=0)  # firmware job, seconds
    reboot_duration: float = Field(default=300.0, ge=0)  # restart downtime, seconds

    @field_validator("max_failures", mode="before")
    @classmethod
    def _budget(cls, value: object) -> object:
        if isinstance(value, str | int):
            return FailureBudget.parse(str(value))
        return value


def parse_window_end(text: str, now: dt.datetime) -> dt.datetime:
    """Parse --window-end: an ISO 8601 time, or HH:MM meaning the next such local time."""
    hhmm = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if hhmm:
        hour, minute = int(hhmm.group(1)), int(hhmm.group(2))
        if hour > 23 or minute > 59:  # noqa: PLR2004
            raise ConfigError(f"--window-end {text}: not a time of day; write HH:MM, e.g. 05:30")
        local_now = now.astimezone()
        end = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return end if end > local_now else end + dt.timedelta(days=1)
    try:
        end = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--window-end {text}: write an ISO 8601 time (2026-11-24T05:30) or HH:MM"
        ) from None
    return end if end.tzinfo else end.astimezone()


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    out: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name = key.removeprefix(ENV_PREFIX).lower()
            if name in fields:
                out[name] = value
    return out


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read settings ({exc.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: settings must be a mapping of name: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def resolve_settings(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    file: Path | None = None,
) -> Settings:
    """Merge the sources (CLI > environment > file > default) into one frozen Settings."""
    merged: dict[str, Any] = {}
    for layer in (_from_file(file), _from_env(env), cli):
        merged.update({k: v for k, v in layer.items() if v is not None})
    unknown = sorted(set(merged) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        flag = f"--{name.replace('_', '-')} (or {ENV_PREFIX}{name.upper()})"
        raise ConfigError(f"{flag}: {message}") from None
