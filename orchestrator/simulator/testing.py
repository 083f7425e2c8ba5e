"""Helpers for tests that drive a simulated fleet over real sockets."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from orchestrator.core.models import FIRMWARE_MEDIA_TYPE
from orchestrator.simulator.images import image_header
from orchestrator.simulator.scenario import Scenario

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    import aiohttp

    from orchestrator.simulator.server import SimulatedFleet

FAST_TIMING: dict[str, Any] = {
    "upload_throughput": 0,
    "job_steps": 4,
    "job_duration": 100,  # 0.1 s wall at time_scale 0.001
    "download_duration": 50,  # 0.05 s
    "restart_downtime": 300,  # 0.3 s
}
ImageFactory: TypeAlias = "Callable[..., bytes]"  # image_bytes, as the `image` fixture


def fast_scenario(*appliances: dict[str, Any], **fields: Any) -> Scenario:  # noqa: ANN401
    """A scenario that runs in tenths of a second (default: one discover appliance, eda1)."""
    data: dict[str, Any] = {
        "time_scale": 0.001,
        "target_version": "9.9.1.100",
        "available_versions": ["9.9.1.100"],
        "defaults": FAST_TIMING,
    }
    data |= fields
    data["appliances"] = list(appliances) or [
        {"name": "eda1", "role": "discover", "version": "9.8.0.100"}
    ]
    return Scenario.model_validate(data)


def image_bytes(role: str = "discover", version: str = "9.9.1.100", size: int = 4096) -> bytes:
    """The bytes of a simulated firmware image."""
    header = image_header(role, version)
    return header + b"\0" * max(size - len(header), 0)


@dataclass
class Answer:
    """One HTTP answer, read completely."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:  # noqa: ANN401  (whatever the JSON holds)
        """The body parsed as JSON."""
        return json.loads(self.text)


@dataclass
class Api:
    """Sends requests to one fleet's appliances, with their own keys unless told otherwise."""

    session: aiohttp.ClientSession
    fleet: SimulatedFleet

    async def call(
        self,
        name: str,
        method: str,
        path: str,
        *,
        key: str | None = "",
        headers: dict[str, str] | None = None,
        **kwargs: Any,  # noqa: ANN401  (passed to aiohttp)
    ) -> Answer:
        """Send one request; key None sends no Authorization, "" the appliance's own key."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"ExtraHop apikey={key or self.fleet.api_key(name)}"
        if self.fleet.certificates is not None:  # a TLS fleet: trust its CA
            kwargs.setdefault("ssl", self.fleet.certificates.client_context())
        url = self.fleet.url(name) + path
        async with self.session.request(method, url, headers=sent, **kwargs) as response:
            return Answer(response.status, dict(response.headers), await response.text())

    async def upload(self, name: str, body: bytes) -> Answer:
        """POST /extrahop/firmware with `body` as the image."""
        headers = {"Content-Type": FIRMWARE_MEDIA_TYPE}
        data = io.BytesIO(body)
        return await self.call(
            name, "POST", "/api/v1/extrahop/firmware", headers=headers, data=data
        )

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until `condition()` holds (TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110  (polls the fleet's state, not a socket)
                await asyncio.sleep(0.01)


class Start(Protocol):
    """Serves a fast fleet with the given appliances and scenario fields; returns its Api."""

    def __call__(
        self,
        *appliances: dict[str, Any],
        event_log: Path | None = None,
        tls: bool = False,
        **fields: Any,  # noqa: ANN401  (scenario fields)
    ) -> Awaitable[Api]:
        """Start the fleet."""
