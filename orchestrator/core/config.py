"""Frozen run settings, resolved once: CLI flag > ORCHESTRATOR_* environment > file > default."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from orchestrator.core.batchsizes import BatchSizes
from orchestrator.core.errors import ConfigError
from orchestrator.core.models import ZonedTime, local_if_naive
from orchestrator.core.statehome import default_state_db
from orchestrator.core.userfile import read_regular

try:  # libyaml refuses deep nesting quickly; the pure-Python parser recurses (RecursionError)
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_PREFIX = "ORCHESTRATOR_"
_MINUTES_A_DAY = 24 * 60
_HOUR, _DAY, _WEEK = 3600.0, 86_400.0, 604_800.0  # seconds: the bounds of the settings
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
            if float(value) > 100:  # noqa: PLR2004
                raise ValueError(f"{text!r}: a share of the appliances is at most 100%")
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
    """Everything a run needs to know besides the inventory; passed explicitly, never global.

    Every number is finite and within a range (docs/cli.md, Settings): an infinite timeout
    or a rate of 1e-300 requests per second would hang a run instead of failing it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # execution
    concurrency: int = Field(default=4, ge=1, le=1000)
    max_failures: FailureBudget = FailureBudget()
    window_end: ZonedTime | None = None
    allow_downgrade: bool = False
    backup: bool = True  # back each appliance up into the run's folder before changing it
    ingest_found_off: Literal["keep", "enable"] | None = None  # a cluster found disabled
    batches: BatchSizes | None = None  # within each stage; None: the stage is one batch
    pause_after: Literal["stage", "batch"] | None = None  # gates: wait for a person there
    # graph: start each appliance once what it depends on is done; waves: stage after stage.
    # None: graph, or waves with gates (a gate stops the run between stages).
    schedule: Literal["graph", "waves"] | None = None
    # graph: at most this many Explore clusters in progress at once (their ingest off); None: any
    clusters_at_once: int | None = Field(default=None, ge=1, le=10_000)
    # graph: when an Explore cluster may start (plan.model.ClusterStarts); None: the plan
    # chooses, the shortest run and then the least ingest-off
    cluster_starts: Literal["ready", "fit", "fit-or-idle"] | None = None
    state_db: Path = Field(default_factory=default_state_db)  # the per-user state home
    report: Path | None = None
    notify_url: str | None = None
    notify_start: bool = False  # also POST to notify_url when a run starts (or resumes)
    log_format: Literal["console", "json"] | None = None  # None: console on a terminal
    # talking to appliances
    connect_timeout: float = Field(default=10.0, ge=0.1, le=_HOUR)
    read_timeout: float = Field(default=60.0, ge=0.1, le=_HOUR)
    requests_per_second: float = Field(default=5.0, ge=0.1, le=10_000)
    retry_attempts: int = Field(default=5, ge=1, le=100)
    retry_timeout: float = Field(default=120.0, ge=0.1, le=_DAY)
    # polling a job and waiting out the restart
    poll_interval: float = Field(default=5.0, ge=0.01, le=_HOUR)
    poll_interval_max: float = Field(default=60.0, ge=0.01, le=_HOUR)
    job_deadline: float = Field(default=3600.0, ge=0.1, le=_WEEK)
    reboot_deadline: float = Field(default=1800.0, ge=0.1, le=_WEEK)
    postcheck_grace: float = Field(default=300.0, ge=0, le=_DAY)  # processes may still start
    # estimates for the plan
    upload_throughput: float = Field(default=20e6, ge=1e3, le=1e11)  # bytes per second
    download_duration: float = Field(default=300.0, ge=0, le=_WEEK)  # URL/cloud modes, seconds
    upgrade_duration: float = Field(default=900.0, ge=0, le=_WEEK)  # firmware job, seconds
    reboot_duration: float = Field(default=300.0, ge=0, le=_WEEK)  # restart downtime, seconds

    @field_validator("schedule")
    @classmethod
    def _gates_need_waves(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "graph" and info.data.get("pause_after") is not None:
            raise ValueError(
                "gates (--pause-after) stop the run between stages, so stages run one at a "
                "time: use --schedule waves, or leave --schedule out"
            )
        return value

    @field_validator("clusters_at_once", "cluster_starts")
    @classmethod
    def _order_needs_graph(cls, value: object, info: ValidationInfo) -> object:
        waves = info.data.get("schedule") == "waves" or info.data.get("pause_after") is not None
        if value is not None and waves:
            flag = "--" + str(info.field_name).replace("_", "-")
            what = flag.removeprefix("--").replace("-", " ")
            raise ValueError(
                f"{what} orders a graph schedule; stages run one at a time in waves "
                f"(--schedule waves, --pause-after): leave {flag} out"
            )
        return value

    @property
    def schedule_kind(self) -> Literal["graph", "waves"]:
        """The schedule a plan made with these settings follows."""
        if self.schedule is not None:
            return self.schedule
        return "waves" if self.pause_after is not None else "graph"

    @field_validator("max_failures", "batches", mode="before")
    @classmethod
    def _from_text(cls, value: object, info: ValidationInfo) -> object:
        """`3`, `10%`, `1,5,25%`: a flag's, a variable's or a file's text, parsed."""
        if isinstance(value, str | int):
            parse = FailureBudget.parse if info.field_name == "max_failures" else BatchSizes.parse
            return parse(str(value))
        return value


def parse_window_end(text: str, now: dt.datetime, *, source: str = "--window-end") -> dt.datetime:
    """Parse a window end: an ISO 8601 time, or HH:MM meaning the next such local time.

    `source` names where the text came from in the error (the flag, a variable or a file).
    """
    if not text.strip():
        fix = "write an ISO 8601 time (2026-11-24T05:30) or HH:MM, or leave it out"
        raise ConfigError(f"{source} is empty; {fix}")
    hhmm = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if hhmm:
        hour, minute = int(hhmm.group(1)), int(hhmm.group(2))
        if hour > 23 or minute > 59:  # noqa: PLR2004
            raise ConfigError(f"{source} {text}: not a time of day; write HH:MM, e.g. 05:30")
        local_now = now.astimezone()
        end = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return end if end > local_now else end + dt.timedelta(days=1)
    try:
        end = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{source} {text}: write an ISO 8601 time (2026-11-24T05:30) or HH:MM"
        ) from None
    return local_if_naive(end)


def _window(layer: dict[str, Any], source: str, now: dt.datetime) -> dict[str, Any]:
    """The layer with its window_end (text, or a YAML timestamp) parsed like --window-end."""
    value = layer.get("window_end")
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    elif isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 23:15 as the base-60 number 1395.
        if not 0 <= value < _MINUTES_A_DAY:
            raise ConfigError(f'{source} {value}: write an ISO 8601 time or "HH:MM" in quotes')
        value = "{}:{:02d}".format(*divmod(value, 60))
    if isinstance(value, str):
        return {**layer, "window_end": parse_window_end(value, now, source=source)}
    return layer


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    out: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name = key.removeprefix(ENV_PREFIX).lower()
            if name in fields:
                out[name] = value
    return out


def _read_file(path: Path) -> object:
    """The YAML document in the settings file; ConfigError naming the file."""
    try:
        return yaml.load(read_regular(path).decode("utf-8"), Loader=_SafeLoader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply; write `name: value` lines") from None
    except yaml.MarkedYAMLError as exc:
        line = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        problem = f": {exc.problem}" if exc.problem else ""
        fix = "write `name: value` lines"
        raise ConfigError(f"{path}: not valid YAML{line}{problem}; {fix}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{path}: not valid YAML; write `name: value` lines") from None


def _from_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = _read_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: settings must be a mapping of name: value")
    settings = {str(k).replace("-", "_"): v for k, v in data.items()}
    for name in settings:
        if name not in Settings.model_fields:
            close = difflib.get_close_matches(name, list(Settings.model_fields), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"{path}: unknown setting {name}{hint}")
    return settings


def resolve_settings(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    file: Path | None = None,
) -> Settings:
    """Merge the sources (CLI > environment > file > default) into one frozen Settings."""
    now = dt.datetime.now(dt.UTC)
    layers = (
        _window(_from_file(file), f"{file}: window_end", now),
        _window(_from_env(env), f"{ENV_PREFIX}WINDOW_END", now),
        cli,
    )
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        in_file = f", or {name} in {file}" if file is not None else ""
        flag = f"--{name.replace('_', '-')} (or {ENV_PREFIX}{name.upper()}{in_file})"
        raise ConfigError(f"{flag}: {message}") from None


def window_still_open(end: dt.datetime | None, whose: str) -> dt.datetime | None:
    """A saved window end, refused once it has passed: it would defer every appliance."""
    if end is not None and end <= dt.datetime.now(dt.UTC):
        raise ConfigError(
            f"the window {whose} ended at {end.isoformat(timespec='minutes')}; "
            "give this window's end with --window-end HH:MM"
        )
    return end


def resumed_settings(original: Settings, current: Settings) -> Settings:
    """The settings of a resumed run.

    Its own, but where to write and log, and a window given now (flag, variable or file), are
    this invocation's.
    """
    keep = ["state_db", "report", "notify_url", "notify_start", "log_format"]
    if current.window_end is not None:
        keep.append("window_end")
    else:
        window_still_open(original.window_end, "the run was started with")
    return original.model_copy(update={name: getattr(current, name) for name in keep})
