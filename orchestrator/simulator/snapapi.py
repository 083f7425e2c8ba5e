"""The simulator's routes for backups and health reads (`orchestrator.simulator.snapshots`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from orchestrator.simulator.bodies import CustomizationBody, json_body
from orchestrator.simulator.host import Refused
from orchestrator.simulator.snapshots import (
    EXBK_MEDIA_TYPE,
    create_backup,
    exbk_file,
    license_of,
    processes_of,
    running_config,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.simulator.fleet import SimAppliance

__all__ = ["add_snapshot_routes"]


def add_snapshot_routes(
    app: web.Application, appliance_of: Callable[[web.Request], SimAppliance]
) -> None:
    """Serve customizations, running config, processes and license on `app`."""

    async def post_customizations(request: web.Request) -> web.Response:
        body = await json_body(request, CustomizationBody, required=True)
        ident = create_backup(appliance_of(request), body.name)
        return web.Response(status=201, headers={"Location": f"/api/v1/customizations/{ident}"})

    async def post_download(request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if EXBK_MEDIA_TYPE not in accept:
            raise Refused(406, f"Accept must be {EXBK_MEDIA_TYPE}, not {accept or 'missing'}")
        data = exbk_file(appliance_of(request), request.match_info["id"])
        return web.Response(body=data, content_type=EXBK_MEDIA_TYPE)

    async def get_runningconfig(request: web.Request) -> web.Response:
        return web.json_response(running_config(appliance_of(request)))

    async def get_processes(request: web.Request) -> web.Response:
        return web.json_response(processes_of(appliance_of(request)))

    async def get_license(request: web.Request) -> web.Response:
        return web.json_response(license_of(appliance_of(request)))

    api = "/api/v1"
    app.router.add_post(f"{api}/customizations", post_customizations)
    app.router.add_post(f"{api}/customizations/{{id}}/download", post_download)
    app.router.add_get(f"{api}/runningconfig", get_runningconfig)
    app.router.add_get(f"{api}/extrahop/processes", get_processes)
    app.router.add_get(f"{api}/license", get_license)
