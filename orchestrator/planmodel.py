"""The plan's data: frozen models serialised to the saved-plan JSON (see docs/planning.md)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.models import Firmware, NodeKind, Role, ZonedTime

if TYPE_CHECKING:
    from collections.abc import Iterator


class PlanModel(BaseModel):
    """Base for the plan's frozen models (serialised to the saved-plan JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Action(enum.StrEnum):
    """What the plan will do to one appliance."""

    UPLOAD = "upload"  # upload a local image, then upgrade with restart_after
    URL = "url"  # the appliance downloads the image from a URL and upgrades
    CLOUD = "cloud"  # the appliance downloads from ExtraHop Cloud Services, then upgrades
    SKIP = "skip"  # already at the target version
    REFUSED = "refused"  # the plan will not touch it; `reason` says why


class WaveKind(enum.StrEnum):
    """The five waves, in the vendor's order."""

    COMMAND = "command"
    DISCOVER = "discover"
    EXPLORE_MANAGERS = "explore-managers"
    EXPLORE_DATA = "explore-data"
    TRACE = "trace"


WAVE_ORDER: tuple[WaveKind, ...] = tuple(WaveKind)


class ImageInfo(PlanModel):
    """A local firmware image as hashed at plan time."""

    path: str
    size: int
    sha256: str


class Estimate(PlanModel):
    """Expected seconds for each step of one appliance."""

    upload: float = 0.0
    download: float = 0.0
    upgrade: float = 0.0
    reboot: float = 0.0

    @property
    def total(self) -> float:
        """All steps, one after the other."""
        return self.upload + self.download + self.upgrade + self.reboot


class PlannedAppliance(PlanModel):
    """One appliance's line in the plan."""

    name: str
    url: str
    role: Role | None
    cluster: str | None = None
    node: NodeKind | None = None
    wave: WaveKind | None  # None when refused before a role was known
    current_version: str | None
    target_version: str | None
    action: Action
    firmware: Firmware
    image: ImageInfo | None = None
    reason: str | None = None  # for skip and refused
    estimate: Estimate = Estimate()
    fits_window: bool = True

    @property
    def actionable(self) -> bool:
        """Whether apply will change this appliance."""
        return self.action in {Action.UPLOAD, Action.URL, Action.CLOUD}


class IngestBracket(PlanModel):
    """Halt ingest on one Explore cluster before its first node, restore after its last."""

    cluster: str
    via: str  # the appliance the PATCH is sent to (applies cluster-wide)
    members: tuple[str, ...]
    was_enabled: bool | None  # as observed at plan time; None when planned offline
    halt: bool  # False when ingest was already off (left off) or no node is upgraded


class Wave(PlanModel):
    """One wave: every appliance in it finishes before the next wave starts."""

    kind: WaveKind
    appliances: tuple[PlannedAppliance, ...]
    estimate: float = 0.0  # seconds at the planned concurrency


class Plan(PlanModel):
    """The whole reviewed plan, savable as JSON and re-checked before apply."""

    schema_version: int = 1
    created_at: dt.datetime
    inventory_source: str
    inventory_sha256: str
    offline: bool = False
    concurrency: int = Field(ge=1, le=1000)  # as Settings.concurrency; 0 would never start
    allow_downgrade: bool = False
    window_end: ZonedTime | None = None

    waves: tuple[Wave, ...]
    ingest: tuple[IngestBracket, ...] = ()
    warnings: tuple[str, ...] = ()
    refusals: tuple[str, ...] = ()  # why the plan as a whole cannot be applied
    estimate: float = 0.0  # total seconds, waves one after another
    unplaced: tuple[PlannedAppliance, ...] = ()  # refused before a wave was known

    def appliances(self) -> Iterator[PlannedAppliance]:
        """Every planned appliance, in wave order, then the unplaced (refused) ones."""
        for wave in self.waves:
            yield from wave.appliances
        yield from self.unplaced

    def by_name(self, name: str) -> PlannedAppliance:
        """The planned appliance called `name` (KeyError if absent)."""
        for appliance in self.appliances():
            if appliance.name == name:
                return appliance
        raise KeyError(name)

    @property
    def refused(self) -> bool:
        """Whether apply must refuse this plan."""
        return bool(self.refusals) or any(a.action is Action.REFUSED for a in self.appliances())


# --- building a plan -------------------------------------------------------------------------
