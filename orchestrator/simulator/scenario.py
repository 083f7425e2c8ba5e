"""Scenario YAML: the simulated fleet, its timings and its faults, as validated data."""

from __future__ import annotations

import importlib.resources
import re
from typing import TYPE_CHECKING, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from orchestrator.core.errors import ConfigError
from orchestrator.core.models import NodeKind, Role, parse_version

if TYPE_CHECKING:
    from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The certificate an appliance serves when the fleet speaks TLS (see simulator.certs).
CertificateKind = Literal[
    "fleet", "self-signed", "other-ca", "expired", "not-yet-valid", "wrong-name"
]
TIMING_FIELDS = (
    "upload_throughput",
    "job_steps",
    "job_duration",
    "download_duration",
    "restart_downtime",
)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timing(_Strict):
    """Durations in simulated seconds; throughput in simulated bytes per second (0 = unlimited)."""

    upload_throughput: int = Field(default=200_000_000, ge=0)
    job_steps: int = Field(default=4, ge=1, le=100)
    job_duration: float = Field(default=600.0, ge=0)
    download_duration: float = Field(default=120.0, ge=0)
    restart_downtime: float = Field(default=240.0, ge=0)


class RateLimit(_Strict):
    """Answer the next `count` requests 429 with `Retry-After: retry_after` (wall seconds)."""

    count: int = Field(ge=0)
    retry_after: float = Field(default=1.0, ge=0)


class Faults(_Strict):
    """Misbehaviour scripted for one appliance (all off by default)."""

    job_result: Literal["FAILED", "TIMEOUT"] | None = None  # every job ends so; no restart
    version_unchanged: bool = False  # job DONE and restart, but the old version comes back
    http_5xx: int = Field(default=0, ge=0)  # the next N requests answer 503
    rate_limit: RateLimit | None = None  # the next N requests answer 429 + Retry-After
    drop_upload_at: float | None = Field(default=None, gt=0, lt=1)  # first upload cut there
    revoked_key: bool = False  # every request answers 401
    no_job_location: bool = False  # pre-8.5: 202 without Location, no /jobs endpoint
    busy: int = Field(default=0, ge=0)  # the first N upgrade/download POSTs answer 409
    slow_restart: float = Field(default=1.0, gt=0)  # restart downtime multiplied by this
    ingest_stuck: bool = False  # PATCH re-enabling ingest through this node answers 500
    halt_unavailable: RateLimit | None = None  # next N halting PATCHes: 503 + Retry-After
    halt_refused: bool = False  # every PATCH halting ingest through this node answers 400
    rollback_fails: bool = False  # POST firmware/previous/rollback answers 500; nothing changes
    rollback_version: str | None = None  # a rollback restarts into this version, not the previous
    disconnected: bool = False  # its console lists it "Unable to connect", at its first version
    no_appliance_list: bool = False  # GET /appliances answers 404 (firmware without the list)
    backup_fails: bool = False  # POST /customizations answers 500: no backup can be made
    process_down: str | None = None  # this process stays down after an upgrade (processes)
    license_changes: bool = False  # GET /license answers another license after an upgrade


class ApplianceSpec(_Strict):
    """One simulated appliance; timing fields left unset fall back to the scenario defaults."""

    name: str
    role: Role
    version: str
    cluster: str | None = None
    node: NodeKind | None = None
    api_key: SecretStr | None = None  # None: a random token per run
    port: int = Field(default=0, ge=0, le=65535)  # 0: any free port
    previous_version: str | None = None  # what GET /extrahop/firmware/previous reports
    certificate: CertificateKind = "fleet"  # served with --tls: signed by the fleet's CA
    # A console's appliances (None: every other), or a Discover appliance's Explore and Trace
    # appliances (None: every Explore and Trace appliance).
    connected: tuple[str, ...] | None = None
    upload_throughput: int | None = Field(default=None, ge=0)
    job_steps: int | None = Field(default=None, ge=1, le=100)
    job_duration: float | None = Field(default=None, ge=0)
    download_duration: float | None = Field(default=None, ge=0)
    restart_downtime: float | None = Field(default=None, ge=0)
    faults: Faults = Faults()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not _NAME.match(self.name):
            raise ValueError(f"name {self.name!r}: use letters, digits, '.', '_' or '-'")
        if parse_version(self.version) is None:
            raise ValueError(f"version {self.version!r} is not a dotted version like 9.8.0.100")
        if self.role is Role.EXPLORE and (self.cluster is None or self.node is None):
            raise ValueError("an explore appliance needs `cluster` and `node` (manager|data)")
        if self.role is not Role.EXPLORE and (self.cluster is not None or self.node is not None):
            raise ValueError("only explore appliances have `cluster` and `node`")
        if self.connected is not None and self.role not in CONNECTED_ROLES:
            raise ValueError("only a command or discover appliance has `connected`")
        return self


# The roles whose appliances list others as connected (GET /appliances), and whom they list.
CONNECTED_ROLES = {
    Role.COMMAND: frozenset(Role),
    Role.DISCOVER: frozenset({Role.EXPLORE, Role.TRACE}),
}


class ClusterSpec(_Strict):
    """An Explore cluster's state at start."""

    ingest_enabled: bool = True


class Scenario(_Strict):
    """A whole simulated fleet."""

    time_scale: float = Field(default=1.0, gt=0)  # wall seconds per simulated second
    target_version: str | None = None  # the version write_inventory points at
    image_size: int = Field(default=8 * 1024 * 1024, ge=64)  # bytes of generated images
    defaults: Timing = Timing()
    clusters: dict[str, ClusterSpec] = {}
    available_versions: tuple[str, ...] = ()
    appliances: tuple[ApplianceSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        seen: set[str] = set()
        ports: set[int] = set()
        for spec in self.appliances:
            if spec.name in seen:
                raise ValueError(f"appliance name {spec.name!r} is used twice")
            seen.add(spec.name)
            if spec.port and spec.port in ports:
                raise ValueError(f"port {spec.port} is used twice")
            ports.add(spec.port)
        roles = {spec.name: spec.role for spec in self.appliances}
        for spec in self.appliances:
            _check_connected(spec, roles)
        for version in (self.target_version, *self.available_versions):
            if version is not None and parse_version(version) is None:
                raise ValueError(f"version {version!r} is not a dotted version like 9.9.1.100")
        return self

    def timing(self, spec: ApplianceSpec) -> Timing:
        """The effective timings of one appliance: its overrides over the defaults."""
        overrides = {f: getattr(spec, f) for f in TIMING_FIELDS if getattr(spec, f) is not None}
        return self.defaults.model_copy(update=overrides)

    def cluster_names(self) -> tuple[str, ...]:
        """Every cluster named by the scenario or one of its appliances, in order."""
        names = dict.fromkeys(self.clusters)
        names.update(dict.fromkeys(s.cluster for s in self.appliances if s.cluster))
        return tuple(names)


def _check_connected(spec: ApplianceSpec, roles: dict[str, Role]) -> None:
    allowed = CONNECTED_ROLES.get(spec.role, frozenset())
    known = ", ".join(n for n, role in roles.items() if n != spec.name and role in allowed)
    for name in spec.connected or ():
        if name not in roles or name == spec.name:
            raise ValueError(
                f"{spec.name}.connected: no other appliance is named {name!r}; use one of {known}"
            )
        if roles[name] not in allowed:
            choice = f"use one of {known}" if known else "this scenario has none"
            raise ValueError(
                f"{spec.name}.connected: {name} is a {roles[name].value} appliance; a discover "
                f"appliance lists only explore and trace appliances ({choice})"
            )


def _yaml_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_scenario(text: str, *, source: str) -> Scenario:
    """Parse scenario YAML text; errors name `source` and the YAML path."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}{where}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a scenario must be a mapping with `appliances:`")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{source}: {_yaml_path(tuple(first['loc']))}: {message}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file (ConfigError naming the file and YAML path)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read scenario ({exc.__class__.__name__})") from None
    return parse_scenario(text, source=str(path))


DEFAULT_SCENARIO = "lab-sim.yaml"


def default_scenario() -> Scenario:
    """The lab fleet shipped with the package (a copy of inventories/lab-sim.yaml)."""
    resource = importlib.resources.files("orchestrator") / "data" / DEFAULT_SCENARIO
    return parse_scenario(
        resource.read_text(encoding="utf-8"), source=f"(built-in) {DEFAULT_SCENARIO}"
    )
