"""JSON request bodies, validated strictly as the appliance API does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.simulator.host import Refused

if TYPE_CHECKING:
    from aiohttp import web

_M = TypeVar("_M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class UpgradeBody(_Body):
    """POST /extrahop/firmware/latest/upgrade."""

    force: bool = False
    restart_after: bool = True
    silent: bool = False


class DownloadUrlBody(_Body):
    """POST /extrahop/firmware/download/url."""

    firmware_url: str
    upgrade: bool = False
    force: bool = False


class DownloadVersionBody(_Body):
    """POST /extrahop/firmware/download/version."""

    version: str
    upgrade: bool = False


class ConsoleUpgradeBody(_Body):
    """POST /appliances/firmware/upgrade (on a Command appliance)."""

    system_ids: list[int]
    version: str


class ClusterBody(_Body):
    """PATCH /extrahop/cluster."""

    ingest_enabled: bool | None = None


async def json_body(request: web.Request, model: type[_M], *, required: bool) -> _M:
    """Parse a JSON-object body into `model`; Refused (400/415) when it does not fit."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise Refused(400, "a JSON object body is required")
        return model()
    if request.content_type != "application/json":
        raise Refused(415, "the body must be sent as Content-Type: application/json")
    try:
        data = json.loads(raw)
    except ValueError:
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refused(400, f"{field}: {first['msg']}") from None


class CustomizationBody(_Body):
    """POST /customizations: a backup of the appliance's customizations, named."""

    name: str
