"""Fixtures for driving the simulator over real sockets."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from orchestrator.simulator import SimulatedFleet
from orchestrator.simulator.testing import Api, Start, fast_scenario, image_bytes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for the test."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def start(session: aiohttp.ClientSession) -> AsyncIterator[Start]:
    """A starter: serves a fast fleet with given appliances and scenario fields for the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def starter(
            *appliances: dict[str, Any],
            event_log: Path | None = None,
            tls: bool = False,
            **fields: object,
        ) -> Api:
            scenario = fast_scenario(*appliances, **fields)
            fleet = SimulatedFleet(scenario, event_log=event_log, tls=tls)
            await stack.enter_async_context(fleet)
            return Api(session, fleet)

        yield starter


@pytest.fixture
async def api(start: Start) -> Api:
    """One fast discover appliance, eda1 at 9.8.0.100."""
    return await start()


@pytest.fixture
def image() -> Callable[..., bytes]:
    """A factory of simulated firmware image bytes: (role, version, size)."""
    return image_bytes
