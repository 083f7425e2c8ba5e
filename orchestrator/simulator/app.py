"""The appliance REST API as aiohttp handlers; each request is routed by its local port."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orchestrator.core.models import FIRMWARE_MEDIA_TYPE
from orchestrator.simulator.bodies import (
    ClusterBody,
    ConsoleUpgradeBody,
    DownloadUrlBody,
    DownloadVersionBody,
    UpgradeBody,
    json_body,
)
from orchestrator.simulator.console import appliance_list, firmware_next, start_upgrade
from orchestrator.simulator.host import Refused
from orchestrator.simulator.images import HEADER_LIMIT, parse_image_header
from orchestrator.simulator.snapapi import add_snapshot_routes

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from orchestrator.simulator.fleet import SimAppliance
    from orchestrator.simulator.jobs import Job

CHUNK = 256 * 1024


@dataclass
class Registry:
    """Every simulated appliance, by name and by the local port it listens on."""

    by_name: dict[str, SimAppliance]
    by_port: dict[int, SimAppliance]
    available_versions: tuple[str, ...]
    ports: dict[str, int] = field(default_factory=dict)  # by name, kept while it restarts


REGISTRY = web.AppKey("registry", Registry)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An API error answer: `{"error_message": ...}`."""
    return web.json_response({"error_message": message}, status=status, headers=headers)


def _local_port(request: web.Request) -> int | None:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return int(sockname[1]) if sockname else None


def _find(request: web.Request) -> SimAppliance | None:
    return request.app[REGISTRY].by_port.get(_local_port(request) or -1)


def _appliance(request: web.Request) -> SimAppliance:
    appliance = _find(request)
    if appliance is None:
        raise Refused(503, "this appliance is restarting")
    return appliance


@web.middleware
async def _gate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Find the appliance, count the request, fire faults, check the key, map errors."""
    appliance = _find(request)
    if appliance is None:
        return error(503, "this appliance is restarting")
    appliance.requests += 1
    try:
        appliance.gate(request.headers.get("Authorization"))
        return await handler(request)
    except Refused as exc:
        return error(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        return error(exc.status, f"{request.method} {request.path}: {exc.reason}")


def _accepted(job: Job) -> web.Response:
    headers = {"Location": f"/api/v1/jobs/{job.id}"} if job.public else None
    return web.Response(status=202, headers=headers)


# -- identity ---------------------------------------------------------------------------


async def get_extrahop(request: web.Request) -> web.Response:
    """GET /extrahop: firmware and identity."""
    appliance = _appliance(request)
    return web.json_response(
        {
            "version": appliance.version,
            "platform": appliance.role.value,
            "hostname": appliance.name,
            "display_host": appliance.name,
            "external_hostname": f"{appliance.name}.sim.invalid",
            "mgmt_ipaddr": "127.0.0.1",
        }
    )


async def get_version(request: web.Request) -> web.Response:
    """GET /extrahop/version."""
    return web.json_response({"version": _appliance(request).version})


async def get_platform(request: web.Request) -> web.Response:
    """GET /extrahop/platform."""
    return web.json_response({"platform": _appliance(request).role.value})


async def get_edition(request: web.Request) -> web.Response:
    """GET /extrahop/edition."""
    del request
    return web.json_response({"edition": "Reveal(x) Enterprise"})


def _appliance_list(request: web.Request) -> list[dict[str, Any]]:
    registry = request.app[REGISTRY]
    return appliance_list(_appliance(request), registry.by_name.values(), registry.ports)


async def get_appliances(request: web.Request) -> web.Response:
    """GET /appliances: this appliance as id 0, plus its connected ones (console, Discover)."""
    return web.json_response(_appliance_list(request))


async def get_appliance(request: web.Request) -> web.Response:
    """GET /appliances/{id}."""
    wanted = request.match_info["id"]
    for item in _appliance_list(request):
        if str(item["id"]) == wanted:
            return web.json_response(item)
    raise Refused(404, f"no appliance with id {wanted}")


def _ids(request: web.Request) -> list[int] | None:
    text = request.query.get("ids")
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Refused(400, "ids must be appliance ids separated by commas, e.g. ids=1,2") from None


async def get_console_next(request: web.Request) -> web.Response:
    """GET /appliances/firmware/next?ids=...: versions connected appliances can go to."""
    registry = request.app[REGISTRY]
    console, fleet = _appliance(request), registry.by_name.values()
    return web.json_response(
        firmware_next(console, fleet, registry.available_versions, _ids(request))
    )


async def post_console_upgrade(request: web.Request) -> web.Response:
    """POST /appliances/firmware/upgrade: the console upgrades connected appliances (202)."""
    body = await json_body(request, ConsoleUpgradeBody, required=True)
    registry = request.app[REGISTRY]
    console, fleet = _appliance(request), registry.by_name.values()
    versions = registry.available_versions
    return _accepted(start_upgrade(console, fleet, versions, body.system_ids, body.version))


# -- firmware -----------------------------------------------------------------------------


class _Pacer:
    """Holds reads back to `rate` bytes per wall second (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.start = asyncio.get_running_loop().time()

    async def wait(self, done: int) -> None:
        if self.rate > 0:
            delay = self.start + done / self.rate - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)


def _drop_point(request: web.Request, appliance: SimAppliance) -> int | None:
    fraction = appliance.take_drop_fraction()
    if fraction is None:
        return None
    length = request.content_length
    return int(length * fraction) if length else CHUNK


async def _receive(request: web.Request, appliance: SimAppliance) -> tuple[int, bytes]:
    """Stream the body in chunks, paced; return its size and its first bytes."""
    timing = appliance.timing
    pacer = _Pacer(timing.upload_throughput / appliance.time_scale)
    cut = _drop_point(request, appliance)
    size, head = 0, b""
    async for chunk in request.content.iter_chunked(CHUNK):
        if len(head) < HEADER_LIMIT:
            head += chunk[: HEADER_LIMIT - len(head)]
        size += len(chunk)
        if cut is not None and size >= cut:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("upload dropped by fault drop_upload_at")
        await pacer.wait(size)
    return size, head


async def post_firmware(request: web.Request) -> web.StreamResponse:
    """POST /extrahop/firmware: stream and validate an image, then stage it (201)."""
    appliance = _appliance(request)
    if request.content_type != FIRMWARE_MEDIA_TYPE:
        reason = f"Content-Type must be {FIRMWARE_MEDIA_TYPE}, not {request.content_type}"
        appliance.emit("upload.rejected", reason=reason)
        raise Refused(415, reason)
    appliance.check_upload_allowed()
    appliance.emit("upload.started")
    try:
        size, head = await _receive(request, appliance)
    except ConnectionError as exc:
        appliance.emit("upload.failed", reason=str(exc) or "connection lost")
        return web.Response(status=400)  # nobody is listening any more
    header = parse_image_header(head)
    platform, version = (header.platform, header.version) if header else (None, None)
    appliance.accept_image(platform, version, size)
    return web.Response(status=201)


async def post_upgrade(request: web.Request) -> web.Response:
    """POST /extrahop/firmware/latest/upgrade: install the staged image (202 + Location)."""
    body = await json_body(request, UpgradeBody, required=False)
    return _accepted(_appliance(request).start_upgrade(restart_after=body.restart_after))


async def post_download_url(request: web.Request) -> web.Response:
    """POST /extrahop/firmware/download/url: download (and maybe install) from a URL."""
    body = await json_body(request, DownloadUrlBody, required=True)
    appliance = _appliance(request)
    job = appliance.download_from_url(body.firmware_url, upgrade=body.upgrade, force=body.force)
    return _accepted(job)


async def post_download_version(request: web.Request) -> web.Response:
    """POST /extrahop/firmware/download/version: download (and maybe install) from the cloud."""
    body = await json_body(request, DownloadVersionBody, required=True)
    appliance = _appliance(request)
    if body.version not in request.app[REGISTRY].available_versions:
        raise Refused(400, f"version {body.version} is not available from Cloud Services")
    return _accepted(
        appliance.start_download("download_version", body.version, upgrade=body.upgrade)
    )


async def get_next(request: web.Request) -> web.Response:
    """GET /extrahop/firmware/next: releases this appliance can upgrade to."""
    available = request.app[REGISTRY].available_versions
    return web.json_response(_appliance(request).firmware_next(available))


async def get_previous(request: web.Request) -> web.Response:
    """GET /extrahop/firmware/previous: the version a rollback would restore."""
    appliance = _appliance(request)
    if appliance.previous is None:
        raise Refused(404, "there is no previous firmware on this appliance")
    return web.json_response(
        {"version": appliance.previous, "backup_time": appliance.previous_time_ms}
    )


async def post_rollback(request: web.Request) -> web.Response:
    """POST /extrahop/firmware/previous/rollback: restart into the previous version (202)."""
    _appliance(request).rollback()
    return web.Response(status=202)


async def post_restart(request: web.Request) -> web.Response:
    """POST /extrahop/restart: restart now (activates firmware installed without restart)."""
    _appliance(request).restart_now()
    return web.Response(status=202)


# -- jobs and cluster ---------------------------------------------------------------------


def _jobs_of(request: web.Request) -> dict[str, Job]:
    appliance = _appliance(request)
    if appliance.spec.faults.no_job_location:
        raise Refused(404, f"{request.method} {request.path}: Not Found")
    return appliance.jobs


async def get_jobs(request: web.Request) -> web.Response:
    """GET /jobs: every job of this appliance."""
    return web.json_response([job.as_json() for job in _jobs_of(request).values()])


async def get_job(request: web.Request) -> web.Response:
    """GET /jobs/{id}."""
    job = _jobs_of(request).get(request.match_info["id"])
    if job is None:
        raise Refused(404, f"no job with id {request.match_info['id']}")
    return web.json_response(job.as_json())


def _cluster(request: web.Request) -> tuple[SimAppliance, Any]:
    appliance = _appliance(request)
    if appliance.cluster is None:
        raise Refused(404, "this appliance is not an Explore cluster node")
    return appliance, appliance.cluster


async def get_cluster(request: web.Request) -> web.Response:
    """GET /extrahop/cluster: the Explore cluster settings."""
    _, cluster = _cluster(request)
    return web.json_response({"ingest_enabled": cluster.ingest_enabled})


async def patch_cluster(request: web.Request) -> web.Response:
    """PATCH /extrahop/cluster: change ingest for the whole cluster, from any node."""
    appliance, _ = _cluster(request)
    body = await json_body(request, ClusterBody, required=True)
    if body.ingest_enabled is not None:
        appliance.change_ingest(enabled=body.ingest_enabled)
    return web.Response(status=204)


def create_app(registry: Registry) -> web.Application:
    """The aiohttp application serving every simulated appliance."""
    app = web.Application(middlewares=[_gate])
    app[REGISTRY] = registry
    api, fw = "/api/v1", "/api/v1/extrahop/firmware"
    app.router.add_get(f"{api}/extrahop", get_extrahop)
    app.router.add_get(f"{api}/extrahop/", get_extrahop)
    app.router.add_get(f"{api}/extrahop/version", get_version)
    app.router.add_get(f"{api}/extrahop/platform", get_platform)
    app.router.add_get(f"{api}/extrahop/edition", get_edition)
    app.router.add_post(f"{api}/extrahop/restart", post_restart)
    app.router.add_get(f"{api}/extrahop/cluster", get_cluster)
    app.router.add_patch(f"{api}/extrahop/cluster", patch_cluster)
    app.router.add_post(fw, post_firmware)
    app.router.add_post(f"{fw}/latest/upgrade", post_upgrade)
    app.router.add_post(f"{fw}/download/url", post_download_url)
    app.router.add_post(f"{fw}/download/version", post_download_version)
    app.router.add_get(f"{fw}/next", get_next)
    app.router.add_get(f"{fw}/previous", get_previous)
    app.router.add_post(f"{fw}/previous/rollback", post_rollback)
    app.router.add_get(f"{api}/jobs", get_jobs)
    app.router.add_get(f"{api}/jobs/{{id}}", get_job)
    app.router.add_get(f"{api}/appliances", get_appliances)
    app.router.add_get(f"{api}/appliances/{{id}}", get_appliance)
    app.router.add_get(f"{api}/appliances/firmware/next", get_console_next)
    app.router.add_post(f"{api}/appliances/firmware/upgrade", post_console_upgrade)
    add_snapshot_routes(app, _appliance)
    return app
