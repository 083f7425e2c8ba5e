"""The client's backup and health reads against an appliance that answers them badly.

A real server over a real socket, answering what the simulator never does: each bad answer is
one clear error naming the request, never a traceback or a wrong value taken as good.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from orchestrator.appliance.client import ApplianceClient, open_session
from orchestrator.core.config import Settings
from orchestrator.core.errors import TransportError
from orchestrator.core.models import Appliance, FileFirmware, Role

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

KEY = "k-misbehaving-0123456789"
SETTINGS = Settings(requests_per_second=1000, retry_attempts=1, retry_timeout=5)


async def _created_without_location(request: web.Request) -> web.Response:
    del request
    return web.Response(status=201)


async def _not_json(request: web.Request) -> web.Response:
    del request
    return web.Response(text="<html>maintenance</html>", content_type="text/html")


async def _an_object(request: web.Request) -> web.Response:
    del request
    return web.json_response({"processes": "all fine"})


async def _a_list(request: web.Request) -> web.Response:
    del request
    return web.json_response(["basic"])


@pytest.fixture
async def client() -> AsyncIterator[ApplianceClient]:
    """A client aimed at a server that answers the backup and health requests badly."""
    app = web.Application()
    app.router.add_post("/api/v1/customizations", _created_without_location)
    app.router.add_get("/api/v1/runningconfig", _not_json)
    app.router.add_get("/api/v1/extrahop/processes", _an_object)
    app.router.add_get("/api/v1/license", _a_list)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    appliance = Appliance(
        name="eda1",
        url=f"http://127.0.0.1:{site.port}",
        role=Role.DISCOVER,
        firmware=FileFirmware(file=Path("eda.tar")),
        api_key=SecretStr(KEY),
    )
    try:
        async with open_session(SETTINGS) as session:
            yield ApplianceClient(session, appliance, SETTINGS)
    finally:
        await runner.cleanup()


CASES = [
    pytest.param(lambda c: c.create_backup("x"), "POST /api/v1/customizations", id="no-location"),
    pytest.param(lambda c: c.get_running_config(), "GET /api/v1/runningconfig", id="config"),
    pytest.param(lambda c: c.get_processes(), "GET /api/v1/extrahop/processes", id="processes"),
    pytest.param(lambda c: c.get_license(), "GET /api/v1/license", id="license"),
]


@pytest.mark.parametrize(("call", "request_text"), CASES)
async def test_a_bad_answer_is_one_error_naming_the_request(
    client: ApplianceClient,
    call: Callable[[ApplianceClient], Awaitable[Any]],
    request_text: str,
) -> None:
    """A 201 with no Location, HTML for JSON, an object for a list: one error naming it."""
    with pytest.raises(TransportError) as caught:
        await call(client)
    message = str(caught.value)
    assert message.startswith("eda1: ")
    assert request_text in message
    assert "\n" not in message
    assert KEY not in message
